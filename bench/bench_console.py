"""Benchmark the hub console's costs: argon2id login verification, and dossier search over a
province-year of committed dossiers (175,000 by default, DESIGN.md) in the SQLite hub database.

Rows are inserted straight into the `dossiers` table (synthetic codes, no personal data, one
version each); the searches are the console's own `hub.console.queries.search_dossiers`.
Prints timings with the load average beside them (the machine is shared).

Run: .venv/bin/python bench/bench_console.py [--dossiers 175000]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.config import HubConfig  # noqa: E402
from hub.console import accounts  # noqa: E402
from hub.console.queries import DossierFilter, search_dossiers  # noqa: E402
from hub.state import HubState  # noqa: E402

SITES = [f"UBND xã Thử Nghiệm {n}" for n in range(100)]
PROCEDURES = ["1.001193", "1.004222", "2.000815", "1.000894", "1.000656", "1.004873", "2.000884", "1.004194"]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def fill(state: HubState, count: int) -> None:
    batch = []
    for n in range(1, count + 1):
        day = 1 + n * 365 // (count + 1)
        month, mday = min(12, 1 + (day - 1) // 31), 1 + (day - 1) % 28
        batch.append((f"{n:08x}-0000-7000-8000-000000000000", 1, f"{n:064x}", f"dev_{n % 200}", SITES[n % 100],
                      f"000.00.{n % 100:02d}.H29-26{month:02d}{mday:02d}-{n % 10000:04d}", PROCEDURES[n % 8],
                      "counter", 1 + (n % 10), f"2026-{month:02d}-{mday:02d}T02:00:00Z", n, "{}", "{}"))
        if len(batch) == 5000 or n == count:
            with state.db.transaction() as tx:
                for row in batch:
                    tx.execute("INSERT INTO dossiers(dossier_id, dossier_version, manifest_hash, device_id, site,"
                               " dossier_code, procedure_code, channel, status, received_at, hub_sequence,"
                               " signed_manifest, receipt) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
            batch = []


def timed(label: str, action, repeat: int = 5) -> None:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    size = len(result[0]) if isinstance(result, tuple) else ""
    print(f"  {label:<58} median {statistics.median(times) * 1000:8.1f} ms  rows={size!s:<4} load {load()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dossiers", type=int, default=175_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = HubState.open(HubConfig(data_dir=Path(tmp) / "hub"))
        accounts.add_user(state, "bench", "bench", "viewer", "mật khẩu đủ dài")
        print(f"argon2id (argon2-cffi defaults)                load {load()}")
        timed("login verification (right password)", lambda: accounts.verify_login(state, "bench", "mật khẩu đủ dài"))
        start = time.perf_counter()
        fill(state, args.dossiers)
        print(f"{args.dossiers} dossiers inserted in {time.perf_counter() - start:.1f} s       load {load()}")
        searches = {
            "first page, no filter": DossierFilter(),
            "procedure 1.004222": DossierFilter(procedure="1.004222"),
            "site (1 of 100)": DossierFilter(site=SITES[42]),
            "code fragment (a rare one)": DossierFilter(code="H29-260315-0042"),
            "one day, status 9": DossierFilter(date_from="2026-06-10", date_to="2026-06-10", status="9"),
            "nothing matches (full scan)": DossierFilter(code="H30-"),
            "page 50 of a procedure": DossierFilter(procedure="1.001193", page=50),
        }
        for label, wanted in searches.items():
            timed(label, lambda wanted=wanted: search_dossiers(state, wanted))
        state.storage.close()


if __name__ == "__main__":
    main()
