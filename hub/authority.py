"""What an enrolled device may act on: its agency's codes, its code block, the dossiers it owns.

An enrolled device may be malicious (docs/security.md). The hub therefore
authorises every commit by what the device owns, never by what the manifest
claims:

* a dossier code must start with the agency code the device was enrolled under,
  and a new dossier's daily number must lie in the device's code block
  (`NNNN = block * 1000 + n`, n in 1..999, docs/dossier-codes.md);
* a dossier id belongs to the device that first committed it; new versions come
  only from that device, or from one the administrator transferred it to
  (`motcua hub transfer DOSSIER_ID --to DEVICE`), and keep the dossier's code.

Refusals are 403 with `{error, reason, reason_vi}` and an audit entry.
"""
from __future__ import annotations

import logging
from typing import Any

from sync_protocol.manifest import Manifest

from . import audit
from .auth import Device
from .errors import BadRequest, Forbidden, NotFound
from .state import HubState
from .storage.metadata import Tx

log = logging.getLogger("motcua.hub.authority")


def commit_refusal(tx: Tx, device: Device, manifest: Manifest) -> Forbidden | None:
    """Why `device` may not commit `manifest` (a 403 to raise), or None. Pure: reads only, so it can run
    both before the expensive checks and again inside the storing transaction (a racing commit)."""
    agency = manifest.dossier_code.rpartition("-")[0].rpartition("-")[0]
    if agency != device.agency_code:
        return Forbidden(f"dossier code {manifest.dossier_code} is not of this device's agency {device.agency_code}",
                         f"Mã hồ sơ {manifest.dossier_code} không thuộc cơ quan {device.agency_code} của thiết bị này",
                         code="agency_mismatch")
    owner = dossier_owner(tx, manifest.dossier_id)
    if owner is None:
        number = int(manifest.dossier_code.rpartition("-")[2])
        if number // 1000 != device.code_block or number % 1000 == 0:
            low = device.code_block * 1000 + 1
            return Forbidden(f"dossier number {number:04d} is outside this device's block {low:04d}-{low + 998:04d}",
                             f"Số hồ sơ {number:04d} nằm ngoài dải {low:04d}-{low + 998:04d} của thiết bị này",
                             code="code_block_mismatch")
        return None
    if owner["device_id"] != device.device_id:
        return Forbidden("this dossier id belongs to another device; only its owner may commit new versions "
                         "(the hub administrator can transfer it: motcua hub transfer)",
                         "Mã hồ sơ này thuộc thiết bị khác; chỉ thiết bị sở hữu được gửi phiên bản mới "
                         "(quản trị viên có thể chuyển: motcua hub transfer)", code="dossier_not_owned")
    if owner["dossier_code"] != manifest.dossier_code:
        return Forbidden(f"a new version must keep the dossier code {owner['dossier_code']}",
                         f"Phiên bản mới phải giữ mã hồ sơ {owner['dossier_code']}", code="dossier_code_changed")
    return None


def check_commit_allowed(state: HubState, device: Device, manifest: Manifest) -> None:
    """Raise (and audit) the commit refusal, if any."""
    problem = commit_refusal(state.db, device, manifest)
    if problem is not None:
        audit.record_now(state.db, state.now(), device.device_id, "commit.refused", manifest.dossier_id,
                         reason=problem.code)
        log.warning("commit_refused device=%s dossier=%s reason=%s", device.device_id, manifest.dossier_id,
                    problem.code)
        raise problem


def dossier_owner(tx: Tx, dossier_id: str) -> dict[str, Any] | None:
    """{device_id, dossier_code} of an already committed dossier id, or None for a new one."""
    first = tx.one("SELECT device_id, dossier_code FROM dossiers WHERE dossier_id=? ORDER BY dossier_version LIMIT 1",
                   (dossier_id,))
    if first is None:
        return None
    moved = tx.one("SELECT device_id FROM dossier_owners WHERE dossier_id=?", (dossier_id,))
    return {"device_id": moved["device_id"] if moved else first["device_id"], "dossier_code": first["dossier_code"]}


def transfer_dossier(state: HubState, dossier_id: str, to_device: str) -> dict[str, str]:
    """Admin: let `to_device` (active, same agency) commit new versions of `dossier_id` from now on."""
    with state.db.transaction() as tx:
        owner = dossier_owner(tx, dossier_id)
        if owner is None:
            raise NotFound(f"no committed dossier {dossier_id}", f"Không có hồ sơ {dossier_id}", code="dossier_unknown")
        target = tx.one("SELECT agency_code, revoked_at FROM devices WHERE device_id=?", (to_device,))
        if target is None or target["revoked_at"] is not None:
            raise BadRequest(f"no active device {to_device}", f"Không có thiết bị đang hoạt động {to_device}")
        if not owner["dossier_code"].startswith(target["agency_code"] + "-"):
            raise BadRequest(f"device {to_device} is of agency {target['agency_code']}, the dossier is not",
                             f"Thiết bị {to_device} thuộc cơ quan {target['agency_code']}, hồ sơ thì không")
        tx.execute("DELETE FROM dossier_owners WHERE dossier_id=?", (dossier_id,))
        tx.execute("INSERT INTO dossier_owners(dossier_id, device_id, transferred_at) VALUES (?,?,?)",
                   (dossier_id, to_device, state.now()))
        audit.record(tx, state.now(), audit.admin_actor(), "dossier.transferred", dossier_id,
                     device=owner["device_id"], to=to_device)
    return {"dossier_id": dossier_id, "from": owner["device_id"], "to": to_device}
