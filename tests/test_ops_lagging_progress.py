"""Operations: "which commune hasn't synced in 2 days?" and progress output of long commands."""
from __future__ import annotations

import json
import logging
import sqlite3
import time

from agent.context import AgentContext
from agent.delivery.enrolment import enrol
from agent.cli.progress import progress_reporter, sync_progress
from agent.sealing.seal import seal_all

from .conftest import SITE, run_motcua
from .fixtures_servers import quick_dossier

OTHER = "UBND xã Vùng Sâu"


def _age_device(hub, device_id: str, days: float) -> None:
    conn = sqlite3.connect(hub.data_dir / "hub.db")
    with conn:
        conn.execute("UPDATE devices SET last_seen_at=? WHERE device_id=?", (int(time.time() - days * 86400), device_id))
    conn.close()


def test_hub_lagging_lists_sites_silent_for_longer_than_the_threshold(hub, agent, tmp_path):
    remote = AgentContext.open(tmp_path / "remote")
    enrol(remote, hub.url, hub.token(site=OTHER), OTHER)
    _age_device(hub, remote.config.device_id, 3)
    _age_device(hub, agent.config.device_id, 0.1)

    result = run_motcua("hub", "lagging", "--days", "2", "--json", "--data", str(hub.data_dir))
    assert result.returncode == 1, result.stderr  # non-zero: someone is behind (for cron/monitoring)
    [site] = json.loads(result.stdout)
    assert site["site"] == OTHER and site["silent_seconds"] >= 3 * 86400 - 60
    assert [d["device_id"] for d in site["devices"]] == [remote.config.device_id]

    table = run_motcua("hub", "lagging", "--days", "2", "--data", str(hub.data_dir))
    assert OTHER in table.stdout and SITE not in table.stdout and "ngày/days" in table.stdout

    fine = run_motcua("hub", "lagging", "--days", "5", "--data", str(hub.data_dir))
    assert fine.returncode == 0 and "Mọi điểm đều đã đồng bộ" in fine.stdout
    remote.close()


def test_revoked_desks_are_not_reported_as_lagging(hub, agent):
    _age_device(hub, agent.config.device_id, 10)
    assert run_motcua("hub", "lagging", "--data", str(hub.data_dir)).returncode == 1
    run_motcua("hub", "revoke", agent.config.device_id, "--reason", "thay máy", "--data", str(hub.data_dir))
    assert run_motcua("hub", "lagging", "--data", str(hub.data_dir)).returncode == 0


def test_progress_logs_plain_lines_when_not_on_a_terminal(caplog):
    caplog.set_level(logging.INFO, logger="motcua.progress")
    with progress_reporter("import", total=3, force="log", every_seconds=0) as report:
        for n in range(1, 4):
            report(n, 3)
    lines = [r.getMessage() for r in caplog.records if r.name == "motcua.progress"]
    assert lines[-1] == "progress op=import done=3 total=3 unit=it pct=100"
    assert all(line.startswith("progress op=import ") for line in lines)


def test_progress_draws_a_bar_on_a_terminal(capsys):
    with progress_reporter("bundle", total=4, force="bar") as report:
        report(2, 4)
        report(4, 4)
    err = capsys.readouterr().err
    assert "bundle" in err and "4/4" in err


def test_sync_progress_counts_bytes_of_the_whole_queue(hub, agent, caplog):
    for _ in range(2):
        quick_dossier(agent)
    seal_all(agent)
    total = sum(d.size_bytes for d in agent.outbox.deliverable())
    caplog.set_level(logging.INFO, logger="motcua.progress")
    from agent.delivery.sync import sync_once

    with sync_progress(agent, force="log") as on_progress:
        report = sync_once(agent, on_progress)
    assert len(report.committed) == 2
    last = [r.getMessage() for r in caplog.records if r.name == "motcua.progress"][-1]
    assert f"total={total}" in last and "op=sync" in last


def test_motcua_sync_prints_progress_lines_to_stderr_when_piped(hub, agent, agent_home):
    quick_dossier(agent)
    seal_all(agent)
    agent.close()
    result = run_motcua("sync", "--json", home=agent_home)
    assert result.returncode == 0, result.stderr
    assert "progress op=sync" in result.stderr and "pct=100" in result.stderr
    assert json.loads(result.stdout)["committed"]  # stdout stays one JSON document
