"""`motcua` commands for the desk workflows — thin click wrappers over agent.desk.catalogue,
agent.desk.intake, agent.desk.courier, agent.desk.notifications and the web UI:

    motcua ui [--port 8480]                       the local web UI
    motcua catalogue list|import FILE             the procedure catalogue
    motcua purge-personal-data CODE               remove a citizen's data from this desk now
    motcua intake FILES... --name … --id … …      take a dossier in from the command line
    motcua slip DOSSIER [--size A5] -o slip.pdf   print the receipt and appointment slip
    motcua courier list|handover|deliver|fail     results to deliver and proofs of delivery
    motcua notify list|send                       messages to citizens
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from agent.cli.support import agent_context as _ctx
from agent.cli.support import emit as _emit
from agent.cli.support import handles_errors, json_option


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback (e.g. 0.0.0.0 for a tablet on the desk LAN) "
                   "is served over HTTPS only, with the desk's self-signed certificate.")
@click.option("--port", default=8480, show_default=True, type=int)
@click.option("--name", "names", multiple=True, help="Another name or address LAN clients use for this PC (repeat).")
@click.pass_context
@handles_errors
def ui(ctx: click.Context, host: str, port: int, names: tuple[str, ...]) -> None:
    """Serve the desk web UI (Vietnamese, English switch); every page needs a desk account login.

    Example: motcua ui   then open http://127.0.0.1:8480
    Example: motcua ui --host 0.0.0.0   then open https://<this PC>:8480 and compare the fingerprint
    """
    from agent.web.app import serve
    from agent.web.tls import desk_certificate, is_loopback

    agent = _ctx(ctx)
    if is_loopback(host):
        click.echo(f"Giao diện bàn tiếp nhận / desk UI: http://{host}:{port}  (Ctrl-C để dừng / to stop)", err=True)
        serve(agent.config.home, host, port)
        return
    cert = desk_certificate(agent.config.home, names)
    click.echo(f"Giao diện bàn tiếp nhận / desk UI (HTTPS): https://{cert.names[-1]}:{port}\n"
               f"Tên/địa chỉ hợp lệ / valid names: {', '.join(cert.names)}\n"
               f"Vân tay chứng chỉ / certificate fingerprint (SHA-256): {cert.fingerprint}\n"
               "So vân tay này trên máy khác trước khi tin / compare it on the other device before trusting it.",
               err=True)
    serve(agent.config.home, host, port, cert)


@click.group()
def catalogue() -> None:
    """The procedure catalogue (danh mục thủ tục)."""


@catalogue.command("list")
@json_option
@click.pass_context
@handles_errors
def catalogue_list(ctx: click.Context, as_json: bool) -> None:
    """List the procedures this desk takes in."""
    from agent.desk.catalogue import Catalogue

    cat = Catalogue.for_home(_ctx(ctx).config.home)
    _emit(cat.to_json(), as_json, lambda: "\n".join(
        f"{p.code}  {p.processing_days:>3} ngày/days  {p.name_vi}{'' if p.code_verified else '  [mã mẫu / sample code]'}"
        for p in cat))


@catalogue.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@json_option
@click.pass_context
@handles_errors
def catalogue_import(ctx: click.Context, source: Path, as_json: bool) -> None:
    """Validate a CSV/JSON catalogue and make it this desk's catalogue (nothing changes if any row is bad).

    CSV columns: code,name_vi,name_en,field_vi,processing_days,documents (separated by |),fee,postal_return
    """
    from agent.desk.catalogue import import_catalogue

    cat = import_catalogue(_ctx(ctx).config.home, source)
    _emit({"imported": len(cat)}, as_json, lambda: f"Đã nhập {len(cat)} thủ tục / imported {len(cat)} procedures")


@click.command("intake")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--procedure", "procedure_code", required=True)
@click.option("--name", "applicant_name", required=True, help="Applicant's full name.")
@click.option("--id", "citizen_id", required=True, help="12-digit citizen ID.")
@click.option("--address", required=True)
@click.option("--phone", default="")
@click.option("--birth-year", default="")
@click.option("--channel", type=click.Choice(["counter", "postal", "online"]), default="counter", show_default=True)
@click.option("--return", "return_method", type=click.Choice(["counter", "post"]), default="counter", show_default=True)
@click.option("--delivery-address", default="")
@click.option("--document", "documents", multiple=True, help="A document received (repeat).")
@click.option("--slip", "slip_path", type=click.Path(path_type=Path), help="Also write the receipt slip PDF here.")
@json_option
@click.pass_context
@handles_errors
def intake(ctx: click.Context, files: tuple[Path, ...], slip_path: Path | None, as_json: bool, **fields: Any) -> None:
    """Take a dossier in: validate the form, capture the scans with intake.json, seal, compute the due date."""
    from agent.desk.intake import IntakeForm, take_in
    from agent.desk.receipt_slip import slip_for

    agent = _ctx(ctx)
    fields["documents_received"] = list(fields.pop("documents"))
    dossier, record = take_in(agent, IntakeForm.from_mapping(fields), list(files))
    if slip_path:
        slip_path.write_bytes(slip_for(agent, dossier.id)[1])
    _emit({**dossier.summary(), "due_at": record.due_at}, as_json,
          lambda: f"Đã tiếp nhận / taken in: {dossier.code} — hẹn trả / due {record.due_at}")


@click.command("slip")
@click.argument("dossier")
@click.option("--size", type=click.Choice(["A4", "A5"]), default="A4", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.pass_context
@handles_errors
def slip(ctx: click.Context, dossier: str, size: str, output: Path) -> None:
    """Write the receipt and appointment slip (form 01) of a dossier as PDF."""
    from agent.desk.receipt_slip import slip_for

    code, pdf = slip_for(_ctx(ctx), dossier, size)
    output.write_bytes(pdf)
    click.echo(f"{code}: {output}")


@click.group()
def courier() -> None:
    """Courier mode: results to deliver, handover records, proofs of delivery."""


@courier.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include delivered/closed tasks.")
@json_option
@click.pass_context
@handles_errors
def courier_list(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """Results waiting for home delivery, with recipient and address."""
    from agent.desk.courier import list_tasks

    tasks = list_tasks(_ctx(ctx), None if show_all else ("to_deliver", "out", "returned_to_desk"))
    _emit(tasks, as_json, lambda: "\n".join(
        f"{t['dossier_code']:<28} {t['state']:<16} {t['recipient']} — {t['address']} {t['phone']}{_failure(t)}"
        for t in tasks) or "Không có kết quả chờ giao / nothing to deliver")


def _failure(task: dict[str, Any]) -> str:
    """The task's last failed attempt, Vietnamese first: reason, next attempt date."""
    from agent.desk.courier import FAILURE_REASONS

    last = task.get("last_failure")
    if not last:
        return ""
    vi, en = FAILURE_REASONS.get(last["reason"], (last["reason"], last["reason"]))
    when = f"; hẹn lại / next: {last['next_attempt']}" if last.get("next_attempt") else ""
    return f"\n{'':<28} giao không thành công / failed: {vi} / {en}{when}"


