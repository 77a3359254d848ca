"""`motcua run`: sync forever, backing off with full jitter while the hub is away.

The retry policy is composed from tenacity's named pieces: retry while a pass
was incomplete, wait `random(0, min(cap, 2 * 2**n))` (exponential, full jitter,
capped at `max_backoff`), never stop. The backoff sleep probes the hub
(agent.delivery.connectivity) and ends early — with a little jitter — as soon as the
hub is reachable again after a dead link, so the first byte after a reconnect
follows within about one probe interval, not a whole backoff. A clean pass
resets the backoff and the loop idles for `idle_interval`. Each pass pulls the
status feed first, then delivers by priority (agent.delivery.sync); newly captured
dossiers are sealed between dossiers so urgent work joins the running pass.
A revoked device stops the loop with its reason. When the hub's upload quota
stays full, the wait is at least the Retry-After it sent (agent.delivery.upload_quota).
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, Sequence

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_never, wait_random_exponential

from agent.context import AgentContext
from agent.delivery.connectivity import LinkWatch, probe_hub
from agent.delivery.sync import LinkState, SyncReport, sync_once
from agent.errors import MotcuaError
from agent.sealing.seal import seal_all

log = logging.getLogger("motcua.agent.runner")


class PassIncomplete(Exception):
    """A sync pass left deliverable dossiers behind (link down, hub busy)."""

    def __init__(self, report: SyncReport):
        super().__init__(report.unreachable or f"{len(report.failed)} dossier(s) not delivered")
        self.report = report


class StopRequested(Exception):
    pass


def backoff_policy(max_backoff: int) -> wait_random_exponential:
    return wait_random_exponential(multiplier=2, max=max_backoff)


def honouring_retry_after(base: Callable[[RetryCallState], float]) -> Callable[[RetryCallState], float]:
    """The backoff, but never shorter than the Retry-After the hub sent with a quota refusal (capped at an hour)."""
    def wait(state: RetryCallState) -> float:
        seconds = base(state)
        failure = state.outcome.exception() if state.outcome is not None else None
        if isinstance(failure, PassIncomplete) and failure.report.retry_after:
            seconds = max(seconds, min(failure.report.retry_after, 3600.0))
        return seconds
    return wait


def run_forever(ctx: AgentContext, stop: threading.Event, *, seal_captured: bool = True,
                after_pass: Sequence[Callable[[AgentContext], None]] = ()) -> None:
    """Loop until `stop` is set. Raises DeviceNotAuthorised if the hub refuses this device.

    `after_pass` hooks run after every pass, link up or down (the desk sends citizen notifications there);
    a hook's MotcuaError is logged and never stops delivery."""
    settings = ctx.config.settings
    link = LinkState.load(ctx)
    watch = LinkWatch(lambda: probe_hub(ctx, timeout=min(5.0, float(settings.timeout))),
                      probe_interval=settings.probe_interval, jitter=settings.reconnect_jitter)
    last: dict[str, bool] = {"link_down": False}

    def backoff_sleep(seconds: float) -> None:
        if watch.wait_or_reconnect(seconds, stop, last["link_down"]) == "stopped":
            raise StopRequested()

    def idle(seconds: float) -> None:
        if stop.wait(seconds):
            raise StopRequested()

    def seal_new() -> None:
        if seal_captured:
            seal_all(ctx)

    def one_pass() -> SyncReport:
        if stop.is_set():
            raise StopRequested()
        report = sync_once(ctx, link=link, between=seal_new)
        last["link_down"] = report.link_down
        for hook in after_pass:
            try:
                hook(ctx)
            except MotcuaError as exc:
                log.warning("after_pass_failed hook=%s error=%s", getattr(hook, "__name__", "?"), exc.message_en)
        if not report.complete:
            raise PassIncomplete(report)
        return report

    retrying = Retrying(
        retry=retry_if_exception_type(PassIncomplete),
        wait=honouring_retry_after(backoff_policy(settings.max_backoff)),
        stop=stop_never,
        sleep=backoff_sleep,
        before_sleep=lambda rs: log.info("sync_retry attempt=%d wait=%.1fs reason=%s", rs.attempt_number,
                                         rs.next_action.sleep if rs.next_action else 0, rs.outcome.exception()),
        reraise=True,
    )
    try:
        while not stop.is_set():
            report = retrying(one_pass)
            if report.committed or report.rejected:
                log.info("sync_pass committed=%d rejected=%d", len(report.committed), len(report.rejected))
            idle(settings.idle_interval)
    except StopRequested:
        log.info("runner_stopped")
