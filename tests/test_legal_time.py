"""Legal time (issue 18): received_at is the desk clock corrected by the hub's, the manifest says how it was
derived, a dossier taken in before the offset was ever learned is marked so, and the hub flags implausible
times (audit event, metric, `motcua hub clock-report`) without refusing the dossier."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
import requests

from agent.delivery.sync import sync_once
from agent.desk.intake import IntakeForm, take_in
from agent.outbox.hub_clock import known_offset
from agent.sealing.seal import seal_all
from hub.clock_checks import time_flags
from sync_protocol.clock import ClockOffset, better, check_clock_note, clock_note, measure
from sync_protocol.errors import InvalidDocument
from sync_protocol.manifest import Manifest

from .conftest import run_motcua
from .test_intake import GOOD
from .trust_support import captured_dossier

SLOW = 2 * 3600  # the desk PC's clock is two hours behind


def _hub_manifests(hub) -> list[dict]:
    return [json.loads(text)["document"] for (text,) in hub.sql("SELECT signed_manifest FROM dossiers"
                                                                 " ORDER BY hub_sequence")]


def test_measurement_is_bounded_by_the_round_trip_and_the_date_resolution():
    m = measure(date_seconds=1000.0, sent=990.0, answered=990.4)
    assert m.offset == pytest.approx(1000.5 - 990.2) and m.uncertainty == pytest.approx(0.7)
    tight, loose = measure(1000.0, 990.0, 990.1), measure(1001.0, 990.9, 993.0)
    assert better(tight, loose) is tight  # a slow PATCH does not replace a quick HEAD ...
    aged = ClockOffset(tight.offset, tight.uncertainty, learned_at=tight.learned_at - 30 * 86400)
    assert better(aged, loose) is loose  # ... unless the quick one is a month old (drift allowance)
    jumped = measure(1000.0 + 7200, 990.5, 993.0)
    assert better(tight, jumped) is jumped  # disagreeing beyond both uncertainties: the clock was reset
    note = clock_note(tight, device_now=tight.learned_at + 60)
    assert note["source"] == "hub" and note["age_s"] == 60 and all(isinstance(v, int) for k, v in note.items()
                                                                   if k != "source")
    assert clock_note(None, 0) == {"source": "device"}


@pytest.mark.parametrize("note", [
    {"source": "ntp"}, {"source": "device", "offset_ms": 0}, {"source": "hub", "offset_ms": 1},
    {"source": "hub", "offset_ms": 1.5, "uncertainty_ms": 1, "age_s": 1},
    {"source": "hub", "offset_ms": 1, "uncertainty_ms": -1, "age_s": 1}, "hub",
])
def test_bad_clock_notes_are_refused_naming_the_member(note):
    with pytest.raises(InvalidDocument, match="manifest.clock"):
        check_clock_note(note)


def _manifest(received_at: str, clock: dict | None) -> Manifest:
    return Manifest(dossier_id="0" * 8 + "-0000-0000-0000-" + "0" * 12, dossier_version=1,
                    dossier_code="000.00.01.H29-260101-0001", procedure_code="1.001193", channel="counter",
                    device_id="dev_0123456789", sequence=1, previous_manifest_hash=None,
                    created_at=received_at, received_at=received_at, objects=(), clock=clock)


def test_hub_flags_each_kind_of_implausible_time():
    now = datetime(2026, 3, 1, 12, tzinfo=timezone.utc).timestamp()
    good = {"source": "hub", "offset_ms": 4000, "uncertainty_ms": 600, "age_s": 30}
    assert time_flags(_manifest("2026-03-01T11:00:00Z", good), now) == []
    assert time_flags(_manifest("2026-03-01T11:00:00Z", None), now) == []  # a manifest from before the clock note
    assert time_flags(_manifest("2026-03-01T13:00:00Z", good), now) == ["received_after_commit"]
    assert time_flags(_manifest("2026-03-01T11:00:00Z", {"source": "device"}), now) == ["device_clock"]
    assert time_flags(_manifest("2026-03-01T11:00:00Z", {**good, "offset_ms": -3 * 3600_000}), now) == [
        "desk_clock_hours_off"]
    assert time_flags(_manifest("2026-03-01T11:00:00Z", {**good, "uncertainty_ms": 900_000}), now) == [
        "offset_uncertain"]
    assert time_flags(_manifest("2024-01-01T11:00:00Z", good), now) == ["received_long_ago"]


def test_old_manifests_keep_their_bytes_and_new_ones_round_trip():
    old = _manifest("2026-03-01T11:00:00Z", None).to_dict()
    assert "clock" not in old
    note = {"source": "hub", "offset_ms": -5, "uncertainty_ms": 700, "age_s": 3}
    new = _manifest("2026-03-01T11:00:00Z", note).to_dict()
    new["objects"] = old["objects"] = [{"name": "a.pdf", "media_type": "application/pdf", "sha256": "a" * 64,
                                        "size": 1}]
    assert Manifest.from_dict(old).clock is None and Manifest.from_dict(new).clock == note
    with pytest.raises(InvalidDocument, match="unknown field"):
        Manifest.from_dict({**old, "clock2": {}})


def test_a_desk_with_a_wrong_clock_stamps_hub_time_and_due_dates_follow(hub, agent, pages, monkeypatch):
    # Enrolment does not sign requests, so nothing is learned yet: the first dossier is marked "device".
    assert known_offset(agent.outbox) is None
    unknown = captured_dossier(agent)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - SLOW)
    agent.hub.feed(0, 1)  # any signed contact teaches the offset (a 401 for clock skew first, then signed again)
    learned = known_offset(agent.outbox)
    assert learned is not None and learned.offset == pytest.approx(SLOW, abs=3) and learned.uncertainty < 2
    known = captured_dossier(agent)
    dossier, record = take_in(agent, IntakeForm.from_mapping(GOOD), pages, seal=False)
    for taken in (known, dossier):
        stamped = datetime.strptime(agent.outbox.get(taken.id).received_at, "%Y-%m-%dT%H:%M:%SZ")
        assert abs(stamped.replace(tzinfo=timezone.utc).timestamp() - real()) < 30, "hub time, not the desk's"
    assert record.received_at == agent.outbox.get(dossier.id).received_at  # the due date counts from it
    seal_all(agent)
    assert sync_once(agent).complete

    by_code = {m["dossier_code"]: m for m in _hub_manifests(hub)}
    assert by_code[unknown.code]["clock"] == {"source": "device"}
    note = by_code[known.code]["clock"]
    assert note["source"] == "hub" and abs(note["offset_ms"] - SLOW * 1000) < 3000 and note["uncertainty_ms"] < 2000
    assert 0 <= note["age_s"] < 120

    # the hub accepted all three and flagged two: an unknown offset, a desk clock hours off
    out = run_motcua("hub", "clock-report", "--data", str(hub.data_dir), "--json")
    assert out.returncode == 1, out.stderr
    flagged = {r["dossier_id"]: r["flags"] for r in json.loads(out.stdout)}
    assert flagged[unknown.id] == ["device_clock"]
    assert flagged[known.id] == ["desk_clock_hours_off"] == flagged[dossier.id]
    metrics = requests.get(hub.url + "/metrics", timeout=10).text
    assert 'motcua_hub_manifest_time_flags{flag="desk_clock_hours_off"} 2.0' in metrics
    assert 'motcua_hub_manifest_time_flags{flag="received_after_commit"} 0.0' in metrics
