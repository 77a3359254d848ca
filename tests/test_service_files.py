"""Service definitions: the systemd units pass `systemd-analyze verify`, the WinSW XML is well formed,
and `motcua service install` writes the right file with this machine's command filled in."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agent.ops.service import render_service

from .conftest import run_motcua

ROOT = Path(__file__).resolve().parent.parent


def _verify(unit: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)


def _install(tmp_path: Path, *args: str) -> dict:
    result = run_motcua("service", "install", "--dest", str(tmp_path), "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not available")
@pytest.mark.parametrize("role", ["agent", "hub"])
def test_installed_unit_passes_systemd_analyze_verify(tmp_path, role):
    installed = _install(tmp_path, "--role", role, "--platform", "linux")
    unit = Path(installed["path"])
    assert unit.name == f"motcua-{role}.service"
    checked = _verify(unit)
    # verify exits 0 for mere parse warnings, so the output must be clean too
    assert checked.returncode == 0 and not checked.stderr.strip() and not checked.stdout.strip(), \
        checked.stdout + checked.stderr
    assert "systemctl enable --now motcua-" + role in installed["next_steps"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not available")
def test_the_check_would_catch_a_broken_unit(tmp_path):
    _, text = render_service("agent", "linux")
    broken = tmp_path / "broken.service"
    broken.write_text(text.replace("ProtectSystem=strict", "ProtectSystem=sometimes"))
    assert "Failed to parse protect system value" in _verify(broken).stderr


def test_units_are_hardened_and_restart_on_failure():
    for role in ("agent", "hub"):
        _, text = render_service(role, "linux", command="/usr/bin/motcua")
        settings = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
        assert settings["Restart"] == "on-failure"
        assert settings["ProtectSystem"] == "strict" and settings["NoNewPrivileges"] == "true"
        assert settings["ReadWritePaths"] == f"/var/lib/motcua{'-hub' if role == 'hub' else ''}"
        assert settings["User"] != "root" and not re.search(r"@[A-Z_]+@", text)
        assert settings["ExecStart"].startswith("/usr/bin/motcua ")
    _, agent = render_service("agent", "linux")
    assert "SupplementaryGroups=scanner" in agent
    assert "RestartPreventExitStatus=4" in agent  # a revoked device must not restart in a loop


def test_custom_data_directory_outside_var_lib_drops_state_directory(tmp_path):
    _, text = render_service("agent", "linux", data_dir=str(tmp_path / "desk"), user="desk1", command="/usr/bin/motcua")
    assert f"ReadWritePaths={tmp_path / 'desk'}" in text and "StateDirectory=" not in text and "User=desk1" in text


def test_windows_service_is_valid_winsw_xml(tmp_path):
    installed = _install(tmp_path, "--platform", "windows", "--data", r"C:\ProgramData\motcua & co")
    root = ET.parse(installed["path"]).getroot()
    assert root.tag == "service" and root.findtext("id") == "motcua-agent"
    assert root.findtext("arguments").startswith("run ")
    assert root.find("onfailure").get("action") == "restart"
    env = {e.get("name"): e.get("value") for e in root.findall("env")}
    assert env["MOTCUA_HOME"] == r"C:\ProgramData\motcua & co"  # escaped in the file, intact when parsed
    assert root.findtext("startmode") == "Automatic"


def test_hub_on_windows_is_refused_with_a_clear_message(tmp_path):
    result = run_motcua("service", "install", "--role", "hub", "--platform", "windows", "--dest", str(tmp_path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Không có mẫu dịch vụ" in result.stderr and "No service template" in result.stderr


def test_dry_run_prints_without_writing(tmp_path):
    result = run_motcua("service", "install", "--dry-run", "--platform", "linux")
    assert result.returncode == 0 and "[Service]" in result.stdout
    assert list(tmp_path.iterdir()) == []
