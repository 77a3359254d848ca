"""Where citizen messages go: a USB GSM modem through Gammu, an HTTP gateway, or a folder.

Each sender hands one message over and says what happened — ("handed", gateway's answer) when a
gateway took it, ("written", "") when it only went to a folder — or raises SendFailed.
`<home>/notify.json` chooses: {"sender": "gammu", "gammu": {"device": "/dev/ttyUSB0",
"connection": "at"}}, {"sender": "webhook", "url": …, "token": …} or {"sender": "file", "dir": …}.
Gammu's `dummy` driver ({"device": "<dir>", "connection": "none", "model": "dummy"}) stands in
for the modem in tests. SMS go unaccented (GSM 7-bit), split into concatenated parts if need be;
the modem's message reference is kept as the gateway's answer.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import requests

from agent.errors import InputError
from sync_protocol.castore import write_file_atomic

log = logging.getLogger("motcua.agent.senders")


class SendFailed(Exception):
    """The sender could not hand the message over; it stays queued."""


class Sender(Protocol):
    name: str

    def send(self, message: dict[str, Any]) -> tuple[str, str]:
        """Hand one message over durably and return (outcome, gateway's answer): outcome "handed" when
        a gateway took it, "written" when it only went to a folder; or raise SendFailed."""


@dataclass
class FileSender:
    """Writes each message as `<directory>/<id>.json` (atomically) for an SMS/Zalo gateway to collect."""

    directory: Path
    name: str = "file"

    def send(self, message: dict[str, Any]) -> tuple[str, str]:
        try:
            write_file_atomic(Path(self.directory) / f"{message['id']:08d}.json",
                              json.dumps(message, ensure_ascii=False, indent=1).encode("utf-8"), mode=0o600)
        except OSError as exc:
            raise SendFailed(f"cannot write to {self.directory}: {exc.strerror}") from exc
        return "written", ""


@dataclass
class WebhookSender:
    """POSTs each message as JSON; any 2xx is success. An optional bearer token is sent."""

    url: str
    token: str = ""
    timeout: float = 10.0
    name: str = "webhook"

    def send(self, message: dict[str, Any]) -> tuple[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = requests.post(self.url, json=message, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SendFailed(f"webhook unreachable ({type(exc).__name__})") from exc
        if not 200 <= response.status_code < 300:
            raise SendFailed(f"webhook answered HTTP {response.status_code}")
        return "handed", f"HTTP {response.status_code} {response.text[:200]}".strip()


def sender_from_config(home: Path | str) -> Sender:
    """`<home>/notify.json`: {"sender": "webhook", "url": ..., "token": ...} or {"sender": "file", "dir": ...}.
    Without it, messages go to `<home>/notifications-out/`."""
    path = Path(home) / "notify.json"
    if not path.exists():
        return FileSender(Path(home) / "notifications-out")
    try:
        config = json.loads(path.read_text("utf-8"))
        if config.get("sender") == "webhook":
            return WebhookSender(str(config["url"]), str(config.get("token", "")), float(config.get("timeout", 10)))
        if config.get("sender") == "gammu":
            return GammuSender(dict(config.get("gammu") or {}))
        if config.get("sender", "file") == "file":
            return FileSender(Path(config.get("dir") or Path(home) / "notifications-out"))
        raise ValueError(f"unknown sender {config.get('sender')!r}")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"Tệp cấu hình tin nhắn {path} không hợp lệ.", f"Notification config {path} is not valid: {exc}",
                         'Ví dụ / e.g. {"sender": "webhook", "url": "http://127.0.0.1:9000/sms"}') from exc


_lock = threading.Lock()  # one modem, one conversation at a time


@dataclass
class GammuSender:
    config: dict[str, Any]
    name: str = "gammu"
    _machine: Any = field(default=None, repr=False)

    def _connect(self) -> Any:
        import gammu

        if self._machine is None:
            machine = gammu.StateMachine()
            machine.SetConfig(0, {"Device": str(self.config.get("device", "/dev/ttyUSB0")),
                                  "Connection": str(self.config.get("connection", "at")),
                                  "Model": str(self.config.get("model", ""))})
            machine.Init()
            self._machine = machine
        return self._machine

    def send(self, message: dict[str, Any]) -> tuple[str, str]:
        import gammu

        parts = gammu.EncodeSMS({"Class": -1, "Unicode": False,
                                 "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": message["sms_text"]}]})
        references = []
        with _lock:
            try:
                machine = self._connect()
                for part in parts:
                    part.update(SMSC={"Location": 1}, Number=message["to"])
                    references.append(str(machine.SendSMS(part)))
            except gammu.GSMError as exc:
                self._machine = None  # reconnect next time (modem unplugged, network lost)
                detail = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
                raise SendFailed(f"gammu: {detail.get('Text') or type(exc).__name__}") from exc
        log.info("sms_handed id=%s parts=%d", message["id"], len(parts))
        return "handed", "gammu ref " + ",".join(references)
