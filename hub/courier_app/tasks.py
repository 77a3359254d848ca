"""Doorstep tasks: a desk hands dossiers to one courier phone; the phone downloads only those.

A task carries only what the doorstep needs (code, name, address, phone, last 4
digits of the ID for the identity check, what to hand over, the postal item
number). The desk may only hand over dossiers of its own agency, to a courier
phone of its own agency; a phone sees its own tasks and nothing else. Publishing
again replaces the desk's open tasks for that phone (the handover list is the truth).
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any

from sync_protocol.errors import InvalidDocument
from sync_protocol.s10 import validate_s10

from ..auth import Device
from ..errors import BadRequest, Forbidden, NotFound
from ..state import HubState
from .pairing import hub_keys, role_of

log = logging.getLogger("motcua.hub.courier_app.tasks")
MAX_TASKS = 200
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
#: field -> maximum length; every task has exactly these (no other applicant data reaches the phone)
FIELDS = {"dossier_id": 36, "dossier_code": 40, "name": 100, "address": 300, "phone": 20, "id_last4": 4,
          "hand_over": 300, "postal_item": 13}


def _check_task(raw: Any, index: int) -> dict[str, str]:
    where = f"tasks[{index}]"
    if not isinstance(raw, dict):
        raise BadRequest(f"{where} must be an object", f"Nhiệm vụ {index} không hợp lệ")
    unknown = set(raw) - set(FIELDS)
    if unknown:
        raise BadRequest(f"{where}: fields not allowed on a phone: {sorted(unknown)}",
                         f"Nhiệm vụ {index}: có trường không được gửi tới điện thoại: {sorted(unknown)}")
    task = {name: " ".join(str(raw.get(name) or "").split()) for name in FIELDS}
    for name, limit in FIELDS.items():
        if len(task[name]) > limit:
            raise BadRequest(f"{where}.{name}: at most {limit} characters", f"Nhiệm vụ {index}: {name} quá dài")
    if not _UUID.match(task["dossier_id"]):
        raise BadRequest(f"{where}.dossier_id must be a lower-case UUID", f"Nhiệm vụ {index}: mã hồ sơ không hợp lệ")
    if not re.fullmatch(r"\d{4}", task["id_last4"]):
        raise BadRequest(f"{where}.id_last4: the last 4 digits of the citizen ID",
                         f"Nhiệm vụ {index}: cần 4 số cuối giấy tờ tùy thân")
    if task["postal_item"]:
        try:
            task["postal_item"] = validate_s10(task["postal_item"])
        except InvalidDocument as exc:
            raise BadRequest(f"{where}.postal_item: {exc}", f"Nhiệm vụ {index}: số hiệu bưu gửi sai ({exc})",
                             code="bad_postal_item") from exc
    return task


def publish(state: HubState, desk: Device, body: dict[str, Any]) -> dict[str, Any]:
    """Replace `desk`'s tasks for one courier phone with `body['tasks']`."""
    if role_of(state, desk.device_id) != "desk":
        raise Forbidden("only a desk can hand over tasks", "Chỉ máy tại bộ phận một cửa mới bàn giao được",
                        code="not_a_desk")
    courier_id, batch, raw_tasks = body.get("courier_device_id"), body.get("batch"), body.get("tasks")
    if not isinstance(courier_id, str) or not isinstance(batch, str) or not isinstance(raw_tasks, list) \
            or not 1 <= len(batch) <= 40 or len(raw_tasks) > MAX_TASKS:
        raise BadRequest(f"body must be {{courier_device_id, batch (1-40 chars), tasks (at most {MAX_TASKS})}}",
                         "Nội dung phải có courier_device_id, batch, tasks")
    # by agency code, never by the free-text site name (two agencies may share a site name)
    courier = state.db.one("SELECT agency_code, role, revoked_at FROM devices WHERE device_id=?", (courier_id,))
    if courier is None or courier["role"] != "courier" or courier["agency_code"] != desk.agency_code:
        raise NotFound("no courier phone of this site with that id; pair it first (motcua courier pair)",
                       "Không có điện thoại giao nhận này tại điểm tiếp nhận; hãy ghép điện thoại trước",
                       code="courier_unknown")
    if courier["revoked_at"] is not None:
        raise Forbidden("this courier phone is revoked", "Điện thoại giao nhận này đã bị thu hồi", code="courier_revoked")
    tasks = [_check_task(raw, i) for i, raw in enumerate(raw_tasks)]
    for task in tasks:
        found = state.db.one("SELECT v.agency_code FROM dossiers d JOIN devices v ON v.device_id = d.device_id"
                             " WHERE d.dossier_id=? LIMIT 1", (task["dossier_id"],))
        if found is None or found["agency_code"] != desk.agency_code:
            raise NotFound(f"the hub has no dossier {task['dossier_code']} for this site",
                           f"Trung tâm chưa có hồ sơ {task['dossier_code']} của điểm tiếp nhận", code="dossier_unknown")
    now = state.now()
    with state.db.transaction() as tx:
        # proofs already received stay valid: only tasks still open are replaced
        tx.execute("DELETE FROM courier_tasks WHERE courier_device_id=? AND desk_device_id=? AND dossier_id NOT IN"
                   " (SELECT dossier_id FROM delivery_proofs WHERE device_id=?)", (courier_id, desk.device_id,
                                                                                   courier_id))
        for task in tasks:
            tx.execute("INSERT INTO courier_tasks(courier_device_id, dossier_id, desk_device_id, batch, task,"
                       " published_at) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                       (courier_id, task["dossier_id"], desk.device_id, batch, json.dumps(task, ensure_ascii=False), now))
    log.info("courier_tasks_published desk=%s courier=%s tasks=%d", desk.device_id, courier_id, len(tasks))
    return {"courier_device_id": courier_id, "batch": batch, "tasks": len(tasks)}


def tasks_of(state: HubState, courier: Device) -> dict[str, Any]:
    """The phone's own tasks, with the hub key its evidence is encrypted to."""
    if role_of(state, courier.device_id) != "courier":
        raise Forbidden("only a courier phone downloads doorstep tasks", "Chỉ điện thoại giao nhận mới tải nhiệm vụ",
                        code="not_a_courier")
    rows = state.db.query("SELECT t.batch, t.task, (SELECT COUNT(*) FROM delivery_proofs p WHERE p.dossier_id=t.dossier_id"
                          " AND p.device_id=t.courier_device_id AND p.kind='delivered') AS delivered"
                          " FROM courier_tasks t WHERE t.courier_device_id=? ORDER BY t.published_at, t.dossier_id",
                          (courier.device_id,))
    tasks = [{**json.loads(r["task"]), "batch": r["batch"], "delivered": r["delivered"] > 0} for r in rows]
    return {"device_id": courier.device_id, "tasks": tasks, **hub_keys(state)}


def handed_to(state: HubState, courier_device_id: str, dossier_id: str) -> bool:
    """Was this dossier handed to this courier phone? (checked before a phone's proof is accepted)"""
    return state.db.one("SELECT 1 AS found FROM courier_tasks WHERE courier_device_id=? AND dossier_id=?",
                        (courier_device_id, dossier_id)) is not None
