"""`python -m drill restore` wiring: which stack it reads, where the disposable server goes, what it
sweeps first. Azure, Pulumi and the check itself are replaced at their seams (their own behaviour
is tested in test_azure_restore.py and test_restore_run.py)."""

from __future__ import annotations

from typing import ClassVar

import pytest

from cli.exits import Exit, run
from drill import __main__ as drill_main
from drill.azure_restore import LEDGER_FILE, Ledger

SUBSCRIPTION = "ffffffff-ffff-ffff-ffff-ffffffffffff"


def outputs(stack: str, region: str) -> dict:
    group = f"rg-cty-{stack}"
    return {
        "resourceGroupName": group,
        "region": region,
        "backupVaultId": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/"
        f"Microsoft.DataProtection/backupVaults/bvault-{stack}",
        "restoreContainerUrl": f"https://stctyltr{stack}.blob.core.windows.net/ltr-restores",
        "network": {"virtualNetworkId": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/vnet-{stack}"},
        "servers": {
            key: {
                "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/"
                f"Microsoft.DBforPostgreSQL/flexibleServers/psql-{key}-{stack}"
            }
            for key in ("knowledge", "operational")
        },
    }


class Recorder:
    """Stands in for VaultRestorer (sweeps) and RestoreCheckRun (the check), keeping what they got."""

    refused: ClassVar[list[str]] = []
    leftovers_seen: ClassVar[list] = []
    setups: ClassVar[list] = []
    vaults: ClassVar[list] = []

    def __init__(self, *args, **kwargs):
        if len(args) == 4:  # RestoreCheckRun(record, folder, setup, restorer)
            self.record, _, setup, _ = args
            Recorder.setups.append((self.record, setup))
        else:  # VaultRestorer(vault, dsn=...)
            Recorder.vaults.append((args[0], kwargs["dsn"]))

    def leftovers(self, placement, ledger):
        Recorder.leftovers_seen.append(placement)
        return ledger

    def remove(self, ledger):
        return list(Recorder.refused)

    def run(self):
        self.record.verdict = "pass"
        return self.record


@pytest.fixture
def seams(monkeypatch, tmp_path):
    Recorder.refused, Recorder.leftovers_seen, Recorder.setups, Recorder.vaults = [], [], [], []
    stacks = {"prod": outputs("prod", "australiaeast"), "dr": outputs("dr", "australiasoutheast")}
    monkeypatch.setattr(drill_main, "require_pulumi_cli", lambda: None)
    monkeypatch.setattr(drill_main, "stack_outputs", lambda stack: stacks[stack])
    monkeypatch.setattr(drill_main, "VaultRestorer", Recorder)
    monkeypatch.setattr(drill_main, "RestoreCheckRun", Recorder)
    monkeypatch.setattr(drill_main, "DRILLS_DIR", tmp_path / "drills")
    monkeypatch.setattr(drill_main, "markdown", lambda record: f"verdict {record.verdict}")
    monkeypatch.setenv("CONTINUITY_DRILL_WRITER_DSN", "host=knowledge.writer.continuity.internal user=admin")
    monkeypatch.setenv("CONTINUITY_DRILL_PASSWORD", "not-printed")
    return tmp_path


def drill(*argv: str) -> int:
    return run("drill", drill_main.main, list(argv))


def test_a_point_in_time_check_restores_beside_the_writers_server(seams, capsys):
    assert drill("restore", "--kind", "pitr", "--database", "operational") == Exit.OK
    ((record, setup),) = Recorder.setups
    assert setup.source.name == "psql-operational-prod" and setup.source.subscription_id == SUBSCRIPTION
    assert (setup.placement.resource_group, setup.placement.location) == ("rg-cty-prod", "australiaeast")
    assert setup.placement.virtual_network_id.endswith("/vnet-prod")
    assert (record.scenario, record.control_plane, record.standby["stack"]) == ("pitr", "azure", "prod")
    assert setup.rto_seconds == drill_main.stack_settings("prod").databases["operational"].rto.seconds
    assert Recorder.leftovers_seen == [setup.placement], "swept where the check is about to go"
    assert "not-printed" not in capsys.readouterr().out


def test_a_geo_check_goes_to_the_peer_stacks_region(seams):
    assert drill("restore", "--kind", "geo") == Exit.OK
    ((record, setup),) = Recorder.setups
    assert setup.source.name == "psql-knowledge-prod"
    assert (setup.placement.resource_group, setup.placement.location) == ("rg-cty-dr", "australiasoutheast")
    assert (record.scenario, record.standby["stack"], record.standby["region"]) == (
        "geo",
        "dr",
        "australiasoutheast",
    )
    assert setup.to is None


def test_a_vault_check_restores_the_writers_backups_beside_its_server(seams):
    assert drill("restore", "--kind", "vault", "--to", "2026-11-22T03:00:00Z") == Exit.OK
    ((record, setup),) = Recorder.setups
    ((vault, dsn),) = Recorder.vaults
    assert vault.vault_id.endswith("/backupVaults/bvault-prod") and vault.vault[2] == "bvault-prod"
    assert vault.container_url == "https://stctyltrprod.blob.core.windows.net/ltr-restores"
    assert vault.databases == ("knowledge",), "every database the server holds is loaded"
    assert dsn == "host=knowledge.writer.continuity.internal user=admin"
    assert (setup.placement.resource_group, record.scenario) == ("rg-cty-prod", "vault")
    assert setup.to.isoformat() == "2026-11-22T03:00:00+00:00"


def test_a_pitr_check_needs_no_vault(seams):
    assert drill("restore", "--kind", "pitr") == Exit.OK
    assert Recorder.vaults == [(None, "host=knowledge.writer.continuity.internal user=admin")]


def test_a_stack_without_the_staging_container_is_a_usage_error(seams, monkeypatch, capsys):
    stack = outputs("prod", "australiaeast")
    del stack["restoreContainerUrl"]
    monkeypatch.setattr(drill_main, "stack_outputs", lambda name: stack)
    assert drill("restore", "--kind", "vault") == Exit.USAGE
    assert "lack 'restoreContainerUrl'" in capsys.readouterr().err


def test_leftovers_azure_will_not_delete_stop_the_check_before_it_starts(seams, capsys):
    ledger = Ledger(seams / "drills" / "20261101T030000Z-pitr-knowledge" / LEDGER_FILE)
    ledger.will_create("server", f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/x/rc-old")
    Recorder.refused = ["/subscriptions/x/rc-old: the server is busy"]
    assert drill("restore", "--kind", "pitr") == Exit.FAILED
    assert Recorder.setups == []
    err = capsys.readouterr().err
    assert "left servers that could not be deleted" in err and "rc-old: the server is busy" in err


def test_without_the_writer_name_the_check_says_what_to_set(seams, monkeypatch, capsys):
    monkeypatch.delenv("CONTINUITY_DRILL_WRITER_DSN")
    assert drill("restore", "--kind", "pitr") == Exit.USAGE
    assert "set CONTINUITY_DRILL_WRITER_DSN" in capsys.readouterr().err


def test_a_stack_without_the_server_is_a_usage_error(seams, monkeypatch, capsys):
    monkeypatch.setattr(drill_main, "stack_outputs", lambda stack: {"servers": {}})
    assert drill("restore", "--kind", "pitr") == Exit.USAGE
    assert "stack prod exports no server knowledge" in capsys.readouterr().err
