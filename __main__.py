"""continuity: one stack is one region of the DR-ready data platform (see README.md)."""

from components.program import main

main()
