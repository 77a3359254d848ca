"""What both ends read from the kernel to tell a moving TCP connection from a stuck one.

A connection is *making progress* while the peer acknowledges bytes we sent or
sends us bytes. Linux exposes both counters in `TCP_INFO` (tcpi_bytes_acked,
tcpi_bytes_received, RFC 4898); `TIOCOUTQ` says how many bytes we wrote that
the peer has not yet acknowledged. Elsewhere (Windows desks) `progress()` is
None and callers fall back to their plain timeouts.

`socket_options()` are the options both ends set on their sockets so that the
kernel itself gives up on a dead peer: TCP_USER_TIMEOUT (sent data not
acknowledged for that long → the connection is aborted, also after close, so a
FIN to a vanished client does not linger) and TCP keepalive (an idle connection
whose peer is gone is found). No policy here: the timeouts are the caller's.
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any

_TCP_INFO_LEN = 136  # up to and including tcpi_bytes_received (Linux >= 4.1)


@dataclass(frozen=True)
class Progress:
    """Counters of one TCP connection at one instant."""

    acked: int      # bytes we sent that the peer acknowledged
    received: int   # bytes the peer sent us
    in_flight: int  # bytes we wrote that are not yet acknowledged (unsent or unacked)
    #: seconds until the kernel retransmits unacknowledged data (its back-off timer), 0 if due or none pending
    retransmit_in: float = 0.0

    def moved_since(self, other: "Progress | None") -> bool:
        return other is None or (self.acked, self.received) != (other.acked, other.received)


def progress(sock: Any) -> Progress | None:
    """The connection's counters, or None where the kernel does not tell (not Linux, closed socket)."""
    if not hasattr(socket, "TCP_INFO"):
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN)
        in_flight = _outq(sock.fileno())
    except (OSError, ValueError):
        return None
    if len(raw) < _TCP_INFO_LEN:
        return None
    acked, received = struct.unpack_from("=QQ", raw, 120)
    rto_us, = struct.unpack_from("=I", raw, 8)
    last_data_sent_ms, = struct.unpack_from("=I", raw, 44)
    return Progress(acked, received, in_flight, max(0.0, rto_us / 1e6 - last_data_sent_ms / 1e3))


def _outq(fd: int) -> int:
    import fcntl
    import termios

    return struct.unpack("i", fcntl.ioctl(fd, termios.TIOCOUTQ, b"\0\0\0\0"))[0]


def socket_options(user_timeout_seconds: float, keepalive_idle: int = 10, keepalive_interval: int = 5,
                   keepalive_count: int = 3) -> list[tuple[int, int, int]]:
    """(level, option, value) triples for setsockopt; options this OS lacks are left out."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (("TCP_USER_TIMEOUT", int(user_timeout_seconds * 1000)), ("TCP_KEEPIDLE", keepalive_idle),
                        ("TCP_KEEPINTVL", keepalive_interval), ("TCP_KEEPCNT", keepalive_count)):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    return options


def apply_socket_options(sock: Any, options: list[tuple[int, int, int]]) -> None:
    """Set `options` on an open socket; an option the socket refuses is skipped (e.g. a Unix socket)."""
    for level, option, value in options:
        try:
            sock.setsockopt(level, option, value)
        except OSError:
            continue


def reset_on_close(sock: Any) -> None:
    """Make the next close send a RST and free the socket at once (SO_LINGER 0): for a peer judged dead,
    whose FIN would only be retransmitted into the void."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
