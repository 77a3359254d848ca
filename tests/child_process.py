"""Killing and stopping child processes the way the tests need (shared by every process fixture)."""
from __future__ import annotations

import signal
import subprocess


class ChildProcess:
    """Mixin for fixtures holding a `proc: subprocess.Popen | None`."""

    proc: subprocess.Popen | None

    def kill(self) -> None:
        """SIGKILL: no cleanup, like a power cut."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 15 s."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
