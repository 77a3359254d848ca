"""`motcua hub backup` while the hub serves, `motcua hub restore` into a new machine: the restored hub
knows every dossier, holds every object and signs with the same key (agents' pins still hold)."""
from __future__ import annotations

import json
from pathlib import Path

from agent.sealing.at_rest import manifest_for_transport
from agent.delivery.hub_client import HubClient
from agent.sealing.seal import seal_all
from agent.delivery.sync import sync_once
from agent.context import AgentContext
from agent.delivery.enrolment import enrol

from .conftest import SITE, HubProcess, run_motcua
from .fixtures_servers import *  # noqa: F401,F403
from .fixtures_servers import quick_dossier


def _committed(agent, n: int = 2) -> list:
    for _ in range(n):
        quick_dossier(agent)
    seal_all(agent)
    dossiers = agent.outbox.deliverable()
    report = sync_once(agent)
    assert len(report.committed) == n, report.to_json()
    return dossiers


def test_backup_of_a_running_hub_restores_on_a_new_machine(hub, agent, tmp_path):
    dossiers = _committed(agent)
    backup_dir = tmp_path / "backup"
    made = run_motcua("hub", "backup", "--data", str(hub.data_dir), str(backup_dir), "--json")
    assert made.returncode == 0, made.stderr
    summary = json.loads(made.stdout)
    assert summary["dossiers"] == 2 and summary["objects"] >= 2
    assert (backup_dir / "keys" / "hub_key.pem").stat().st_mode & 0o777 == 0o600

    # a desk keeps working after the backup; its half-finished upload is not in the backup
    hub.stop()
    restored_dir = tmp_path / "new-machine"
    restored = run_motcua("hub", "restore", "--data", str(restored_dir), str(backup_dir), "--json")
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["restored_objects"] == summary["objects"]

    new_hub = HubProcess(restored_dir).start()
    try:
        client = HubClient(new_hub.url, agent.device_key)
        for dossier in dossiers:
            stored = json.loads(agent.outbox.get(dossier.id).receipt)
            # committing again is a replay: the restored hub returns the very receipt it signed before
            assert client.commit(*manifest_for_transport(dossier.signed_manifest)) == stored
            assert client.dossier_status(dossier.id)["hub_sequence"] == agent.outbox.get(dossier.id).hub_sequence
        assert client.hello()["hub_key_id"] == agent.config.hub_key_id
        client.close()
    finally:
        new_hub.stop()


def test_restore_refuses_to_overwrite_a_hub_or_use_a_damaged_backup(hub, agent, tmp_path):
    _committed(agent, 1)
    backup_dir = tmp_path / "backup"
    assert run_motcua("hub", "backup", "--data", str(hub.data_dir), str(backup_dir)).returncode == 0

    again = run_motcua("hub", "backup", "--data", str(hub.data_dir), str(backup_dir))
    assert again.returncode == 1 and "đã có dữ liệu" in again.stderr and "not empty" in again.stderr

    over = run_motcua("hub", "restore", "--data", str(hub.data_dir), str(backup_dir))
    assert over.returncode == 1 and "--force" in over.stderr and "Traceback" not in over.stderr

    victim = next(p for p in (backup_dir / "objects").rglob("*") if p.is_file() and p.parent.name != "tmp")
    victim.write_bytes(b"bit rot")
    target = tmp_path / "target"
    damaged = run_motcua("hub", "restore", "--data", str(target), str(backup_dir))
    assert damaged.returncode == 1 and "bị hỏng" in damaged.stderr and "damaged" in damaged.stderr
    assert not (target / "hub.db").exists()  # nothing was restored

    not_a_backup = run_motcua("hub", "restore", "--data", str(target), str(tmp_path))
    assert not_a_backup.returncode == 1 and "backup.json" in not_a_backup.stderr


def test_postgresql_hub_whose_database_is_unreachable_gets_a_clear_message(tmp_path: Path):
    result = run_motcua("hub", "backup", "--data", str(tmp_path / "hub"), str(tmp_path / "b"),
                        env={"MOTCUA_HUB_DATABASE_URL": "postgresql://motcua@db.invalid/motcua"})
    assert result.returncode == 1 and "Cannot reach the hub's database" in result.stderr
    assert "Traceback" not in result.stderr


def test_postgresql_and_s3_hub_backup_restores_into_a_new_database_and_bucket(
        tmp_path, pg_url, s3_url, postgres_server, s3_server, monkeypatch):
    """pg_dump + object inventory while the hub serves; restore into a fresh database and bucket;
    the restored hub knows every dossier, holds every object and signs with the same key."""
    env = {"MOTCUA_HUB_DATABASE_URL": pg_url, "MOTCUA_HUB_OBJECT_STORE": s3_url}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    hub = HubProcess(tmp_path / "hub", extra_env=env).start()
    agent = AgentContext.open(tmp_path / "desk")
    try:
        enrol(agent, hub.url, hub.token(), SITE)
        dossiers = _committed(agent)
        backup_dir = tmp_path / "backup"
        made = run_motcua("hub", "backup", "--data", str(hub.data_dir), str(backup_dir), "--json", env=env)
        assert made.returncode == 0, made.stderr
        summary = json.loads(made.stdout)
        assert summary["database"] == "postgresql" and summary["dossiers"] == 2 and summary["objects"] >= 2
        assert len((backup_dir / "inventory.txt").read_text().split("\n")) == summary["objects"] + 1
        hub.stop()

        new_env = {"MOTCUA_HUB_DATABASE_URL": postgres_server.create_database(),
                   "MOTCUA_HUB_OBJECT_STORE": s3_server.create_bucket(prefix="restored")}
        restore = ["hub", "restore", "--data", str(tmp_path / "new"), str(backup_dir), "--json"]
        restored = run_motcua(*restore, env=new_env)
        assert restored.returncode == 0, restored.stderr
        assert json.loads(restored.stdout)["restored_objects"] == summary["objects"]
        again = run_motcua(*restore, env=new_env)  # the target now holds a hub: refused without --force
        assert again.returncode == 1 and "already holds a hub" in again.stderr

        new_hub = HubProcess(tmp_path / "new", extra_env=new_env).start()
        try:
            client = HubClient(new_hub.url, agent.device_key)
            for dossier in dossiers:
                stored = json.loads(agent.outbox.get(dossier.id).receipt)
                assert client.commit(*manifest_for_transport(dossier.signed_manifest)) == stored
            assert client.hello()["hub_key_id"] == agent.config.hub_key_id
            client.close()
        finally:
            new_hub.stop()
    finally:
        agent.close()
        hub.stop()
