"""What an administrator does to deploy the hub as several instances, done here as they would do it.

`motcua hub migrate` before starting (safe twice, refuses a newer database),
the `motcua-hub@.service` template unit (instance = port) accepted by systemd,
and instances on separate data directories signing with the same hub keys read
from one key file path — a missing key file stops the instance with a message
instead of quietly making a key the agents never pinned.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import requests

from agent.ops.service import motcua_command, templates_dir
from hub.storage.metadata import SCHEMA_VERSION

from .conftest import ROOT, HubProcess, run_motcua
from .fixtures_servers import *  # noqa: F401,F403
from .fixtures_servers import free_port

pytestmark = pytest.mark.timeout(180)


def _migrate(*args: str) -> subprocess.CompletedProcess:
    return run_motcua("hub", "migrate", "--json", *args)


def test_migrate_is_explicit_idempotent_and_refuses_a_newer_database(tmp_path, pg_url):
    for where in (["--data", str(tmp_path / "hub")], ["--data", str(tmp_path / "pg"), "--database-url", pg_url]):
        first = _migrate(*where)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout) == {"schema_before": 0, "schema_now": SCHEMA_VERSION, "changed": True}
        again = _migrate(*where)
        assert json.loads(again.stdout) == {"schema_before": SCHEMA_VERSION, "schema_now": SCHEMA_VERSION,
                                            "changed": False}
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version=%s", (SCHEMA_VERSION + 1,))
    newer = _migrate("--data", str(tmp_path / "pg"), "--database-url", pg_url)
    assert newer.returncode != 0 and "Traceback" not in newer.stderr
    assert "newer than this hub" in newer.stderr and "nâng cấp" in newer.stderr.lower()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not available")
def test_template_unit_runs_one_instance_per_port_and_passes_systemd_analyze(tmp_path):
    text = (templates_dir() / "motcua-hub@.service").read_text("utf-8")
    for placeholder, value in {"@MOTCUA@": motcua_command(), "@DATA@": "/var/lib/motcua-hub", "@USER@": "motcua",
                               "@STATE_NAME@": "motcua-hub"}.items():
        text = text.replace(placeholder, value)
    (tmp_path / "motcua-hub@.service").write_text(text)
    checked = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "motcua-hub@8471.service")],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and not checked.stderr.strip(), checked.stdout + checked.stderr
    settings = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    assert "--port %i" in settings["ExecStart"] and "Environment=MOTCUA_HUB_DATA=/var/lib/motcua-hub/%i" in text
    assert settings["Restart"] == "on-failure" and settings["ProtectSystem"] == "strict"


def test_instances_on_separate_data_directories_share_the_hub_keys_from_one_path(tmp_path):
    keys = tmp_path / "keys"  # as an admin makes them: the key files of a first hub, kept as a secret
    first = HubProcess(tmp_path / "first").start()
    first.stop()
    keys.mkdir()
    for name in ("hub_key.pem", "hub_x25519.pem"):
        shutil.copy(tmp_path / "first" / name, keys / name)
    env = {"MOTCUA_HUB_KEY_FILE": str(keys / "hub_key.pem"), "MOTCUA_HUB_ENCRYPTION_KEY_FILE": str(keys / "hub_x25519.pem")}
    hubs = [HubProcess(tmp_path / f"instance{n}", extra_env=env).start() for n in range(2)]
    try:
        hellos = [requests.get(h.url + "/v1/hello", timeout=10).json() for h in hubs]
        assert hellos[0]["hub_key_id"] == hellos[1]["hub_key_id"]
        assert hellos[0]["hub_encryption_key_id"] == hellos[1]["hub_encryption_key_id"]
        assert not (tmp_path / "instance0" / "hub_key.pem").exists()  # no private copy made
    finally:
        for h in hubs:
            h.stop()
    missing = subprocess.run([sys.executable, "-m", "agent.cli", "hub", "serve", "--data", str(tmp_path / "x"),
                              "--port", str(free_port())], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env={**__import__("os").environ, "MOTCUA_HUB_KEY_FILE": str(keys / "typo.pem")})
    assert missing.returncode != 0 and "typo.pem does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
