"""The writer name in drills: preflight checks it, the RTO is measured through it, and writes it
sends to a server other than the promoted one are caught and fail the drill.

Against a real primary and standby on loopback; the writer name is the local stand-in (libpq
multi-host with target_session_attrs=read-write, drill.localpg.LocalCluster.writer_dsn).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from drill.localpg import LocalCluster, _free_port
from drill.preflight import Check, writer_check
from drill.probes import (
    FirstWrite,
    HeartbeatWriter,
    address,
    first_acknowledged_write,
    read_heartbeats,
)
from drill.record import DrillRecord
from drill.report import judge, markdown
from pg_fixtures import require_postgres


@dataclass
class Observed:
    cluster: LocalCluster
    before_on_writer: Check
    before_on_standby: Check
    on_nothing: Check
    first: FirstWrite
    on_old_primary: list[int]
    on_promoted: list[int]
    writer_address: str


@pytest.fixture(scope="module")
def unfenced_promotion():
    """Promote the standby while the old primary still accepts writes; fence it half a second later.

    The writer stand-in tries the old primary first, so until the fence it is what answers: the
    probe's first acknowledgements are on the wrong server, as an unfenced planned drill's would be.
    """
    require_postgres()
    with LocalCluster() as cluster:
        password = cluster.password
        with HeartbeatWriter(cluster.primary_dsn, password) as writer:
            writer.ensure_table()
            writer.write()
        cluster.wait_caught_up(timeout=30)
        before_on_writer = writer_check(cluster.writer_dsn, password)
        before_on_standby = writer_check(cluster.standby_dsn, password)
        on_nothing = writer_check(f"host=127.0.0.1 port={_free_port()} dbname=postgres user=drill", password)
        cluster.promote_standby(wait=True, timeout=30)
        fence = threading.Timer(0.5, cluster.fence_primary)
        fence.start()
        try:
            first = first_acknowledged_write(
                cluster.writer_dsn, password, landed_on=cluster.standby_dsn, timeout=30, interval=0.05
            )
        finally:
            fence.join()
        yield Observed(
            cluster,
            before_on_writer,
            before_on_standby,
            on_nothing,
            first,
            on_old_primary=[
                seq for seq, _ in read_heartbeats(cluster.primary_dsn, password, writer="rto-probe")
            ],
            on_promoted=[
                seq for seq, _ in read_heartbeats(cluster.standby_dsn, password, writer="rto-probe")
            ],
            writer_address=address(cluster.writer_dsn),
        )


def test_preflight_passes_a_writer_name_that_leads_to_the_primary(unfenced_promotion):
    check = unfenced_promotion.before_on_writer
    assert check.ok and check.detail.endswith("accepts writes")


def test_preflight_fails_a_writer_name_that_leads_to_a_replica(unfenced_promotion):
    check = unfenced_promotion.before_on_standby
    assert not check.ok and check.detail.endswith("leads to a server in recovery")


def test_preflight_fails_a_writer_name_nothing_answers(unfenced_promotion):
    check = unfenced_promotion.on_nothing
    assert not check.ok and check.detail.startswith("cannot connect through host=127.0.0.1 port=")


def test_writes_the_old_primary_took_are_reported_not_counted_as_the_end_of_the_rto(unfenced_promotion):
    first, seen = unfenced_promotion.first, unfenced_promotion
    elsewhere = [ack.seq for ack in first.elsewhere]
    assert elsewhere, "the unfenced old primary answered first: its acknowledgements must be caught"
    # They are on the old primary and not on the promoted server; the counted write is the reverse.
    assert set(elsewhere) <= set(seen.on_old_primary) and not set(elsewhere) & set(seen.on_promoted)
    assert first.ack.seq in seen.on_promoted and first.ack.seq not in seen.on_old_primary
    assert all(ack.acked_at <= first.ack.acked_at for ack in first.elsewhere)


def test_the_stand_in_names_both_servers(unfenced_promotion):
    hosts, ports = unfenced_promotion.writer_address.split(" ")
    assert hosts == "host=127.0.0.1,127.0.0.1" and len(ports.removeprefix("port=").split(",")) == 2


def _record(**integrity) -> DrillRecord:
    record = DrillRecord(
        drill_id="20261127T000000Z-planned-knowledge",
        scenario="planned",
        database="knowledge",
        primary={"stack": "prod", "region": "australiaeast"},
        standby={"stack": "dr", "region": "australiasoutheast", "writer": "host=w"},
        git_commit="x",
        versions={},
        control_plane="local",
    )
    record.rto.target_seconds, record.rto.measured_seconds = 3600.0, 10.0
    record.rpo.target_seconds, record.rpo.measured_seconds = 900.0, 0.0
    record.integrity = {"differences": [], "after": [{}], **integrity}
    return record


def test_a_write_acknowledged_elsewhere_fails_a_drill_that_met_its_targets():
    assert judge(_record(writes_elsewhere=[])) == "pass"
    failed = _record(
        writes_elsewhere=[
            {"seq": 1, "committed_at": "2026-11-27T00:00:01+00:00", "acked_at": "2026-11-27T00:00:01+00:00"}
        ]
    )
    failed.verdict = judge(failed)
    assert failed.verdict == "fail"
    report = markdown(failed)
    assert (
        "1 write(s) through the writer name were acknowledged by a server other than the promoted one"
        in report
    )
    assert "Writer name measured: host=w." in report


def test_the_probe_gives_up_when_every_write_lands_elsewhere(unfenced_promotion):
    # A name that never moves: writes reach the promoted server, but the probe is told the promoted
    # server is the old primary, where nothing it writes arrives any more. It must not call any of
    # them the end of the RTO, and must stop at its deadline.
    cluster = unfenced_promotion.cluster
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="acknowledged by a server other than the promoted one"):
        first_acknowledged_write(
            cluster.standby_dsn, cluster.password, landed_on=cluster.primary_dsn, timeout=0.5, interval=0.05
        )
    assert time.monotonic() - started < 5