@courier.command("handover")
@click.argument("dossiers", nargs=-1, required=True)
@click.option("--courier", "courier_name", required=True, help="The postal courier's name.")
@click.option("--phone", "phone_id", default=None, help="Courier phone device id (cou_…): publish the doorstep tasks to it.")
@click.option("--postal-item", "postal_items", multiple=True, metavar="DOSSIER=S10",
              help="UPU S10 item number of a result sent by post, e.g. 000.00.01.H29-261130-0001=RR473124829VN.")
@json_option
@click.pass_context
@handles_errors
def courier_handover(ctx: click.Context, dossiers: tuple[str, ...], courier_name: str, phone_id: str | None,
                     postal_items: tuple[str, ...], as_json: bool) -> None:
    """Hand results to a courier and write the handover record PDF (and publish them to the courier's phone)."""
    from agent.desk.courier import handover
    from agent.desk.courier_phone import parse_postal_items, publish_to_phone

    items = parse_postal_items(postal_items)
    batch, path = handover(_ctx(ctx), list(dossiers), courier_name, postal_items=items)
    result: dict[str, Any] = {"batch": batch, "pdf": str(path)}
    if phone_id:
        result["phone"] = publish_to_phone(_ctx(ctx), batch, phone_id, list(dossiers), items)
    _emit(result, as_json, lambda: f"Biên bản bàn giao / handover record {batch}: {path}" + (
        f"\nĐã gửi {result['phone']['tasks']} nhiệm vụ tới điện thoại / tasks sent to phone {phone_id}" if phone_id else ""))


@courier.command("pair")
@click.option("--courier", "courier_name", required=True, help="The courier's name, shown on the phone.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the QR as PNG.")
@json_option
@click.pass_context
@handles_errors
def courier_pair(ctx: click.Context, courier_name: str, png_path: Path | None, as_json: bool) -> None:
    """Show a one-time QR that pairs a courier's phone with this desk (valid 30 minutes)."""
    from agent.desk.courier_phone import pair_phone, qr_png, qr_text

    answer = pair_phone(_ctx(ctx), courier_name)
    if png_path:
        png_path.write_bytes(qr_png(answer["url"]))
    _emit({"url": answer["url"], "expires_at": answer["expires_at"], "hub_key_id": answer["hub_key_id"]}, as_json,
          lambda: qr_text(answer["url"]) + f"\nQuét bằng điện thoại giao nhận / scan with the courier's phone:\n"
                  f"{answer['url']}\nHết hạn sau 30 phút / expires in 30 minutes")


