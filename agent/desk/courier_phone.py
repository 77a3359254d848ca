"""Couriers' phones at the desk: pair a phone (one-time QR) and publish a handover to it through the hub.

The phone is the hub-served app (hub.courier_app); it never reaches the desk. What
the desk publishes is only the doorstep data: code, name, address, phone, the
last 4 digits of the citizen ID (for the identity check), what to hand over and
the postal item number (UPU S10, validated here before anything is sent).
"""
from __future__ import annotations

import io
import logging
from typing import Any
from urllib.parse import quote

from agent.context import AgentContext
from agent.desk.courier import _task
from agent.desk.intake import get_intake
from agent.errors import InputError
from sync_protocol.errors import InvalidDocument
from sync_protocol.s10 import validate_s10

log = logging.getLogger("motcua.agent.courier_phone")


def pair_phone(ctx: AgentContext, courier_name: str) -> dict[str, Any]:
    """Ask the hub for a one-time pairing token; return it with the URL the QR carries."""
    answer = ctx.hub.courier_pairing(courier_name)
    url = (f"{ctx.config.hub_url.rstrip('/')}/courier/#pair={quote(answer['token'])}"
           f"&kid={quote(answer['hub_key_id'])}")
    return {**answer, "url": url}


def qr_text(url: str) -> str:
    """The QR as text for a terminal (two characters per module, readable by a phone camera)."""
    import qrcode

    code = qrcode.QRCode(border=2)
    code.add_data(url)
    out = io.StringIO()
    code.print_ascii(out=out, invert=True)
    return out.getvalue()


def qr_png(url: str) -> bytes:
    import qrcode

    out = io.BytesIO()
    qrcode.make(url).save(out, format="PNG")
    return out.getvalue()


def parse_postal_items(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`DOSSIER=S10` options into {dossier ref: validated S10}."""
    items = {}
    for pair in pairs:
        ref, _, number = pair.partition("=")
        if not ref.strip() or not number.strip():
            raise InputError(f"--postal-item {pair!r} phải có dạng MÃ_HỒ_SƠ=SỐ_BƯU_GỬI.",
                             f"--postal-item {pair!r} must be DOSSIER=S10_NUMBER.")
        try:
            items[ref.strip()] = validate_s10(number)
        except InvalidDocument as exc:
            raise InputError(f"Số hiệu bưu gửi sai: {exc}", f"Wrong postal item number: {exc}",
                             "Số hiệu dạng RR473124829VN / like RR473124829VN") from exc
    return items


def doorstep_task(ctx: AgentContext, ref: str, postal_item: str = "") -> dict[str, str]:
    """The doorstep fields of one task, nothing else of the applicant's record."""
    task = _task(ctx, ref)
    intake = get_intake(ctx, task["dossier_id"])
    citizen_id = (intake.data.get("applicant", {}).get("citizen_id", "") if intake else "").replace(" ", "")
    if len(citizen_id) < 4:
        raise InputError(f"Hồ sơ {task['dossier_code']} thiếu số giấy tờ tùy thân; không giao tận nhà được.",
                         f"Dossier {task['dossier_code']} has no citizen ID; the doorstep identity check is impossible.")
    return {"dossier_id": task["dossier_id"], "dossier_code": task["dossier_code"], "name": task["recipient"],
            "address": task["address"], "phone": task["phone"], "id_last4": citizen_id[-4:],
            "hand_over": task["procedure_name"] or "Kết quả giải quyết thủ tục hành chính", "postal_item": postal_item}


def publish_to_phone(ctx: AgentContext, batch: str, courier_device_id: str, refs: list[str],
                     postal_items: dict[str, str] | None = None) -> dict[str, Any]:
    """Publish the handover `batch` (refs: codes or ids) to the courier phone `courier_device_id`."""
    postal_items = postal_items or {}
    tasks = [doorstep_task(ctx, ref, postal_items.get(ref, "")) for ref in refs]  # S10: parse_postal_items
    answer = ctx.hub.publish_courier_tasks({"courier_device_id": courier_device_id, "batch": batch, "tasks": tasks})
    log.info("handover_published batch=%s tasks=%d", batch, len(tasks))
    return answer
