"""The domain event bus: handlers run after commit, never for a rolled-back transaction."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.db import transaction

from xietong.core import events
from xietong.core.events import Event, handlers_for, publish, subscribe, unsubscribe

pytestmark = pytest.mark.django_db


@dataclass(frozen=True, kw_only=True)
class ThingHappened(Event):
    name: str


@dataclass(frozen=True, kw_only=True)
class SpecialThingHappened(ThingHappened):
    extra: int = 0


@dataclass(frozen=True, kw_only=True)
class OtherThingHappened(Event):
    pass


class Rollback(Exception):
    pass


Subscribe = Callable[[type[Event], Callable[[Event], None]], None]


@pytest.fixture
def on() -> Iterator[Subscribe]:
    """Subscribe handlers for one test; they are unsubscribed again in teardown."""
    added: list[tuple[type[Event], Callable[[Event], None]]] = []

    def _subscribe(event_type: type[Event], handler: Callable[[Event], None]) -> None:
        subscribe(event_type, handler)
        added.append((event_type, handler))

    yield _subscribe
    for event_type, handler in added:
        unsubscribe(event_type, handler)
    for event_type, handler in added:
        assert handler not in handlers_for(event_type)


@pytest.fixture
def received(on: Subscribe) -> list[Event]:
    """Events delivered to a ThingHappened handler."""
    seen: list[Event] = []
    on(ThingHappened, seen.append)
    return seen


# --- with real transactions -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_handler_runs_only_after_commit(received: list[Event]) -> None:
    event = ThingHappened(company_id=None, name="a")
    with transaction.atomic():
        publish(event)
        assert received == []
    assert received == [event]
    assert received[0] is event


@pytest.mark.django_db(transaction=True)
def test_handler_never_runs_for_a_rolled_back_transaction(received: list[Event]) -> None:
    with pytest.raises(Rollback), transaction.atomic():
        publish(ThingHappened(company_id=None, name="lost"))
        raise Rollback
    assert received == []
    # A later commit does not resurrect the rolled-back event.
    with transaction.atomic():
        publish(ThingHappened(company_id=None, name="kept"))
    assert [e.name for e in received] == ["kept"]  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_rolled_back_savepoint_drops_only_its_own_events(received: list[Event]) -> None:
    with transaction.atomic():
        publish(ThingHappened(company_id=None, name="outer"))
        with pytest.raises(Rollback), transaction.atomic():
            publish(ThingHappened(company_id=None, name="inner"))
            raise Rollback
        with transaction.atomic():
            publish(ThingHappened(company_id=None, name="inner kept"))
        assert received == []
    assert [e.name for e in received] == ["outer", "inner kept"]  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_handlers_run_at_once(received: list[Event]) -> None:
    publish(ThingHappened(company_id=7, name="now"))
    assert len(received) == 1


# --- with pytest-django's on-commit capture -------------------------------------------------------


def test_publish_defers_to_on_commit(
    received: list[Event], django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        publish(ThingHappened(company_id=1, name="x"))
    assert received == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert len(received) == 1


def test_event_is_delivered_frozen(
    received: list[Event], django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        publish(SpecialThingHappened(company_id=1, name="x", extra=2))
    (event,) = received
    assert isinstance(event, SpecialThingHappened)
    assert (event.company_id, event.name, event.extra) == (1, "x", 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.name = "changed"  # type: ignore[misc]
    # Frozen dataclasses compare and hash by value.
    assert event == SpecialThingHappened(company_id=1, name="x", extra=2)
    assert hash(event) == hash(SpecialThingHappened(company_id=1, name="x", extra=2))


def test_events_take_keyword_arguments_only() -> None:
    with pytest.raises(TypeError):
        ThingHappened(None, "x")  # type: ignore[misc]


def test_a_failing_handler_does_not_stop_the_others(
    on: Subscribe, django_capture_on_commit_callbacks, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def first(event: Event) -> None:
        calls.append("first")

    def broken(event: Event) -> None:
        calls.append("broken")
        raise RuntimeError("boom")

    def last(event: Event) -> None:
        calls.append("last")

    on(ThingHappened, first)
    on(ThingHappened, broken)
    on(ThingHappened, last)
    with (
        caplog.at_level(logging.ERROR, logger="xietong.core.events"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        publish(ThingHappened(company_id=None, name="x"))
        publish(ThingHappened(company_id=None, name="y"))
    assert calls == ["first", "broken", "last"] * 2
    failures = [r for r in caplog.records if r.name == "xietong.core.events"]
    assert len(failures) == 2
    assert all(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in failures)


def test_handlers_of_a_base_class_receive_subclass_events(
    on: Subscribe, django_capture_on_commit_callbacks
) -> None:
    base: list[Event] = []
    special: list[Event] = []
    every: list[Event] = []
    on(ThingHappened, base.append)
    on(SpecialThingHappened, special.append)
    on(Event, every.append)
    with django_capture_on_commit_callbacks(execute=True):
        publish(SpecialThingHappened(company_id=None, name="s"))
        publish(ThingHappened(company_id=None, name="t"))
        publish(OtherThingHappened(company_id=None))
    assert [type(e) for e in base] == [SpecialThingHappened, ThingHappened]
    assert [type(e) for e in special] == [SpecialThingHappened]
    assert len(every) == 3


def test_subscribing_twice_delivers_once(on: Subscribe, django_capture_on_commit_callbacks) -> None:
    seen: list[Event] = []
    on(ThingHappened, seen.append)
    on(ThingHappened, seen.append)
    assert handlers_for(ThingHappened).count(seen.append) == 1
    with django_capture_on_commit_callbacks(execute=True):
        publish(ThingHappened(company_id=None, name="x"))
    assert len(seen) == 1


def test_unsubscribed_handler_no_longer_runs(django_capture_on_commit_callbacks) -> None:
    seen: list[Event] = []
    subscribe(OtherThingHappened, seen.append)
    unsubscribe(OtherThingHappened, seen.append)
    unsubscribe(OtherThingHappened, seen.append)  # unsubscribing twice is harmless
    with django_capture_on_commit_callbacks(execute=True):
        publish(OtherThingHappened(company_id=None))
    assert seen == []
    assert seen.append not in handlers_for(OtherThingHappened)


def test_publish_refuses_what_is_not_an_event() -> None:
    with pytest.raises(TypeError):
        publish({"company_id": 1})  # type: ignore[arg-type]


def test_the_registry_holds_none_of_this_modules_handlers() -> None:
    """The fixtures clean up after themselves, so other tests see the app's registry only."""
    for event_type, handlers in events._handlers.items():
        for handler in handlers:
            owner = getattr(handler, "__module__", "") or ""
            assert owner != __name__, (event_type, handler)
            assert not isinstance(getattr(handler, "__self__", None), list), (event_type, handler)
