"""Benchmark: bytes resent after an interrupted upload — resume (tus offset) vs restart from zero.

For each dossier size and chunk size, a real hub process receives one sealed
dossier from a real agent (library `sync_once`). At a random point of the upload
the hub is SIGKILLed while a chunk is in flight (that chunk is lost), restarted
on the same port and data, and the agent syncs again: it asks the hub for its
durable offset and sends only the rest. The naive baseline is measured in the
same run on the same hub: a client that restarts from zero resends everything
it had sent before the cut, so after the cut it uploads the whole object again
(this script really uploads it and counts the bytes).

    max chunk     = the agent's `chunk_size` setting: the largest PATCH (the agent
                    may send smaller chunks while it learns the link's throughput)
    cut at        = the hub's durable offset when it was killed (where resume starts)
    bytes sent    = payload bytes of every PATCH handed to the link (a chunk in
                    flight at the cut counts as sent and lost)
    resent        = bytes sent in total - dossier size
    ratio         = naive resent / resume resent  (how many times more the naive client resends)
    upload s      = time spent in PATCH requests after the cut (loopback: a lower bound for a real link)

Run:  .venv/bin/python bench/bench_resume.py [--sizes 1,5,20] [--chunks 64,256,1024] [--seed N]
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from agent.capture.files import import_files  # noqa: E402
from agent.context import AgentContext  # noqa: E402
from agent.delivery.enrolment import enrol  # noqa: E402
from agent.capture.sample_pages import noise_pdf  # noqa: E402
from agent.sealing.seal import seal_dossier  # noqa: E402
from agent.delivery.sync import sync_once  # noqa: E402
from tests.conftest import SITE, HubProcess  # noqa: E402  (the same real hub process the tests use)

MiB, KiB = 1024 * 1024, 1024


class CountingAdapter(requests.adapters.HTTPAdapter):
    """Counts PATCH payload bytes on the agent's session and fires `on_patch` before each one is sent."""

    def __init__(self, on_patch=None):
        super().__init__()
        self.on_patch = on_patch
        self.patch_bytes = 0
        self.patch_seconds = 0.0

    def send(self, request, *args, **kwargs):
        if request.method != "PATCH":
            return super().send(request, *args, **kwargs)
        length = len(request.body or b"")
        if self.on_patch:
            self.on_patch(int(request.headers["Upload-Offset"]), length)
        self.patch_bytes += length
        started = time.perf_counter()
        try:
            return super().send(request, *args, **kwargs)
        finally:
            self.patch_seconds += time.perf_counter() - started


def counting(ctx: AgentContext, on_patch=None) -> CountingAdapter:
    adapter = CountingAdapter(on_patch)
    ctx.hub.session.mount("http://", adapter)
    ctx.hub.session.mount("https://", adapter)
    return adapter


@dataclass
class Row:
    size: int
    chunk: int
    cut: int
    resume_sent: int
    resume_resent: int
    naive_sent: int
    naive_resent: int
    resume_seconds: float
    naive_seconds: float

    @property
    def ratio(self) -> float:
        return self.naive_resent / self.resume_resent if self.resume_resent else float("inf")


