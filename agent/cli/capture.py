"""`motcua` capture commands — thin click wrappers over agent.capture.stacks, agent.hotfolder and scanners:

    motcua cover-sheet --procedure 1.001193 -o cover.pdf   reserve a dossier code, print its QR cover sheet
    motcua import-stack FILES…                             split a scanned stack into dossiers at cover sheets
    motcua scan [--device …] [--continue BATCH]            scan with SANE, keep pages across paper jams
    motcua watch FOLDER                                    hot folder of a network scanner
"""
from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click

from agent.cli.support import agent_context as _ctx
from agent.cli.support import emit as _emit
from agent.cli.support import handles_errors, json_option


def _stack_text(result: dict) -> str:
    lines = [f"Đã nhận hồ sơ / captured: {d['code']}  ({d['pages']} trang/pages)" for d in result.get("dossiers", [])]
    lines += [f"Đã nhận trước đó / already captured: {c}" for c in result.get("already_captured", [])]
    if result.get("blank_pages"):
        lines.append(f"Bỏ trang trống / blank pages dropped: {', '.join(map(str, result['blank_pages']))}")
    if result.get("removed_content"):
        lines += [result["removed_content"]["message_vi"], result["removed_content"]["message_en"]]
    return "\n".join(lines) or "Không có trang nào / no pages"


