"""Load test: N simulated desks enrol, upload and commit concurrently against real hub processes.

Configurations (each with fresh servers and data):
  sqlite        one `motcua hub serve` on SQLite + local files (the default install)
  sqlite-w2     the same with `--workers 2` (two processes sharing the database and lock files)
  pg-s3-x1      one hub instance on PostgreSQL (fsync on) + S3 (SeaweedFS, a real object store)
  pg-s3-x2      two hub instances on the same PostgreSQL + SeaweedFS, desks split between them
  pg-moto-x1    one instance on PostgreSQL + moto's S3 server (for comparison with older figures)

Each simulated desk is the real agent library (its own SQLite outbox, device
key and blob store) with small dossiers queued and sealed before the clock
starts; the timed phase is `sync_once` for every desk at once, spread over
client processes so the load generator is not held by one GIL. Figures:
enrolments/s, dossiers/s, commit latency p50/p95/p99 (the POST /v1/commits
round trip), end-to-end per-desk sync latency, errors and duplicate commits
found in the hub database afterwards; and, per committed dossier, the hub
processes' CPU seconds, metadata transactions and object-store requests (from
the hubs' own /metrics counters, hub.storage_metrics), plus the share of
request time spent waiting for transaction locks. The load average is printed
beside the figures: on a shared 2-core machine they move with it. Then the
footprint of an idle `motcua run`: RSS and CPU over a quiet interval.

    .venv/bin/python bench/bench_load.py                       # 200 desks, all configurations
    .venv/bin/python bench/bench_load.py --agents 50 --configs sqlite
Prints one table and a JSON line (for the README figures).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures_servers import PostgresServer, S3Server, SeaweedServer, free_port, quick_dossier  # noqa: E402

SITE = "UBND xã Tải Thử"
AGENCY_PREFIX = "000.00.{:02d}.H29"  # one agency per 10 desks (code blocks 0-9)
#: every simulated desk comes from 127.0.0.1; real desks come from their own addresses, so the hub's
#: per-address limits (enrolments per minute, requests in progress) are lifted for the benchmark
SIMULATED_ADDRESSES = {"MOTCUA_HUB_ENROL_PER_MINUTE": "100000", "MOTCUA_HUB_MAX_REQUESTS_PER_ADDRESS": "100000"}


def start_hub(data: Path, env: dict[str, str], workers: int = 1) -> tuple[subprocess.Popen, str]:
    import requests

    port = free_port()
    log = open(data.parent / f"hub-{port}.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "hub", "serve", "--data", str(data), "--port", str(port),
                             "--log-level", "warning", "--workers", str(workers)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **SIMULATED_ADDRESSES, **env})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hub exited: see {log.name}")
        try:
            if requests.get(url + "/v1/hello", timeout=1).ok:
                return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("hub did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (uvicorn workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # fields[1] is the parent pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def hub_counters(url: str) -> dict[str, float]:
    """This instance's storage and request counters from its /metrics."""
    import requests
    from prometheus_client.parser import text_string_to_metric_families

    wanted = {"motcua_hub_db_transactions_total": "transactions", "motcua_hub_db_lock_wait_seconds_total": "lock_wait",
              "motcua_hub_db_pool_wait_seconds_total": "pool_wait", "motcua_hub_request_seconds_total": "request",
              "motcua_hub_object_store_requests_total": "s3"}
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(requests.get(url + "/metrics", timeout=60).text):
        for sample in family.samples:
            key = wanted.get(sample.name)
            if key == "s3":
                op = sample.labels.get("operation", "")
                found[f"s3:{op}"] = sample.value
                found["s3"] = found.get("s3", 0.0) + sample.value
            elif key:
                found[key] = found.get(key, 0.0) + sample.value
    return found


