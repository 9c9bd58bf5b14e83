"""What every command-line tool of the project shares: exit codes and errors, input files read
defensively, output destinations checked before work starts, and child processes that die with
their parent."""
