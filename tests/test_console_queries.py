"""The console's reads on both hub databases (SQLite and a real PostgreSQL server): search filters,
bad search input named, and a stored receipt checked against the hub key — a genuine one verifies,
one edited in the database or naming another manifest is shown as NOT valid."""
from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.config import HubConfig
from hub.console.queries import DossierFilter, dossier_detail, search_dossiers
from hub.errors import BadRequest
from hub.state import HubState
from sync_protocol.canonical import canonical_json
from sync_protocol.receipt import Receipt, sign_receipt

from .fixtures_servers import *  # noqa: F401,F403 - pg_url


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    hub = HubState.open(HubConfig(data_dir=tmp_path / "hub", database_url=url))
    yield hub
    hub.storage.close()


def add_dossier(state: HubState, n: int, procedure: str, site: str, received_at: str, status: int = 1,
                key: Ed25519PrivateKey | None = None, receipt_hash: str | None = None) -> str:
    dossier_id, manifest_hash = f"0000000{n}-0000-7000-8000-000000000000", f"{n:064x}"
    code = f"000.00.01.H29-{received_at[2:4]}{received_at[5:7]}{received_at[8:10]}-{n:04d}"
    receipt = Receipt(manifest_hash=receipt_hash or manifest_hash, dossier_id=dossier_id, dossier_code=code,
                      device_id="dev_1", hub_sequence=n, received_at=received_at, hub_key_id=state.hub_key_id)
    signed = canonical_json(sign_receipt(receipt, key or state.hub_key).to_dict()).decode()
    state.db.execute("INSERT INTO dossiers(dossier_id, dossier_version, manifest_hash, device_id, site, dossier_code,"
                     " procedure_code, channel, status, received_at, hub_sequence, signed_manifest, receipt)"
                     " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     (dossier_id, 1, manifest_hash, "dev_1", site, code, procedure, "postal", status, received_at, n,
                      "{}", signed))
    return dossier_id


def codes(state: HubState, **wanted) -> list[str]:
    rows, _ = search_dossiers(state, DossierFilter(**wanted))
    return [r["dossier_code"][-4:] for r in rows]


def test_search_filters_and_receipt_verification(state):
    genuine = add_dossier(state, 1, "1.001193", "Xã A", "2026-01-15T02:00:00Z")
    add_dossier(state, 2, "1.004222", "Xã B", "2026-01-16T09:30:00Z", status=9)
    forged = add_dossier(state, 3, "1.004222", "Xã A", "2026-01-17T23:59:59Z", key=Ed25519PrivateKey.generate())
    other = add_dossier(state, 4, "1.004222", "Xã A", "2026-01-18T01:00:00Z", receipt_hash="ab" * 32)

    assert codes(state) == ["0004", "0003", "0002", "0001"]  # newest commit first
    assert codes(state, procedure="1.004222", site="Xã A") == ["0004", "0003"]
    assert codes(state, code="260116") == ["0002"]
    assert codes(state, code="%") == ["0004", "0003", "0002", "0001"]  # a LIKE wildcard is just text
    assert codes(state, status="9") == ["0002"]
    assert codes(state, date_from="2026-01-16", date_to="2026-01-17") == ["0003", "0002"]
    assert codes(state, page=2) == []

    assert dossier_detail(state, genuine)["receipt"]["valid"] is True
    assert dossier_detail(state, forged)["receipt"]["valid"] is False  # signed by a key that is not the hub's
    assert "acknowledges manifest" in dossier_detail(state, other)["receipt"]["problem"]
    tampered = json.loads(state.db.one("SELECT receipt FROM dossiers WHERE dossier_id=?", (genuine,))["receipt"])
    tampered["document"]["received_at"] = "2026-01-01T00:00:00Z"  # back-dated in the database
    state.db.execute("UPDATE dossiers SET receipt=? WHERE dossier_id=?", (json.dumps(tampered), genuine))
    assert dossier_detail(state, genuine)["receipt"]["valid"] is False
    state.db.execute("UPDATE dossiers SET receipt=? WHERE dossier_id=?", ("not json", genuine))
    assert dossier_detail(state, genuine)["receipt"]["valid"] is False
    assert dossier_detail(state, "no-such-dossier") is None


@pytest.mark.parametrize("field,value,named", [("date_from", "15/01/2026", "date_from"), ("status", "11", "1 đến 10"),
                                               ("procedure", "1.001193'; --", "Thủ tục")])
def test_bad_search_input_is_named(field, value, named):
    with pytest.raises(BadRequest) as caught:
        DossierFilter.from_query({field: value})
    assert named in caught.value.reason_vi + caught.value.reason
