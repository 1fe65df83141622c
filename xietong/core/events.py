"""The domain event bus: frozen dataclass events, an explicit registry, handlers after commit.

An app publishes `SomethingHappened(...)` inside its write transaction; each registered handler
runs once that transaction commits (never for a rolled-back one). Handlers are registered in an
app's `AppConfig.ready()` with `subscribe(EventType, handler)`, so the registry is explicit code.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every domain event; subclasses are frozen dataclasses with keyword fields."""

    company_id: int | None


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], None]
_handlers: dict[type[Event], list[Handler]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def unsubscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    if handler in _handlers[event_type]:
        _handlers[event_type].remove(handler)


def handlers_for(event_type: type[Event]) -> list[Handler]:
    return [h for cls in event_type.__mro__ for h in _handlers.get(cls, [])]  # type: ignore[arg-type]


def publish(event: Event) -> None:
    """Queue `event` for its handlers; they run when the current transaction commits.

    Outside a transaction they run at once. A failing handler is logged and does not stop the
    others (the write it reacts to has already committed).
    """
    if not isinstance(event, Event):
        raise TypeError("publish() takes an Event")

    def dispatch() -> None:
        for handler in handlers_for(type(event)):
            try:
                handler(event)
            except Exception:
                logger.exception("event handler %r failed for %r", handler, event)

    transaction.on_commit(dispatch, robust=False)


@dataclass(frozen=True, kw_only=True)
class ExchangeRateChanged(Event):
    currency: str
    date: str


@dataclass(frozen=True, kw_only=True)
class JobFinished(Event):
    job_id: int
    status: str
