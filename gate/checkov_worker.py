"""checkov, imported before its templates exist: run by `.venv-checkov/bin/python`, never by the gate's.

Importing checkov is most of its run time, so the gate starts this while the stacks render. It
waits for one line on stdin, checkov's arguments as a JSON list, then runs exactly what the
`checkov` command runs (`Checkov().run()`, its warnings filter included) and exits with its code.
An empty line or end of input (the gate failed before scanning) exits 0 without scanning.
Standard library and checkov only: this file runs in checkov's own environment.
"""

import gc

# Off before checkov loads: its imports and its one scan leave few cycles, and collecting walks
# every object alive (the scan's report is the same either way; 6.2 s to 5.3 s on this machine).
gc.disable()

import json
import sys
import warnings


def main() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SyntaxWarning)
        from checkov.main import Checkov

        line = sys.stdin.readline().strip()
        if not line:
            return 0
        argv = json.loads(line)
        sys.argv = ["checkov", *argv]
        return Checkov(argv=argv).run() or 0


if __name__ == "__main__":
    sys.exit(main())
