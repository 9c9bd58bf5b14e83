"""Microsoft's Kusto language service (npm @kusto/language-service-next, set up by bin/setup in
tests/kusto), driven from the tests: parse and analyse KQL against the workspace tables as Azure
Monitor's table reference declares them (tests/kusto/workspace-tables.json)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

KUSTO = Path(__file__).resolve().parent / "kusto"


def declared_tables() -> dict[str, dict]:
    return json.loads((KUSTO / "workspace-tables.json").read_text())["tables"]


def analyse(queries: dict[str, str], tables: dict | None = None) -> dict[str, list[dict]]:
    """Diagnostics per query, from the language service (errors and warnings alike)."""
    node = shutil.which("node")
    assert node and (KUSTO / "node_modules").is_dir(), "run bin/setup: it installs the Kusto language service"
    if tables is None:
        tables = {name: table["columns"] for name, table in declared_tables().items()}
    done = subprocess.run(
        [node, str(KUSTO / "analyse.js")],
        input=json.dumps({"tables": tables, "queries": queries}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, list[dict]] = json.loads(done.stdout)
    return result
