"""What the hub's HTTP parser costs: h11 (what `motcua hub serve` uses, because it bounds headers)
against httptools (uvicorn's default, which lets one endless header grow the hub's memory).

For each parser, a real hub app on loopback (uvicorn in a child process) answers:
  * unauthenticated GET /v1/hello, sequentially (requests/s, p50/p95 latency);
  * a 64 MiB upload in 16 MiB signed PATCH chunks by an enrolled desk (MiB/s).
Timings are wall clock on a shared machine: the load average is printed beside them.

    .venv/bin/python bench/bench_hub_http.py [--hellos 500] [--upload-mib 64]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = """
import sys, uvicorn
from pathlib import Path
from hub.app import create_app
from hub.config import HubConfig
uvicorn.run(create_app(HubConfig.from_env(Path(sys.argv[1]))), host="127.0.0.1", port=int(sys.argv[2]),
            http=sys.argv[3], log_level="warning", access_log=False)
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(data: Path, parser: str) -> tuple[subprocess.Popen, str]:
    port = _port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(data), str(port), parser], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(url + "/v1/hello", timeout=1).ok:
                return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"hub with {parser} did not start")


def _run(parser: str, hellos: int, upload_mib: int) -> dict[str, float]:
    from agent.context import AgentContext
    from agent.delivery.enrolment import enrol
    from hub.enrolment import create_token
    from hub.state import HubState
    from hub.config import HubConfig

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "hub"
        token = create_token(HubState.open(HubConfig(data_dir=data)), "Bench", "000.00.01.H29")
        proc, url = _start(data, parser)
        try:
            session = requests.Session()
            latencies = []
            for _ in range(hellos):
                started = time.perf_counter()
                session.get(url + "/v1/hello", timeout=10).raise_for_status()
                latencies.append(time.perf_counter() - started)
            ctx = AgentContext.open(Path(tmp) / "desk")
            enrol(ctx, url, token, "Bench")
            payload = os.urandom(upload_mib * 1024 * 1024)
            started = time.perf_counter()
            upload_url = ctx.hub.create_upload(len(payload), hashlib.sha256(payload).hexdigest(), "bench.bin")
            import io

            ctx.hub.upload(upload_url, io.BytesIO(payload), len(payload), 16 * 1024 * 1024)
            seconds = time.perf_counter() - started
            ctx.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    latencies.sort()
    return {"hello_rps": hellos / sum(latencies), "hello_p50_ms": 1000 * statistics.median(latencies),
            "hello_p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
            "upload_mib_s": upload_mib / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hellos", type=int, default=500)
    parser.add_argument("--upload-mib", type=int, default=64)
    args = parser.parse_args()
    print(f"{'parser':<10} {'hello req/s':>12} {'p50 ms':>8} {'p95 ms':>8} {'upload MiB/s':>13}  load average")
    for name in ("h11", "httptools"):
        figures = _run(name, args.hellos, args.upload_mib)
        print(f"{name:<10} {figures['hello_rps']:>12.0f} {figures['hello_p50_ms']:>8.2f} {figures['hello_p95_ms']:>8.2f}"
              f" {figures['upload_mib_s']:>13.1f}  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