@courier.command("deliver")
@click.argument("dossier")
@click.option("--recipient", required=True)
@click.option("--relation", required=True, help="e.g. Bản thân, Vợ/chồng, Cha/mẹ")
@click.option("--id-last", "id_last", required=True, help="Last 4 digits of the recipient's ID.")
@click.option("--signature", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Signature image (PNG/JPEG).")
@click.option("--photo", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Photo (PNG/JPEG).")
@click.option("--gps", default=None, help="lat,lon")
@json_option
@click.pass_context
@handles_errors
def courier_deliver(ctx: click.Context, dossier: str, recipient: str, relation: str, id_last: str,
                    signature: Path | None, photo: Path | None, gps: str | None, as_json: bool) -> None:
    """Record a delivery as a signed proof."""
    from agent.desk.courier import record_delivery

    envelope = record_delivery(_ctx(ctx), dossier, recipient_name=recipient, relation=relation, id_last_digits=id_last,
                               signature=signature.read_bytes() if signature else None,
                               photo=photo.read_bytes() if photo else None, gps=_parse_gps(gps))
    _emit(envelope.to_dict(), as_json, lambda: f"Đã ghi nhận giao / delivery recorded: {envelope.document['dossier_code']}")


@courier.command("fail")
@click.argument("dossier")
@click.option("--reason", required=True, type=click.Choice(
    ["not_home", "wrong_address", "refused", "moved", "phone_unreachable", "other"]))
@click.option("--note", default="")
@json_option
@click.pass_context
@handles_errors
def courier_fail(ctx: click.Context, dossier: str, reason: str, note: str, as_json: bool) -> None:
    """Record a failed delivery attempt (after 3 the result goes back to the desk)."""
    from agent.desk.courier import record_failed_attempt

    envelope = record_failed_attempt(_ctx(ctx), dossier, reason, note)
    _emit(envelope.to_dict(), as_json, lambda: f"Đã ghi nhận lần giao không thành công / failed attempt recorded "
                                               f"({envelope.document['attempt']})")


def _parse_gps(value: str | None) -> Any:
    from agent.desk.courier import Gps
    from agent.errors import InputError

    if not value:
        return None
    try:
        lat, lon = (float(v) for v in value.split(","))
    except ValueError:
        raise InputError(f"--gps {value!r} phải có dạng vĩ độ,kinh độ.", f"--gps {value!r} must be lat,lon.") from None
    return Gps(lat, lon)


@click.group()
def notify() -> None:
    """Messages (SMS/Zalo text) to citizens about their dossiers."""


@notify.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(["queued", "handed", "written", "delivered", "failed", "no_contact", "sent"]))
@json_option
@click.pass_context
@handles_errors
def notify_list(ctx: click.Context, states: tuple[str, ...], as_json: bool) -> None:
    """Show the notification outbox."""
    from agent.desk.notifications import list_notifications

    rows = list_notifications(_ctx(ctx), states or None)
    _emit(rows, as_json, lambda: "\n".join(f"{r['dossier_code']:<28} {r['state']:<10} {r['text']}" for r in rows)
          or "Không có tin nhắn / no messages")


@notify.command("send")
@json_option
@click.pass_context
@handles_errors
def notify_send(ctx: click.Context, as_json: bool) -> None:
    """Hand queued messages to the configured sender (<home>/notify.json; default: files in <home>/notifications-out)."""
    from agent.desk.notifications import send_pending

    counts = send_pending(_ctx(ctx))
    _emit(counts, as_json, lambda: f"Đã chuyển cổng SMS / handed to the gateway {counts['handed']}, "
                                   f"mới ghi ra thư mục (chưa gửi) / written to a folder (not sent) {counts['written']}, "
                                   f"lỗi / failed {counts['failed']}")


@notify.command("report")
@click.argument("message_id", type=int)
@click.option("--delivered/--failed", "delivered", required=True, help="What the gateway reported.")
@click.option("--answer", default="", help="The gateway's own words (kept with the message).")
@json_option
@click.pass_context
@handles_errors
def notify_report(ctx: click.Context, message_id: int, delivered: bool, answer: str, as_json: bool) -> None:
    """Record a gateway's delivery report for a message handed to it (for gateway scripts)."""
    from agent.desk.notifications import record_delivery_report

    record_delivery_report(_ctx(ctx), message_id, delivered, answer)
    state = "delivered" if delivered else "failed"
    _emit({"id": message_id, "state": state}, as_json, lambda: f"{message_id}: {state}")


@click.command("purge-personal-data")
@click.argument("dossier")
@json_option
@click.pass_context
@handles_errors
def purge_personal_data(ctx: click.Context, dossier: str, as_json: bool) -> None:
    """Remove the citizen's personal data of one dossier from this desk now (name, ID, phone, address, proofs).

    Xoá ngay dữ liệu cá nhân của công dân trong một hồ sơ khỏi máy này.
    Example: motcua purge-personal-data 000.00.01.H29-261127-0001
    """
    from agent.desk.personal_data import purge_personal_data as purge

    result = purge(_ctx(ctx), dossier)
    _emit(result, as_json, lambda: f"Đã xoá dữ liệu cá nhân của hồ sơ / personal data purged: {result['dossier_code']}")


COMMANDS = [ui, catalogue, intake, slip, courier, notify, purge_personal_data]
