"""Benchmark reference data: what publishing and applying one version costs a hub and a desk.

Measures, on the shipped tables: signing the whole document (hub), verifying it and checking every
section (desk), and recomputing the due dates of N open dossiers under a new calendar — the work
a desk does once per published version. Prints the load average beside the timings.

Run: .venv/bin/python bench/bench_refdata.py [--dossiers 5000]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from agent.desk.catalogue import Catalogue  # noqa: E402
from agent.desk.due_dates import due_at, vn  # noqa: E402
from agent.desk.holidays import HolidayCalendar  # noqa: E402
from hub.refdata import default_set  # noqa: E402
from sync_protocol.refdata import SECTIONS, sign_refdata, verify_refdata  # noqa: E402


def timed(label: str, runs: int, work) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(runs):
        work()
    per = (time.perf_counter() - start) / runs
    print(f"{label:<52} {per * 1000:9.2f} ms   (load {os.getloadavg()[0]:.2f})")
    return per


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dossiers", type=int, default=5000)
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    document = {"schema": "motcua.refdata/1", "version": 1, "published_at": "2026-11-30T00:00:00Z",
                **{kind: default_set(kind) for kind in SECTIONS}}
    size = len(json.dumps(document, ensure_ascii=False).encode())
    print(f"document: {size / 1024:.1f} KiB, {len(document['catalogue']['procedures'])} procedures")
    envelope = sign_refdata(document, key)
    timed("hub: sign one version", 50, lambda: sign_refdata(document, key))
    timed("desk: verify signature", 50, lambda: verify_refdata(envelope, key.public_key()))

    def interpret() -> None:
        HolidayCalendar.from_dict(document["calendar"], "bench").holidays(2026)
        Catalogue.from_dict(document["catalogue"], "bench")

    timed("desk: check calendar + catalogue sections", 20, interpret)
    calendar = HolidayCalendar.from_dict(document["calendar"], "bench")
    received = [vn(2026, 1, 5, 9) + timedelta(hours=7 * i) for i in range(args.dossiers)]
    per = timed(f"desk: recompute {args.dossiers} due dates (7-30 working days)", 1,
                lambda: [due_at(r, 7 + i % 24, calendar) for i, r in enumerate(received)])
    print(f"  = {per / args.dossiers * 1e6:.1f} µs per open dossier")


if __name__ == "__main__":
    main()
