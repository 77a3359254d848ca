"""SANE scanners through the `scanimage` program (batch/ADF mode).

`scan_into` scans pages into a directory as page-NNNN.pnm, numbering on
from what is already there. scanimage writes each page to a `.part` file and
renames it only when the page is complete, so after a paper jam, an open
cover or a pulled cable the directory holds exactly the pages that were
scanned whole; the caller keeps them and the operator continues the batch.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ScanError, ToolMissing

log = logging.getLogger("motcua.scanners.sane")
PAGE_GLOB = "page-*.pnm"
SCAN_TIMEOUT = 1800

#: scanimage exit status / message → (status name, English, Vietnamese)
STOPS = (
    (6, "jammed", "JAMMED", "paper jam: take out the jammed sheet and put the unscanned pages back in the feeder",
     "kẹt giấy: lấy tờ bị kẹt ra, đặt lại các trang chưa quét vào khay"),
    (8, "cover is open", "COVER_OPEN", "the scanner cover is open: close it", "nắp máy quét đang mở: hãy đóng lại"),
    (7, "out of documents", "NO_DOCS", "the document feeder is empty: load the pages",
     "khay nạp giấy trống: hãy đặt giấy vào"),
    (3, "busy", "DEVICE_BUSY", "the scanner is busy (another program uses it)",
     "máy quét đang bận (chương trình khác đang dùng)"),
    (-1, "open of device", "NO_DEVICE", "scanner not found: check the cable/power and the device name",
     "không tìm thấy máy quét: kiểm tra cáp, nguồn và tên thiết bị"),
    (11, "access", "ACCESS_DENIED", "no permission to use the scanner", "không có quyền dùng máy quét"),
    (9, "i/o", "IO_ERROR", "the scanner reported an I/O error", "máy quét báo lỗi vào/ra"),
)


@dataclass(frozen=True)
class ScanSettings:
    """What to ask the scanner for. `options` are extra device options, e.g. ('--test-picture', 'Grid')."""

    device: str = ""
    resolution: int = 300
    mode: str = "Gray"
    source: str = ""
    #: pages to scan in this run (None: until the feeder is empty)
    batch_count: int | None = None
    options: tuple[str, ...] = field(default_factory=tuple)


def _scanimage() -> str:
    path = shutil.which("scanimage")
    if path is None:
        raise ToolMissing("scanimage", "sane-utils")
    return path


def list_devices(env: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Scanners SANE can see: [{'device': 'test:0', 'description': '…'}]."""
    out = subprocess.run([_scanimage(), "-f", "%d\t%v %m %t%n"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, **(env or {})})
    devices = []
    for line in out.stdout.splitlines():
        if "\t" in line:
            name, description = line.split("\t", 1)
            devices.append({"device": name, "description": description.strip()})
    return devices


def scanned_pages(directory: Path) -> list[Path]:
    """Complete pages in a batch directory, in scan order."""
    return sorted(Path(directory).glob(PAGE_GLOB))


def _next_number(directory: Path) -> int:
    numbers = [int(m.group(1)) for p in scanned_pages(directory) if (m := re.match(r"page-(\d+)\.pnm$", p.name))]
    return max(numbers, default=0) + 1


def scan_into(directory: Path, settings: ScanSettings, env: dict[str, str] | None = None) -> int:
    """Scan a batch into `directory`; return the number of pages this run added. Raises ScanError on a stop."""
    directory.mkdir(parents=True, exist_ok=True)
    before = len(scanned_pages(directory))
    cmd = [_scanimage()]
    if settings.device:
        cmd += ["-d", settings.device]
    cmd += ["--format=pnm", f"--batch={directory}/page-%04d.pnm", f"--batch-start={_next_number(directory)}",
            f"--resolution={settings.resolution}", f"--mode={settings.mode}"]
    if settings.batch_count is not None:
        cmd.append(f"--batch-count={settings.batch_count}")
    if settings.source:
        cmd.append(f"--source={settings.source}")
    cmd += list(settings.options)
    log.info("scan_start device=%s resolution=%d mode=%s", settings.device or "default", settings.resolution,
             settings.mode)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=SCAN_TIMEOUT,
                                env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired as exc:
        raise ScanError("TIMEOUT", "the scanner did not finish in time", "máy quét không trả lời kịp",
                        pages_kept=len(scanned_pages(directory)) - before) from exc
    for leftover in directory.glob("*.part"):
        leftover.unlink()  # the page being scanned when it stopped is incomplete: it must be rescanned
    added = len(scanned_pages(directory)) - before
    stderr = result.stderr.lower()
    if result.returncode == 0 and not (added == 0 and "out of documents" in stderr):
        log.info("scan_done pages=%d", added)
        return added
    for status, needle, name, english, vietnamese in STOPS:
        if result.returncode == status or needle in stderr:
            log.warning("scan_stopped status=%s pages_kept=%d", name, added)
            raise ScanError(name, english, vietnamese, pages_kept=added)
    detail = (result.stderr.strip().splitlines() or ["?"])[-1][:200]
    log.warning("scan_failed exit=%d", result.returncode)
    raise ScanError(f"EXIT_{result.returncode}", f"scanimage failed: {detail}", f"lỗi máy quét: {detail}",
                    pages_kept=added)
