"""The audit logs: who did what to which dossier, when — append-only, hash-chained, no personal data.

Also: after a full run (enrol, capture with an applicant's details, seal, sync,
status, revoke) at DEBUG level, the logs of both ends hold neither the
applicant's name, nor the ID number, nor the phone number.
"""
from __future__ import annotations

import json
import sqlite3

import pytest

from agent.ops.audit import AuditLog
from agent.sealing.seal import seal_dossier
from agent.delivery.sync import sync_once
from sync_protocol.audit_chain import check_detail

from .conftest import SITE, HubProcess, run_motcua
from .trust_support import APPLICANT, captured_dossier, hub_rows, small_pdf


def test_hub_and_agent_audit_who_did_what_to_which_dossier(hub, agent, agent_home):
    dossier = seal_dossier(agent, captured_dossier(agent).id)
    assert sync_once(agent).committed == [dossier.code]
    hub_log = json.loads(run_motcua("hub", "audit", "--data", str(hub.data_dir), "--json").stdout)
    actions = [(e["actor"], e["action"], e["dossier_id"]) for e in hub_log]
    device = agent.config.device_id
    assert actions[0][1] == "token.issued" and actions[0][0].startswith("admin:")
    assert (device, "device.enrolled", None) in actions
    assert (device, "dossier.committed", dossier.id) in actions
    committed = next(e for e in hub_log if e["action"] == "dossier.committed")
    assert committed["detail"]["manifest"] == dossier.manifest_hash and committed["at"] > 0
    assert run_motcua("hub", "audit", "--verify", "--data", str(hub.data_dir)).returncode == 0

    agent.close()
    desk = json.loads(run_motcua("audit", "--json", home=agent_home).stdout)
    assert desk["problems"] == []
    assert [e["action"] for e in desk["entries"]] == ["device.enrolled", "dossier.sealed", "dossier.committed",
                                                     "dossier.purged"]
    assert all(e["actor"].startswith("op:") for e in desk["entries"])


def test_tampering_with_either_log_is_detected(hub, agent, agent_home):
    seal_dossier(agent, captured_dossier(agent).id)
    sync_once(agent)
    conn = sqlite3.connect(hub.data_dir / "hub.db")
    conn.execute("UPDATE audit SET actor='admin:someone-else' WHERE seq=1")
    conn.commit()
    conn.close()
    result = run_motcua("hub", "audit", "--verify", "--data", str(hub.data_dir))
    assert result.returncode == 1 and "seq 1" in result.stderr and "TAMPERED" in result.stderr

    # the desk's log refuses updates and deletes outright; a forged insert breaks the chain
    log = AuditLog(agent_home / "audit.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        log.conn.execute("DELETE FROM audit WHERE seq=1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        log.conn.execute("UPDATE audit SET action='x' WHERE seq=1")
    last = log.entries()[-1]
    log.conn.execute("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?)",
                     (last["seq"] + 1, last["at"], "op:intruder", "dossier.purged", None, "{}", "0" * 64, "f" * 64))
    assert any("prev_hash" in p for p in log.verify())
    log.close()
    assert run_motcua("audit", home=agent_home).returncode == 1


def test_audit_details_cannot_carry_free_text():
    for bad in ({"name": APPLICANT["name"]}, {"note": "gọi 0912345678"}, {"address": "12 Lê Lợi, Huế"}):
        with pytest.raises(ValueError):
            check_detail(bad)
    assert check_detail({"device": "dev_0123456789abcdef", "hub_sequence": 7, "manifest": "ab" * 32})


def test_logs_of_a_full_run_hold_no_personal_data(tmp_path):
    """The applicant's name, ID number and phone go into the documents and the desk's records;
    none of them may appear in any log line of the hub or the agent, even at DEBUG level."""
    hub = HubProcess(tmp_path / "hub", extra_args=["--log-level", "debug"]).start()
    home = tmp_path / "agent"
    try:
        init = run_motcua("-v", "init", "--hub", hub.url, "--token", hub.token(), "--site", SITE, home=home)
        assert init.returncode == 0, init.stderr
        from agent.context import AgentContext

        ctx = AgentContext.open(home)
        pdf = small_pdf(f"{APPLICANT['id_number']} {APPLICANT['phone']}")
        dossier = captured_dossier(ctx, pdf, metadata={"applicant_name": APPLICANT["name"],
                                                       "applicant_id": APPLICANT["id_number"],
                                                       "applicant_phone": APPLICANT["phone"]})
        ctx.close()
        outputs = [init.stderr + init.stdout]
        for args in (["-v", "seal"], ["-v", "sync"], ["-v", "queue"], ["-v", "status", dossier.code],
                     ["-v", "audit"]):
            result = run_motcua(*args, home=home)
            assert result.returncode == 0, result.stderr
            outputs.append(result.stdout + result.stderr)
        outputs.append(run_motcua("hub", "devices", "--data", str(hub.data_dir)).stdout)
        outputs.append(run_motcua("hub", "audit", "--data", str(hub.data_dir)).stdout)
        run_motcua("hub", "revoke", ctx.config.device_id, "--reason", "test", "--data", str(hub.data_dir))
        outputs.append(run_motcua("-v", "sync", home=home).stderr)
    finally:
        hub.stop()
    outputs.append(hub.log_text())
    logs = "\n".join(outputs)
    assert "dossier" in logs and "committed" in logs  # the logs did record the run
    for value in APPLICANT.values():
        assert value not in logs, f"personal data {value!r} found in logs"
    # the audit table of the hub holds none either
    dump = json.dumps(hub_rows(hub.data_dir, "SELECT * FROM audit"), ensure_ascii=False)
    assert not any(value in dump for value in APPLICANT.values())