def run_one(hub: HubProcess, work: Path, scan: Path, chunk: int, rng: random.Random) -> Row:
    ctx = AgentContext.open(work / f"agent-{chunk}")
    try:
        enrol(ctx, hub.url, hub.token(), SITE)
        ctx.config.settings.chunk_size = chunk
        ctx.config.settings.retention_hours = 1  # keep the payload for the naive re-upload below
        dossier = seal_dossier(ctx, import_files(ctx, [scan], "1.001193", "counter").id)
        [document] = ctx.outbox.documents(dossier.id)
        size = document.size
        cut = int(size * rng.uniform(0.1, 0.9))

        def cut_link(offset: int, length: int) -> None:
            if offset <= cut < offset + length and hub.proc and hub.proc.poll() is None:
                hub.kill()  # the chunk [offset, offset+length) is in flight and lost

        # pass 1: interrupted
        first_adapter = counting(ctx, cut_link)
        first = sync_once(ctx)
        assert first.unreachable and not first.committed, "the upload was not interrupted"
        pass1 = first_adapter.patch_bytes

        hub.start()
        durable = ctx.hub.tus.offset(ctx.outbox.upload_url(document.sha256))

        # pass 2: resume from the hub's durable offset
        resume_adapter = counting(ctx)
        second = sync_once(ctx)
        assert second.committed == [dossier.code], second.to_json()
        assert second.resumed_from.get(dossier.code, 0) == durable
        assert resume_adapter.patch_bytes == second.bytes_sent == size - durable

        # naive baseline, same run, same hub: after the cut, upload the whole object again from byte 0
        naive_adapter = counting(ctx)
        url = ctx.hub.create_upload(size, document.sha256, document.name)
        with ctx.outbox.blobs.open(document.sha256) as stream:
            ctx.hub.upload(url, stream, size, chunk)
        assert naive_adapter.patch_bytes == size

        resume_total = pass1 + resume_adapter.patch_bytes
        naive_total = pass1 + naive_adapter.patch_bytes
        return Row(size, chunk, durable, resume_total, resume_total - size, naive_total, naive_total - size,
                   resume_adapter.patch_seconds, naive_adapter.patch_seconds)
    finally:
        ctx.close()


def human(n: float) -> str:
    for unit, scale in (("MiB", MiB), ("KiB", KiB)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{int(n)} B"


def print_table(rows: list[Row]) -> None:
    header = (f"{'dossier':>10} {'max chunk':>9} {'cut at (durable)':>20} | {'resume: sent':>13} {'resent':>10}"
              f" | {'naive: sent':>13} {'resent':>10} | {'naive/resume':>12} | {'upload s after cut: resume':>27} {'naive':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{human(r.size):>10} {human(r.chunk):>9} {human(r.cut):>11} ({r.cut / r.size:4.0%})"
              f" | {human(r.resume_sent):>13} {human(r.resume_resent):>10}"
              f" | {human(r.naive_sent):>13} {human(r.naive_resent):>10}"
              f" | {r.ratio:>11.1f}x | {r.resume_seconds:>27.2f} {r.naive_seconds:>6.2f}")
    resume = sum(r.resume_resent for r in rows)
    naive = sum(r.naive_resent for r in rows)
    total = sum(r.size for r in rows)
    print("-" * len(header))
    print(f"all runs: resent {human(resume)} with resume vs {human(naive)} restarting from zero "
          f"({naive / resume:.1f}x less; {resume / total:.2%} vs {naive / total:.2%} of the bytes delivered)")
    print("resent with resume is at most the one chunk in flight at the cut; naive resends everything before it.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,5,20", help="dossier sizes in MiB (comma-separated)")
    parser.add_argument("--chunks", default="64,256,1024", help="chunk sizes in KiB (comma-separated)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for the cut points")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the agent logs each interruption as a warning: expected here
    os.environ.setdefault("MOTCUA_OCR", "off")  # an OCR layer on noise pages is not what is measured
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    rng = random.Random(seed)
    sizes = [float(s) for s in args.sizes.split(",")]
    chunks = [int(c) * KiB for c in args.chunks.split(",")]
    print(f"bench_resume: sizes {args.sizes} MiB, chunks {args.chunks} KiB, seed {seed}; hub killed with SIGKILL "
          "mid-upload and restarted on the same port/data\n")
    rows = []
    with tempfile.TemporaryDirectory(prefix="motcua-bench-") as tmp:
        for index, size_mib in enumerate(sizes):
            work = Path(tmp) / f"size-{index}"
            work.mkdir()
            scan = noise_pdf(work / "scan.pdf", int(size_mib * MiB), seed + index)
            hub = HubProcess(work / "hub").start()  # one hub per size: <= 10 devices per agency
            try:
                for chunk in chunks:
                    rows.append(run_one(hub, work, scan, chunk, rng))
                    print(f"  done: {size_mib:g} MiB, chunk {human(chunk)}", file=sys.stderr)
            finally:
                hub.stop()
    print_table(rows)


if __name__ == "__main__":
    main()
