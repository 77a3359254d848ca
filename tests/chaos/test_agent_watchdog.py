"""The agent abandons a request stuck on a dead connection as soon as the hub answers elsewhere (issue 18).

`motcua sync` uploads a dossier over a slow link between two network namespaces.
Mid-upload, every TCP connection the agent has open to the hub is black-holed
(iptables drops that connection's packets both ways, forever), while new
connections still work — what a long cut leaves behind: a connection deep in
retransmission back-off next to a link that is up again. The HTTP timeout is
far longer than the test allows, so only the progress watchdog (stall → probe
on a new connection → the hub answers → abandon, resume at the hub's offset)
can finish the delivery in time; with the watchdog off (`stall_seconds` 0) the
same run must still be stuck.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from agent.context import AgentContext

from .dossiers import make_dossier
from .netns import Link, _run, available
from .procs import ROOT, NsAgent, NsHub

OK, WHY = available()
pytestmark = [pytest.mark.skipif(not OK, reason=f"chaos harness unavailable: {WHY}"), pytest.mark.timeout(400)]

HTTP_TIMEOUT = 300  # far beyond the test: the watchdog, not the timeout, must end the stuck request
DELIVERED_WITHIN = 60


def _agent_connections(link: Link, port: int) -> list[int]:
    """Local ports of the agent's established connections to the hub."""
    out = _run("ip", "netns", "exec", link.agent_ns, "ss", "-tnH", "state", "established",
               f"( dport = :{port} )").stdout
    return [int(line.split()[2].rsplit(":", 1)[1]) for line in out.splitlines() if line.strip()]


def _black_hole(link: Link, ports: list[int]) -> None:
    for port in ports:
        for chain, flag in (("OUTPUT", "--sport"), ("INPUT", "--dport")):
            _run("ip", "netns", "exec", link.agent_ns, "iptables", "-I", chain, "1", "-p", "tcp", flag, str(port),
                 "-j", "DROP")


def _sync_through_a_black_hole(tmp_path, stall_seconds: float) -> tuple[subprocess.Popen, NsHub, NsAgent, Link]:
    link = Link(rate_kbit=512).create()
    hub = NsHub(link, tmp_path / "hub").start()
    agent = NsAgent(link, tmp_path / "agent")
    agent.enrol(hub, timeout=HTTP_TIMEOUT, stall_seconds=stall_seconds, chunk_size=64 * 1024)
    ctx = AgentContext.open(agent.home)
    try:
        make_dossier(ctx, 900_000)  # ~15 s at 512 kbit/s
    finally:
        ctx.close()
    sync = subprocess.Popen(link.wrap(link.agent_ns, [sys.executable, "-m", "agent.cli", "sync"]), cwd=ROOT,
                            env={**os.environ, **agent.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the upload is under way
        rows = hub.sql("SELECT upload_offset FROM uploads")
        if rows and rows[0][0] > 0:
            break
        time.sleep(0.1)
    else:
        sync.kill()
        pytest.fail("the upload never started")
    ports = _agent_connections(link, hub.port)
    assert ports, "the agent should hold a connection to the hub mid-upload"
    _black_hole(link, ports)
    return sync, hub, agent, link


def test_a_black_holed_upload_moves_to_a_new_connection_and_finishes(tmp_path):
    sync, hub, agent, link = _sync_through_a_black_hole(tmp_path, stall_seconds=2)
    try:
        try:
            out, _ = sync.communicate(timeout=DELIVERED_WITHIN)
        except subprocess.TimeoutExpired:
            sync.kill()
            pytest.fail(f"the stuck request was not abandoned within {DELIVERED_WITHIN} s")
        assert sync.returncode == 0, out
        assert agent.counts().get("committed", 0) + agent.counts().get("purged", 0) == 1
        assert hub.sql("SELECT COUNT(*) FROM dossiers") == [(1,)]
    finally:
        hub.stop()
        link.destroy()


def test_without_the_watchdog_the_same_upload_stays_stuck(tmp_path):
    """The control: proves the black hole really holds a request (so the test above can fail)."""
    sync, hub, agent, link = _sync_through_a_black_hole(tmp_path, stall_seconds=0)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            sync.communicate(timeout=DELIVERED_WITHIN / 2)
        assert hub.sql("SELECT COUNT(*) FROM dossiers") == [(0,)]
    finally:
        sync.kill()
        sync.wait(10)
        hub.stop()
        link.destroy()