@click.command("cover-sheet")
@click.option("--procedure", "procedure_code", help="Procedure code of the new dossier, e.g. 1.001193.")
@click.option("--channel", type=click.Choice(["counter", "postal", "online"]), default="counter", show_default=True)
@click.option("--separator", "separator", default=None, help="Print a document separator sheet with this label instead.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="PDF to write.")
@json_option
@click.pass_context
@handles_errors
def cover_sheet_cmd(ctx: click.Context, procedure_code: str | None, channel: str, separator: str | None,
                    output: Path, as_json: bool) -> None:
    """Print a cover sheet (reserves a dossier code, QR on an A4 PDF) to put on top of a paper dossier.

    Example: motcua cover-sheet --procedure 1.001193 -o cover.pdf   (then: motcua scan)
    """
    from agent.capture.stacks import print_cover_sheet, print_separator_sheet
    from agent.errors import InputError

    if separator:
        result = print_separator_sheet(separator, output)
    elif procedure_code:
        result = print_cover_sheet(_ctx(ctx), procedure_code, channel, output)
    else:
        raise InputError("Cần --procedure (phiếu tách hồ sơ) hoặc --separator (phiếu tách tài liệu).",
                         "Give --procedure (dossier cover) or --separator (document separator).")
    _emit(result, as_json, lambda: f"Đã in phiếu / sheet written: {result['file']}  {result.get('code', '')}")


@click.command("import-stack")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option("--procedure", "procedure_code", default=None, help="For a stack without cover sheets: its procedure.")
@click.option("--channel", type=click.Choice(["counter", "postal", "online"]), default="counter", show_default=True)
@json_option
@click.pass_context
@handles_errors
def import_stack_cmd(ctx: click.Context, files: tuple[Path, ...], procedure_code: str | None, channel: str,
                     as_json: bool) -> None:
    """Import a scanned stack (files in order) and split it into dossiers at its cover sheets.

    Example: motcua import-stack stack.pdf
    """
    from agent.capture.stacks import capture_files

    result = capture_files(_ctx(ctx), list(files), procedure_code=procedure_code, channel=channel).to_json()
    _emit(result, as_json, lambda: _stack_text(result))


@click.command("scan")
@click.option("-d", "--device", default="", help="SANE device (see --list-devices); default: the first one.")
@click.option("--resolution", type=int, default=300, show_default=True)
@click.option("--mode", default="Gray", show_default=True, help="Gray, Color or Lineart (as the device names it).")
@click.option("--source", default="", help="e.g. 'Automatic Document Feeder' or 'ADF Duplex'.")
@click.option("--batch-count", type=int, default=None, help="Pages to scan now (default: until the feeder is empty).")
@click.option("--procedure", "procedure_code", default=None, help="For a stack without cover sheets: its procedure.")
@click.option("--channel", type=click.Choice(["counter", "postal", "online"]), default="counter", show_default=True)
@click.option("--continue", "continue_batch", default=None, help="Add pages to this kept batch, then finish it.")
@click.option("--more", is_flag=True, help="Keep the batch open for more pages (finish later with --continue).")
@click.option("--list-devices", is_flag=True, help="List scanners and exit.")
@click.option("--list-batches", is_flag=True, help="List kept (interrupted/held) batches and exit.")
@click.option("--device-option", "device_options", multiple=True,
              help="Extra scanimage option, repeatable, e.g. --device-option=--test-picture=Grid.")
@json_option
@click.pass_context
@handles_errors
def scan_cmd(ctx: click.Context, device: str, resolution: int, mode: str, source: str, batch_count: int | None,
             procedure_code: str | None, channel: str, continue_batch: str | None, more: bool, list_devices: bool,
             list_batches: bool, device_options: tuple[str, ...], as_json: bool) -> None:
    """Scan a stack with a SANE scanner, split it at cover sheets and queue the dossiers.

    A paper jam keeps the pages already scanned: fix it, then `motcua scan --continue BATCH`.
    Example: motcua scan --source "Automatic Document Feeder" --resolution 300
    """
    from agent.capture.scanning import open_batches, scan
    from agent.errors import InputError
    from scanners.errors import CaptureError
    from scanners.sane import ScanSettings
    from scanners.sane import list_devices as sane_devices

    if list_devices:
        try:
            devices = sane_devices()
        except CaptureError as exc:
            raise InputError(exc.message_vi, exc.message_en, exc.hint) from exc
        _emit(devices, as_json, lambda: "\n".join(f"{d['device']}\t{d['description']}" for d in devices)
              or "Không thấy máy quét / no scanner found")
        return
    if list_batches:
        batches = open_batches(_ctx(ctx))
        _emit(batches, as_json, lambda: "\n".join(f"{b['batch_id']}  {b['pages']} trang/pages"
                                                  f"{'  GIỮ LẠI/HELD: ' + b['held']['message_vi'] if b['held'] else ''}"
                                                  for b in batches) or "Không có lô nào / no batches")
        return
    settings = ScanSettings(device=device, resolution=resolution, mode=mode, source=source, batch_count=batch_count,
                            options=device_options)
    try:
        outcome = scan(_ctx(ctx), settings, procedure_code=procedure_code, channel=channel,
                       continue_batch=continue_batch, more=more)
    except CaptureError as exc:
        raise InputError(exc.message_vi, exc.message_en, exc.hint) from exc
    result = outcome.to_json()
    _emit(result, as_json, lambda: (f"Lô / batch {outcome.batch_id}: +{outcome.pages_scanned} trang/pages\n"
                                    + (_stack_text(result) if outcome.finished
                                       else f"Quét tiếp / continue: motcua scan --continue {outcome.batch_id}")))


@click.command("watch")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--procedure", "procedure_code", default=None, help="For files without cover sheets: their procedure.")
@click.option("--channel", type=click.Choice(["counter", "postal", "online"]), default="counter", show_default=True)
@click.option("--once", is_flag=True, help="Wait for the files present to settle, consume them, and exit.")
@click.option("--settle", type=float, default=None, help="Seconds a file must stay unchanged (default: setting).")
@json_option
@click.pass_context
@handles_errors
def watch_cmd(ctx: click.Context, folder: Path, procedure_code: str | None, channel: str, once: bool,
              settle: float | None, as_json: bool) -> None:
    """Watch a hot folder (network scanner share): queue each complete file, move it to done/ or failed/.

    Chip ID card images dropped in its card/ subfolder are read for the intake form, then deleted.
    Example: motcua watch /srv/scans/desk1 --procedure 2.000815
    """
    import time

    from agent.capture.hotfolder import hot_folder
    from agent.desk.card_scan import card_hot_folder

    folder_watcher = hot_folder(_ctx(ctx), folder, procedure_code=procedure_code, channel=channel,
                                settle_seconds=settle)
    card_watcher = card_hot_folder(_ctx(ctx), folder, settle_seconds=settle)

    def show(item: Any) -> None:
        data = {"file": item.name, "ok": item.ok, "note": item.note}
        _emit(data, as_json, lambda: f"{'OK ' if item.ok else 'LỖI/FAILED '}{item.name}: {item.note}")

    if once:
        deadline = time.monotonic() + max(30.0, folder_watcher.settle_seconds * 10)
        while time.monotonic() < deadline:
            for item in folder_watcher.scan_once() + card_watcher.scan_once():
                show(item)
            if not any(p.is_file() and not p.name.startswith(".") for d in (folder, card_watcher.inbox)
                       for p in d.iterdir()):
                return
            time.sleep(min(0.5, folder_watcher.settle_seconds / 2))
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"Đang theo dõi / watching {folder} — Ctrl-C để dừng / to stop", err=True)
    cards = threading.Thread(target=card_watcher.run, args=(stop, show), name="card-hot-folder", daemon=True)
    cards.start()
    folder_watcher.run(stop, show)
    cards.join(10)


COMMANDS = [cover_sheet_cmd, import_stack_cmd, scan_cmd, watch_cmd]
