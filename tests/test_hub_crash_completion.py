"""The hub SIGKILLed at every step of finishing an upload, then simply restarted.

For each point in hub.crashpoints.POINTS a real `motcua hub serve` runs with
MOTCUA_HUB_CRASH_AT set and dies (SIGKILL, like `kill -9`) while it finishes the
upload of a desk's sealed dossier. The hub is restarted on the same data and
port, and the desk just syncs again — no officer action. The dossier must then
be committed exactly once, with a receipt, nothing in the rejected lane, the
stored object intact, and only the last chunk (at most) sent again: never the
whole file. Run on SQLite + files and on PostgreSQL + SeaweedFS (S3).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from agent.context import AgentContext
from agent.delivery.enrolment import enrol
from agent.sealing.seal import seal_all
from agent.delivery.sync import sync_once
from hub.crashpoints import ENV, POINTS

from .conftest import SITE, HubProcess
from .fixtures_servers import *  # noqa: F401,F403
from .fixtures_servers import quick_dossier

pytestmark = pytest.mark.timeout(300)
SIZE = 400_000  # several chunks at the agent's starting chunk size (16 KiB, growing)


@pytest.fixture(params=["sqlite+files", "postgresql+s3"])
def hub_env(request, monkeypatch) -> dict[str, str]:
    if request.param == "sqlite+files":
        return {}
    env = {"MOTCUA_HUB_DATABASE_URL": request.getfixturevalue("pg_url"),
           "MOTCUA_HUB_OBJECT_STORE": request.getfixturevalue("s3_url")}
    for name, value in env.items():  # for `motcua hub token` (HubProcess.token)
        monkeypatch.setenv(name, value)
    return env


def _committed_rows(hub: HubProcess, env: dict[str, str]) -> list[tuple]:
    sql = "SELECT dossier_id, hub_sequence FROM dossiers"
    if not env:
        return hub.sql(sql)
    import psycopg

    with psycopg.connect(env["MOTCUA_HUB_DATABASE_URL"]) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.parametrize("point", POINTS)
def test_hub_killed_while_finishing_an_upload_recovers_without_officer_or_full_reupload(point, hub_env, tmp_path):
    data = tmp_path / "hub"
    dying = HubProcess(data, extra_env={**hub_env, ENV: point}).start()
    ctx = AgentContext.open(tmp_path / "desk")
    try:
        enrol(ctx, dying.url, dying.token(), SITE)
        quick_dossier(ctx, size=SIZE)
        seal_all(ctx)
        [dossier] = ctx.outbox.deliverable()
        [doc] = ctx.outbox.documents(dossier.id)
        assert doc.size > 3 * 64 * 1024

        first = sync_once(ctx)
        assert dying.proc.wait(timeout=60) == -9, f"the hub did not reach crash point {point}"
        assert not first.complete and first.committed == [] and first.rejected == []

        hub = HubProcess(data, port=dying.port, extra_env=hub_env).start()  # same data, same address
        try:
            second = sync_once(ctx)
            assert second.complete, second.to_json()
            assert second.committed == [dossier.code] and second.rejected == []
            # at most the last chunk again (crash before the completion was recorded), or nothing: the resume
            # starts at the hub's durable offset, past the first chunks (chunks grow, so the last may be big)
            resumed = second.resumed_from.get(dossier.code, 0)
            assert second.bytes_sent == 0 or (resumed > 0 and second.bytes_sent == doc.size - resumed), \
                second.to_json()
            if point == "upload_recorded":
                assert second.bytes_sent == 0  # the hub already owned the object
            assert [d.state for d in ctx.outbox.list()] in (["committed"], ["purged"])  # purged: receipt held
            rows = _committed_rows(hub, hub_env)
            assert [r[0] for r in rows] == [dossier.id]
            assert "Traceback" not in hub.log_text()
        finally:
            hub.stop()
    finally:
        ctx.close()
        dying.stop()
