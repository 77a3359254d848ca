"""A hostile link between two network namespaces, for chaos tests and bench/bench_link.py.

    [hub namespace]  veth  <==== tc tbf (each direction) + iptables random loss ====>  veth  [agent namespace]
       10.X.Y.1                                                                          10.X.Y.2

* rate: `tc qdisc … tbf` on the egress of BOTH veth ends, which shapes both
  directions (a veth end's egress is the peer's ingress, so no ifb is needed);
* loss: `iptables -A INPUT -m statistic --mode random --probability p -j DROP`
  in both namespaces;
* cuts: `ip link set … down/up` on the agent's end (the hub's end then has no
  carrier either), like a 3G modem dropping; optionally tearing open TCP
  connections down first with RSTs (a modem re-dial with a new address);
* no latency: sch_netem is not in this kernel; rate + loss + cuts only.
Needs root, `ip` (iproute2), `tc` and `iptables`; `available()` says why not.
Processes run inside a namespace with `ip netns exec NS cmd…` (exec, same pid).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field


#: answers every TCP packet except RSTs with an RST: the RSTs themselves must get through
_RESET_RULE = ("-p", "tcp", "!", "--tcp-flags", "RST", "RST", "-j", "REJECT", "--reject-with", "tcp-reset")
RESET_GRACE_SECONDS = 2.0


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


def available() -> tuple[bool, str]:
    """(True, "") when network namespaces can be made here, else (False, the reason)."""
    if os.geteuid() != 0:
        return False, "needs root to create network namespaces (ip netns)"
    for tool in ("ip", "tc", "iptables"):
        if shutil.which(tool) is None:
            return False, f"`{tool}` is not installed (Debian: iproute2 / iptables; see Makefile DEBS)"
    probe = f"mcprobe{secrets.token_hex(3)}"
    made = _run("ip", "netns", "add", probe, check=False)
    if made.returncode != 0:
        return False, f"cannot create a network namespace: {made.stderr.strip()}"
    _run("ip", "netns", "del", probe, check=False)
    return True, ""


@dataclass
class Link:
    """Two namespaces and the veth pair between them; use as a context manager."""

    rate_kbit: int | None = None
    loss: float = 0.0
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    subnet: int = field(default_factory=lambda: 1 + secrets.randbelow(250))

    def __post_init__(self) -> None:
        self.resetting = False  # a reset cut's RST rules are in place
        self.hub_ns, self.agent_ns = f"mch{self.tag}", f"mca{self.tag}"
        self.hub_if, self.agent_if = f"vh{self.tag}", f"va{self.tag}"
        self.hub_ip, self.agent_ip = f"10.213.{self.subnet}.1", f"10.213.{self.subnet}.2"
        self.is_up = False

    # -- lifecycle -----------------------------------------------------------------
    def create(self) -> "Link":
        _run("ip", "netns", "add", self.hub_ns)
        _run("ip", "netns", "add", self.agent_ns)
        _run("ip", "link", "add", self.hub_if, "netns", self.hub_ns, "type", "veth", "peer", "name", self.agent_if,
             "netns", self.agent_ns)
        for ns, dev, ip in ((self.hub_ns, self.hub_if, self.hub_ip), (self.agent_ns, self.agent_if, self.agent_ip)):
            _run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "netns", "exec", ns, "sh", "-c",
                 "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null; true")
            _run("iptables", "--version")  # fail early with a clear error if it is missing
        self.up()
        self.shape(self.rate_kbit)
        self.set_loss(self.loss)
        return self

    def destroy(self) -> None:
        for ns in (self.hub_ns, self.agent_ns):
            _run("ip", "netns", "del", ns, check=False)

    def __enter__(self) -> "Link":
        return self.create()

    def __exit__(self, *_: object) -> None:
        self.destroy()

    # -- conditions ----------------------------------------------------------------
    def up(self) -> None:
        _run("ip", "-n", self.agent_ns, "link", "set", self.agent_if, "up")
        _run("ip", "-n", self.hub_ns, "link", "set", self.hub_if, "up")
        if self.resetting:
            # Keep answering the old connections' retransmissions with RSTs for a moment,
            # so no connection from before the cut survives it; then let traffic through.
            time.sleep(RESET_GRACE_SECONDS)
            for ns in (self.hub_ns, self.agent_ns):
                _run("ip", "netns", "exec", ns, "iptables", "-D", "INPUT", *_RESET_RULE, check=False)
            self.resetting = False
        self.is_up = True

    def down(self, reset: bool = False) -> None:
        """Cut the link: packets in flight and sent meanwhile are lost; TCP connections stall.

        With `reset`, open TCP connections are torn down first, as when a 3G modem
        re-dials and gets a new address: every packet meets a TCP RST for a moment."""
        if reset:
            for ns in (self.hub_ns, self.agent_ns):
                _run("ip", "netns", "exec", ns, "iptables", "-I", "INPUT", "1", *_RESET_RULE)
            self.resetting = True
            time.sleep(0.5)  # long enough for the next data packet of each flow to meet its RST
        _run("ip", "-n", self.agent_ns, "link", "set", self.agent_if, "down")
        self.is_up = False

    def shape(self, rate_kbit: int | None) -> None:
        """Limit both directions to `rate_kbit` (None: unshaped)."""
        self.rate_kbit = rate_kbit
        for ns, dev in ((self.hub_ns, self.hub_if), (self.agent_ns, self.agent_if)):
            _run("tc", "-n", ns, "qdisc", "del", "dev", dev, "root", check=False)
            if rate_kbit:
                burst = max(8 * 1024, rate_kbit * 1000 // 8 // 50)  # >= 20 ms of traffic
                _run("tc", "-n", ns, "qdisc", "add", "dev", dev, "root", "tbf", "rate", f"{rate_kbit}kbit",
                     "burst", str(burst), "latency", "400ms")

    def set_loss(self, probability: float) -> None:
        """Drop each arriving packet with `probability`, in both namespaces."""
        self.loss = probability
        for ns, dev in ((self.hub_ns, self.hub_if), (self.agent_ns, self.agent_if)):
            _run("ip", "netns", "exec", ns, "iptables", "-F", "INPUT")
            if probability > 0:
                _run("ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-i", dev, "-m", "statistic", "--mode",
                     "random", "--probability", f"{probability:.4f}", "-j", "DROP")

    # -- observation -----------------------------------------------------------------
    def counters(self) -> dict[str, int]:
        """Bytes on the wire so far: agent->hub (`up`) and hub->agent (`down`), as the hub end saw/sent them."""
        out = _run("ip", "-n", self.hub_ns, "-s", "-j", "link", "show", "dev", self.hub_if).stdout
        stats = json.loads(out)[0]["stats64"]
        agent = json.loads(_run("ip", "-n", self.agent_ns, "-s", "-j", "link", "show", "dev", self.agent_if).stdout)[0]
        return {"up_received": stats["rx"]["bytes"], "down_sent": stats["tx"]["bytes"],
                "up_sent": agent["stats64"]["tx"]["bytes"], "down_received": agent["stats64"]["rx"]["bytes"]}

    def wrap(self, namespace: str, argv: list[str]) -> list[str]:
        """argv to run a command inside one of the namespaces."""
        return ["ip", "netns", "exec", namespace, *argv]
