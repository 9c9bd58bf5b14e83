"""`python -m gate.render_server PROGRAM_ROOT`: the warm render server (see `gate.runtime.serve`).
`python -m gate.render_server --once`: one request on stdin, its answer on stdout, in this process
with nothing preloaded (see `gate.runtime.main`): what the warm server's renders must equal.

Its own entry point so that the cycle collector is off before the first import: each collection
walks every object alive, and loading Pulumi and the provider SDK makes most of them (imports and
preload: 3.4 s with the collector on, 1.8 s off; see `gate.runtime.without_cycle_collection`). The
server then only reads requests and forks; each render runs in a child, which never turns it back on.
"""

import gc

gc.disable()

import sys
from pathlib import Path

from gate.runtime import main, serve

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m gate.render_server PROGRAM_ROOT | --once")
    sys.exit(main() if sys.argv[1] == "--once" else serve(Path(sys.argv[1])))
