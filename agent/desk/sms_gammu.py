"""SMS through a USB GSM modem with Gammu (python-gammu): a real message path that works offline at a commune.

`<home>/notify.json`: {"sender": "gammu", "gammu": {"device": "/dev/ttyUSB0", "connection": "at"}}.
Gammu's `dummy` driver ({"device": "<dir>", "connection": "none", "model": "dummy"}) keeps the
messages in a directory instead of a modem, which is how the tests run it. The message goes
unaccented (GSM 7-bit: agent.desk.notifications.sms_text), split into concatenated parts if it
must be; the modem's message reference is kept as the gateway's answer.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from agent.desk.notifications import SendFailed

log = logging.getLogger("motcua.agent.sms_gammu")
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
