"""Benchmark: motcua vs a naive uploader over a shaped, lossy, cut veth link (needs root).

    .venv/bin/python bench/bench_link.py --dossiers 1000 --size-kb 60 --rate 2000 --loss 0.01 --cut-every 30
    .venv/bin/python bench/bench_link.py --grid --cells 64:0.02:15:30 --seconds 120 --size-kb 200

`--grid` runs the stall grid instead (cuts that outlast TCP's back-off; see bench/link_grid.py).

For each scenario the same dossiers go (1) through `motcua run` (tus resume,
adaptive chunks, probe-driven reconnect) and (2) through a naive baseline —
one multipart POST per dossier, restarted from zero after any failure, with
the same capped, jittered backoff (what ODK/Kobo-style clients do) — to a
tiny `/bench/naive` endpoint added to the hub app *only inside this process*.
Prints per client: goodput (% of link rate), bytes on the wire, bytes resent
per interruption, time to first byte after each reconnect.
Link model: tests/chaos/netns.py (tbf both ways, iptables loss, link down/up).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# -- processes that run inside the namespaces ------------------------------------------------------
def serve_hub(data: str, host: str, port: int) -> None:
    """The real hub app plus a naive receiver (bench only, never in the product)."""
    import uvicorn
    from fastapi import Request

    from hub.app import create_app
    from hub.config import HubConfig

    app = create_app(HubConfig(data_dir=Path(data)))
    naive_dir = Path(data) / "naive"
    naive_dir.mkdir(parents=True, exist_ok=True)

    @app.post("/bench/naive")
    async def naive(request: Request) -> dict:
        body = await request.body()
        path = naive_dir / request.headers.get("x-name", "x")
        with open(path, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        return {"ok": True, "bytes": len(body)}

    from hub.connections import WatchedHttpProtocol

    # the same connection limits as `motcua hub serve`
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, http=WatchedHttpProtocol,
                timeout_graceful_shutdown=10, server_header=False)


def naive_client(url: str, files_dir: str, timeout: float, max_backoff: float) -> None:
    """POST each file as multipart; on any failure wait (full jitter, capped) and restart from zero."""
    import requests

    files = sorted(Path(files_dir).iterdir())
    attempts = 0
    for path in files:
        data = path.read_bytes()
        failures = 0
        while True:
            attempts += 1
            try:
                response = requests.post(url, files={"file": (path.name, data, "application/pdf")},
                                         headers={"x-name": path.name}, timeout=timeout)
                if response.status_code < 300:
                    print(json.dumps({"delivered": path.name}), flush=True)
                    break
            except requests.RequestException:
                pass
            failures += 1
            time.sleep(random.uniform(0, min(max_backoff, 2 * 2 ** failures)))
    print(json.dumps({"files": len(files), "attempts": attempts}), flush=True)


# -- the driver ----------------------------------------------------------------------------------------
def _cutter(link, every: float, down_for: float, stop: threading.Event, ttfb: list[float], cuts: list[int],
            reset: bool) -> None:
    while not stop.wait(every):
        link.down(reset=reset)
        cuts.append(1)
        if stop.wait(down_for):
            link.up()
            return
        before = link.counters()["up_received"]
        link.up()
        back = time.monotonic()
        while not stop.is_set() and time.monotonic() - back < every:
            if link.counters()["up_received"] - before > 200:  # a data-bearing packet reached the hub
                ttfb.append(time.monotonic() - back)
                break
            time.sleep(0.02)


def run_scenario(args: argparse.Namespace, client: str, workdir: Path, deadline: float | None = None) -> dict:
    """Send the dossiers with one client; the naive one is stopped after `deadline` seconds
    (on a link cut more often than one dossier takes to send it may never finish)."""
    from bench.link_grid import queue_workload, start_bench_hub
    from tests.chaos.netns import Link
    from tests.chaos.procs import NsAgent

    workdir.mkdir(parents=True)
    with Link(rate_kbit=args.rate, loss=args.loss) as link:
        hub = start_bench_hub(link, workdir, __file__)
        agent = NsAgent(link, workdir / "agent")
        agent.enrol(hub, timeout=10, max_backoff=args.max_backoff, idle_interval=1, probe_interval=1,
                    reconnect_jitter=0.5)
        files = workdir / "files"
        payload = sum(queue_workload(agent.home, args.dossiers, args.size_kb, files))
        stop, ttfb, cuts = threading.Event(), [], []
        start_counters = link.counters()
        started = time.monotonic()
        cutter = threading.Thread(target=_cutter, args=(link, args.cut_every, args.down_for, stop, ttfb, cuts,
                                                                 args.cut_kind == "reset"),
                                  daemon=True) if args.cut_every else None
        if cutter:
            cutter.start()
        first_byte: list[float] = []

        def watch_first_byte() -> None:  # goodput counts from the first payload packet, not process start-up
            while not first_byte and not stop.is_set():
                if link.counters()["up_received"] - start_counters["up_received"] > 20_000:
                    first_byte.append(time.monotonic())
                time.sleep(0.02)

        threading.Thread(target=watch_first_byte, daemon=True).start()
        delivered = args.dossiers
        if client == "motcua":
            agent.start()
            while True:
                counts = agent.counts()
                if counts.get("committed", 0) + counts.get("purged", 0) == args.dossiers:
                    break
                time.sleep(0.1)
            finished = time.monotonic()
            agent.stop()
        else:
            command = link.wrap(link.agent_ns, [sys.executable, __file__, "--naive-client", f"{hub.url}/bench/naive",
                                                str(files), "60", str(args.max_backoff)])
            try:
                done = subprocess.run(command, check=True, capture_output=True, text=True, timeout=deadline).stdout
            except subprocess.TimeoutExpired as exc:
                done = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            delivered = done.count('"delivered"')
            finished = time.monotonic()
        elapsed = finished - (first_byte[0] if first_byte else started)
        stop.set()
        end = link.counters()
        hub.stop()
    wire = (end["up_received"] - start_counters["up_received"]) + (end["down_sent"] - start_counters["down_sent"])
    link_bytes = args.rate * 1000 / 8 * elapsed
    payload = payload * delivered // args.dossiers  # what actually arrived
    return {"client": client, "seconds": round(elapsed, 1), "delivered": f"{delivered}/{args.dossiers}",
            "payload_bytes": payload, "wire_bytes": wire,
            "wire_per_payload_byte": round(wire / payload, 2) if payload else None,
            "goodput_pct": round(100 * payload / link_bytes, 1), "interruptions": len(cuts),
            "ttfb_after_reconnect_s": [round(t, 2) for t in ttfb]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve-hub", nargs=3, metavar=("DATA", "HOST", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--naive-client", nargs=4, metavar=("URL", "DIR", "TIMEOUT", "BACKOFF"), help=argparse.SUPPRESS)
    parser.add_argument("--dossiers", type=int, default=1000)
    parser.add_argument("--size-kb", type=int, default=60)
    parser.add_argument("--rate", type=int, default=2000, help="link rate, kbit/s")
    parser.add_argument("--loss", type=float, default=0.0)
    parser.add_argument("--cut-every", type=float, default=0, help="seconds between link cuts (0: none)")
    parser.add_argument("--down-for", type=float, default=3.0)
    parser.add_argument("--cut-kind", choices=("reset", "stall"), default="reset",
                        help="reset: a cut also kills open TCP connections (3G modem re-dial, new address); "
                             "stall: connections survive and resume when the link is back")
    parser.add_argument("--max-backoff", type=float, default=10)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--grid", action="store_true",
                        help="the stall grid (bench/link_grid.py): cells of rate:loss:cut:period, both clients")
    parser.add_argument("--cells", default="", help="grid cells, e.g. 64:0.02:15:30,256:0.01:5:20 (default: all 108)")
    parser.add_argument("--seconds", type=float, default=120, help="grid: seconds per cell and client")
    args = parser.parse_args()
    if args.serve_hub:
        serve_hub(args.serve_hub[0], args.serve_hub[1], int(args.serve_hub[2]))
        return
    if args.naive_client:
        naive_client(args.naive_client[0], args.naive_client[1], float(args.naive_client[2]), float(args.naive_client[3]))
        return
    from tests.chaos.netns import available

    ok, why = available()
    if not ok:
        sys.exit(f"bench_link needs network namespaces: {why}")
    import tempfile

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-link-"))
    if args.grid:
        from bench.link_grid import Cell, all_cells, run_grid

        cells = [Cell.parse(c) for c in args.cells.split(",") if c.strip()] or all_cells()
        run_grid(cells, args.seconds, args.size_kb, work, str(Path(__file__).resolve()))
        return
    print(f"load average {os.getloadavg()[0]:.2f}; link {args.rate} kbit/s loss {args.loss:.1%} cut ({args.cut_kind}) every {args.cut_every or '-'} s "
          f"for {args.down_for} s; "
          f"{args.dossiers} dossiers x {args.size_kb} KiB")
    results = {}
    for client in ("motcua", "naive"):
        # the baseline gets 4x motcua's time (at least 2 min) before it is stopped
        deadline = None if client == "motcua" else max(120.0, 4 * results["motcua"]["seconds"])
        results[client] = run_scenario(args, client, work / client, deadline)
        print("scenario", json.dumps(results[client]), flush=True)  # partial results survive an interrupted run
        if args.cut_every:  # the same transfer without cuts, to see what the cuts cost on the wire
            clean = argparse.Namespace(**{**vars(args), "cut_every": 0})
            clean_run = run_scenario(clean, client, work / f"{client}-clean", deadline)
            print("scenario", json.dumps({**clean_run, "client": f"{client} (no cuts)"}), flush=True)
            results[client]["clean_wire_bytes"] = clean_run["wire_bytes"]
            results[client]["clean_payload_bytes"] = clean_run["payload_bytes"]
    for r in results.values():
        if r["interruptions"]:
            # what the uncut link needed per delivered byte, times what this run delivered
            clean_for_delivered = r["clean_wire_bytes"] * r["payload_bytes"] / max(1, r["clean_payload_bytes"])
            r["resent_bytes_per_interruption"] = round((r["wire_bytes"] - clean_for_delivered) / r["interruptions"])
        naive, this = results["naive"]["wire_per_payload_byte"], r["wire_per_payload_byte"]
        # wire bytes per delivered byte, naive over this client (inf: the baseline delivered nothing)
        r["naive_wire_per_byte_over_this"] = round(naive / this, 2) if naive and this else float("inf")
        ttfb = r.pop("ttfb_after_reconnect_s")
        r["ttfb_after_reconnect_median_s"] = sorted(ttfb)[len(ttfb) // 2] if ttfb else None
        r["ttfb_after_reconnect_max_s"] = max(ttfb) if ttfb else None
        print(json.dumps(r))

if __name__ == "__main__":
    main()