def _delta(after: list[dict[str, float]], before: list[dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for a, b in zip(after, before):
        for key, value in a.items():
            total[key] = total.get(key, 0.0) + value - b.get(key, 0.0)
    return total


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# -- preparation (not timed for throughput) -------------------------------------------------
def make_tokens(data: Path, env: dict[str, str], n: int) -> list[str]:
    from hub.config import HubConfig
    from hub.enrolment import create_token
    from hub.state import HubState

    state = HubState.open(HubConfig.from_env(data, database_url=env.get("MOTCUA_HUB_DATABASE_URL"),
                                             object_store_url=env.get("MOTCUA_HUB_OBJECT_STORE")))
    tokens = [create_token(state, _site_of(i), AGENCY_PREFIX.format(i // 10)) for i in range(n)]
    state.storage.close()
    return tokens


def _site_of(i: int) -> str:
    return SITE if i % 7 else f"{SITE} {i // 7}"


def prepare_desk(args: tuple[str, str, str, int, int]) -> float:
    """Enrol one desk and queue+seal its dossiers; return the enrolment latency."""
    home, url, token, index, dossiers = args
    from agent.context import AgentContext
    from agent.delivery.enrolment import enrol
    from agent.sealing.seal import seal_all

    ctx = AgentContext.open(home)
    started = time.perf_counter()
    enrol(ctx, url, token, _site_of(index))
    took = time.perf_counter() - started
    ctx.config.settings.retention_hours = 1  # keep payloads: the bench measures delivery only
    ctx.config.save()
    for _ in range(dossiers):
        quick_dossier(ctx, size=2048)
    seal_all(ctx)
    ctx.close()
    return took


# -- timed phase --------------------------------------------------------------------------
def deliver_slice(args: tuple[list[tuple[str, str]], int, float]) -> dict:
    """In a client process: sync the given desks with `threads` threads, starting at `start_at`."""
    desks, threads, start_at = args
    from agent.context import AgentContext
    from agent.delivery.sync import sync_once

    commit_latency: list[float] = []
    sync_latency: list[float] = []
    errors: list[str] = []
    committed = 0
    lock = threading.Lock()

    def one(desk: tuple[str, str]) -> None:
        nonlocal committed
        home, url = desk
        ctx = AgentContext.open(home)
        ctx.config.hub_url = url
        try:
            hub = ctx.hub
            original = hub.commit

            def timed_commit(*a, **k):  # type: ignore[no-untyped-def]
                t = time.perf_counter()
                try:
                    return original(*a, **k)
                finally:
                    with lock:
                        commit_latency.append(time.perf_counter() - t)

            hub.commit = timed_commit  # type: ignore[method-assign]
            t0 = time.perf_counter()
            report = sync_once(ctx)
            with lock:
                sync_latency.append(time.perf_counter() - t0)
                committed += len(report.committed)
                errors.extend(f"failed:{c}" for c in report.failed)
                errors.extend(f"rejected:{c}" for c in report.rejected)
                if report.unreachable:
                    errors.append(f"unreachable:{report.unreachable[:80]}")
        except Exception as exc:  # noqa: BLE001 - counted, the bench goes on
            with lock:
                errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
        finally:
            ctx.close()

    time.sleep(max(0.0, start_at - time.time()))
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, desks))
    return {"commit": commit_latency, "sync": sync_latency, "errors": errors, "committed": committed,
            "finished": time.time()}


def count_duplicates(config: str, data: Path, env: dict[str, str]) -> tuple[int, int]:
    """(dossier rows, rows beyond one per dossier) in the hub database."""
    sql = "SELECT COUNT(*), COUNT(*) - COUNT(DISTINCT dossier_id) FROM dossiers"
    if config.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(data / "hub.db")
        rows, dup = conn.execute(sql).fetchone()
        conn.close()
        return rows, dup
    import psycopg

    with psycopg.connect(env["MOTCUA_HUB_DATABASE_URL"]) as conn:
        return conn.execute(sql).fetchone()


def run_config(config: str, agents: int, dossiers: int, processes: int, threads: int, root: Path) -> dict:
    work = root / config
    work.mkdir(parents=True)
    servers: list = []
    env: dict[str, str] = {}
    hubs: list[subprocess.Popen] = []
    try:
        if not config.startswith("sqlite"):
            pg = PostgresServer(fsync=True, max_connections=400).start()
            s3 = S3Server().start() if "moto" in config else SeaweedServer().start()
            servers += [pg, s3]
            env = {"MOTCUA_HUB_DATABASE_URL": pg.create_database("bench"),
                   "MOTCUA_HUB_OBJECT_STORE": s3.create_bucket("bench", prefix="hub")}
        instances = 2 if config.endswith("x2") else 1
        data = work / "hub"
        tokens = make_tokens(data, env, agents)  # creates the hub keys once, shared by all instances
        urls = []
        for _ in range(instances):
            proc, url = start_hub(data, env, workers=2 if config == "sqlite-w2" else 1)
            hubs.append(proc)
            urls.append(url)
        homes = [str(work / f"desk{i:04d}") for i in range(agents)]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(32) as pool:  # enrolment + sealing: not the measured delivery
            enrol_latency = list(pool.map(prepare_desk, [(h, urls[i % instances], tokens[i], i, dossiers)
                                                         for i, h in enumerate(homes)]))
        prepare_seconds = time.perf_counter() - t0
        desks = [(h, urls[i % instances]) for i, h in enumerate(homes)]
        slices = [desks[p::processes] for p in range(processes)]
        start_at = time.time() + 2.0
        counters_before = [hub_counters(u) for u in urls]
        cpu_before = sum(cpu_seconds(p.pid) for p in hubs)
        load_before = os.getloadavg()[0]
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            results = pool.map(deliver_slice, [(s, threads, start_at) for s in slices])
        hub_cpu = sum(cpu_seconds(p.pid) for p in hubs) - cpu_before
        load_after = os.getloadavg()[0]
        counters = _delta([hub_counters(u) for u in urls], counters_before)
        elapsed = max(r["finished"] for r in results) - start_at
        commit = [x for r in results for x in r["commit"]]
        sync = [x for r in results for x in r["sync"]]
        errors = [e for r in results for e in r["errors"]]
        committed = sum(r["committed"] for r in results)
        rows, duplicates = count_duplicates(config, data, env)
        hub_rss = [int(open(f"/proc/{p.pid}/status").read().split("VmRSS:")[1].split()[0]) // 1024 for p in hubs]
        return {"config": config, "instances": instances, "agents": agents, "dossiers": committed,
                "expected": agents * dossiers, "seconds": round(elapsed, 2),
                "dossiers_per_s": round(committed / elapsed, 1) if elapsed > 0 else 0,
                "commit_p50_ms": round(1000 * percentile(commit, .50), 1),
                "commit_p95_ms": round(1000 * percentile(commit, .95), 1),
                "commit_p99_ms": round(1000 * percentile(commit, .99), 1),
                "sync_p50_ms": round(1000 * percentile(sync, .50), 1),
                "sync_p99_ms": round(1000 * percentile(sync, .99), 1),
                "enrol_p50_ms": round(1000 * statistics.median(enrol_latency), 1),
                "prepare_s": round(prepare_seconds, 1), "errors": len(errors), "error_samples": errors[:3],
                "hub_rows": rows, "duplicates": duplicates, "hub_rss_mb": hub_rss,
                "hub_cpu_ms_per_dossier": round(1000 * hub_cpu / committed, 1) if committed else None,
                # per-process counters: with --workers 2 /metrics shows one worker only, so n/a there
                "tx_per_dossier": None if config == "sqlite-w2" or not committed
                else round(counters.get("transactions", 0) / committed, 1),
                "s3_per_dossier": round(counters.get("s3", 0) / committed, 1) if committed and env else 0.0,
                "s3_ops_per_dossier": {k[3:]: round(v / committed, 2) for k, v in sorted(counters.items())
                                       if k.startswith("s3:") and v} if committed else {},
                "lock_wait_share": round(counters.get("lock_wait", 0) / counters["request"], 4)
                if counters.get("request") else None,
                "pool_wait_share": round(counters.get("pool_wait", 0) / counters["request"], 4)
                if counters.get("request") else None,
                "load_avg": [round(load_before, 2), round(load_after, 2)]}
    finally:
        for proc in hubs:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for server in servers:
            server.stop()


def idle_footprint(root: Path, seconds: float) -> dict:
    """RSS and CPU of an enrolled, idle `motcua run` (empty queue)."""
    work = root / "idle"
    work.mkdir()
    data = work / "hub"
    [token] = make_tokens(data, {}, 1)
    hub, url = start_hub(data, {})
    home = work / "desk"
    try:
        prepare_desk((str(home), url, token, 0, 0))
        agent = subprocess.Popen([sys.executable, "-m", "agent.cli", "--home", str(home), "run"], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(8)  # start-up, first pass

        def cpu() -> float:
            fields = open(f"/proc/{agent.pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        c0, t0 = cpu(), time.time()
        time.sleep(seconds)
        c1, t1 = cpu(), time.time()
        status = open(f"/proc/{agent.pid}/status").read()
        rss = int(status.split("VmRSS:")[1].split()[0]) / 1024
        agent.terminate()
        agent.wait(15)
        return {"agent_idle_rss_mb": round(rss, 1), "agent_idle_cpu_percent": round(100 * (c1 - c0) / (t1 - t0), 2),
                "idle_seconds": round(t1 - t0, 1)}
    finally:
        hub.terminate()
        hub.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--dossiers", type=int, default=2, help="dossiers per desk")
    parser.add_argument("--configs", default="sqlite,sqlite-w2,pg-s3-x1,pg-s3-x2,pg-moto-x1")
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--threads", type=int, default=50, help="desks syncing at once per client process")
    parser.add_argument("--idle-seconds", type=float, default=30)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="motcua-bench-"))
    results = []
    try:
        print(f"{'config':<10} {'desks':>5} {'dossiers':>8} {'dossiers/s':>10} {'commit p50/p95/p99 ms':>24} "
              f"{'sync p50/p99 ms':>16} {'errors':>6} {'dups':>4} {'enrol p50 ms':>12} hub RSS MB", flush=True)
        for config in [c for c in args.configs.split(",") if c]:
            r = run_config(config, args.agents, args.dossiers, args.processes, args.threads, root)
            results.append(r)
            print(f"{r['config']:<10} {r['agents']:>5} {r['dossiers']:>4}/{r['expected']:<3} {r['dossiers_per_s']:>10} "
                  f"{r['commit_p50_ms']:>8}/{r['commit_p95_ms']}/{r['commit_p99_ms']:<8} "
                  f"{r['sync_p50_ms']:>8}/{r['sync_p99_ms']:<7} {r['errors']:>6} {r['duplicates']:>4} "
                  f"{r['enrol_p50_ms']:>12} {r['hub_rss_mb']}", flush=True)
            if r["error_samples"]:
                print("   errors:", r["error_samples"], flush=True)
        print(f"\n{'per dossier':<10} {'hub CPU ms':>10} {'transactions':>12} {'S3 requests':>11} "
              f"{'lock wait':>9} {'pool wait':>9}  load avg (before/after)  S3 requests by operation")
        for r in results:
            share = (lambda v: "n/a" if v is None else f"{100 * v:.1f}%")
            print(f"{r['config']:<10} {r['hub_cpu_ms_per_dossier']!s:>10} {r['tx_per_dossier'] or 'n/a'!s:>12} "
                  f"{r['s3_per_dossier']:>11} {share(r['lock_wait_share']):>9} {share(r['pool_wait_share']):>9}  "
                  f"{r['load_avg'][0]}/{r['load_avg'][1]:<18} {r['s3_ops_per_dossier']}", flush=True)
        base = next((r for r in results if r["config"] == "sqlite"), None)
        if base:
            for r in results:
                cpu = (f", {r['hub_cpu_ms_per_dossier'] / base['hub_cpu_ms_per_dossier']:.2f}x sqlite hub CPU per dossier"
                       if r["hub_cpu_ms_per_dossier"] and base["hub_cpu_ms_per_dossier"] else "")
                print(f"   {r['config']}: {r['dossiers_per_s'] / base['dossiers_per_s']:.2f}x sqlite throughput{cpu}")
        one = next((r for r in results if r["config"] == "pg-s3-x1"), None)
        two = next((r for r in results if r["config"] == "pg-s3-x2"), None)
        if one and two:
            print(f"   two instances: {two['dossiers_per_s'] / one['dossiers_per_s']:.2f}x one instance's throughput "
                  f"(on {os.cpu_count()} cores shared with the load generator and the servers)")
        idle = idle_footprint(root, args.idle_seconds) if args.idle_seconds > 0 else {}
        if idle:
            print(f"agent idle: RSS {idle['agent_idle_rss_mb']} MB, CPU {idle['agent_idle_cpu_percent']}% "
                  f"over {idle['idle_seconds']} s (targets: < 80 MB, ~0%)")
        print(json.dumps({"cpus": os.cpu_count(), "results": results, "idle": idle}))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
