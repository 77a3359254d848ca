"""Benchmark: how fast the provincial case system takes dossiers out of the hub (loopback).

    .venv/bin/python bench/bench_case_system.py --dossiers 200 --size-kb 200 --webhooks 30

1. Pull: a real hub process holds `--dossiers` committed dossiers of about
   `--size-kb` each (one signed PDF each, from two desks); the reference client
   (`hub.case_system.client.pull_to_dir`, what `motcua hub pull` runs) pulls,
   downloads, verifies, writes and acknowledges all of them. Prints dossiers/s
   and MB/s of document bytes, and the JSON-only page rate.
2. Push: a receiver on loopback gets `dossier.committed` webhooks; for
   `--webhooks` dossiers committed one at a time, the latency from the desk's
   commit returning to the receiver holding the event (p50/p95). The dispatcher
   polls every `--poll` seconds (MOTCUA_HUB_WEBHOOK_POLL), which bounds it.
Figures are printed with the load average beside them (the machine is shared).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def receiver(arrivals: dict[str, float]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            arrivals.setdefault(self.headers["Idempotency-Key"], time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dossiers", type=int, default=200)
    parser.add_argument("--size-kb", type=int, default=200)
    parser.add_argument("--webhooks", type=int, default=30)
    parser.add_argument("--poll", type=float, default=1.0)
    args = parser.parse_args()

    from agent.context import AgentContext
    from agent.delivery.enrolment import enrol
    from agent.delivery.sync import sync_once
    from hub.case_system.client import pull_to_dir
    from tests.chaos.dossiers import make_dossier
    from tests.conftest import AGENCY, SITE, HubProcess, run_motcua

    work = Path(tempfile.mkdtemp(prefix="bench-case-"))
    hub = HubProcess(work / "hub", extra_env={"MOTCUA_HUB_WEBHOOK_POLL": str(args.poll)}).start()
    try:
        desks = []
        for n in range(2):
            ctx = AgentContext.open(work / f"desk{n}")
            enrol(ctx, hub.url, hub.token(site=f"{SITE} {n}"), f"{SITE} {n}")
            desks.append(ctx)
        print(f"preparing {args.dossiers} dossiers of ~{args.size_kb} KB ...", flush=True)
        for i in range(args.dossiers):
            make_dossier(desks[i % 2], args.size_kb * 1024)
        for ctx in desks:
            sync_once(ctx)
        token = run_motcua("hub", "status-token", "--data", str(hub.data_dir), "--name", "bench",
                           "--agency", AGENCY).stdout.strip()

        import requests

        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        started, after, pages = time.perf_counter(), "", 0
        while True:
            page = session.get(hub.url + "/v1/case-system/dossiers", params={"after": after, "limit": 200},
                               timeout=120).json()
            pages, after = pages + 1, page["next_after"]
            if not page["more"]:
                break
        listing = time.perf_counter() - started
        print(f"pull pages (JSON only, 200/page): {args.dossiers / listing:.0f} dossiers/s   [{load()}]")

        started = time.perf_counter()
        report = pull_to_dir(hub.url, token, work / "import", limit=50)
        took = time.perf_counter() - started
        assert len(report.written) == args.dossiers, report
        megabytes = report.bytes_downloaded / 1e6
        print(f"pull + download + verify + write + ack: {args.dossiers / took:.1f} dossiers/s, "
              f"{megabytes / took:.1f} MB/s ({megabytes:.1f} MB in {took:.1f} s)   [{load()}]")

        arrivals: dict[str, float] = {}
        server = receiver(arrivals)
        run_motcua("hub", "webhooks", "add", "--data", str(hub.data_dir), "--name", "bench",
                   "--url", f"http://127.0.0.1:{server.server_address[1]}/hook", "--agency", AGENCY)
        latencies = []
        for _ in range(args.webhooks):
            dossier = make_dossier(desks[0], 4096)
            sync_once(desks[0])
            committed = time.monotonic()
            key = f"{dossier.id}:1"
            while key not in arrivals and time.monotonic() - committed < 60:
                time.sleep(0.005)
            latencies.append(arrivals[key] - committed)
        server.shutdown()
        cuts = statistics.quantiles(latencies, n=20)
        print(f"webhook delivery latency (commit returned -> receiver has it, poll {args.poll:g} s): "
              f"p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {cuts[18] * 1000:.0f} ms "
              f"over {len(latencies)} events   [{load()}]")
        for ctx in desks:
            ctx.close()
    finally:
        hub.stop()


if __name__ == "__main__":
    main()
