"""Publish status events to whoever subscribed: delivery records events, the desk decides what they mean.

Delivery stores every event from the hub feed (or a receipts bundle) in the outbox and then calls each
handler registered with `on_status_event`, in registration order. Handlers must be idempotent (an event
may be handed over again after a crash) and are registered at start-up by the packages that care
(agent.desk.workflows.subscribe). With no handler registered, events stay pending in the outbox until a
process that has subscribers applies them, so a sync run without the desk loses nothing.
"""
from __future__ import annotations

from typing import Any, Callable

StatusEventHandler = Callable[[Any, dict[str, Any]], None]

_handlers: list[StatusEventHandler] = []


def on_status_event(handler: StatusEventHandler) -> StatusEventHandler:
    """Subscribe `handler(ctx, event)` to every status event (once; usable as a decorator)."""
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def subscribers() -> tuple[StatusEventHandler, ...]:
    return tuple(_handlers)


def publish(ctx: Any, event: dict[str, Any]) -> None:
    """Hand one event to every subscriber; the first failure propagates (the event stays pending)."""
    for handler in _handlers:
        handler(ctx, event)
