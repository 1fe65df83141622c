"""The restricted expression engine and the clock, without a database."""

from __future__ import annotations

import datetime as dt

import pytest

from xietong.workflow import engine


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "().__class__.__bases__[0].__subclasses__()",
        "amount._value",
        "(lambda: 1)()",
        "x := 1",
        "import os",
    ],
)
def test_unsafe_expressions_are_refused(expression: str) -> None:
    with pytest.raises(engine.UnsafeExpression):
        engine.expression_check(expression)


def test_expressions_see_task_data_and_only_safe_builtins() -> None:
    environment = engine.RestrictedEnvironment()
    assert environment.evaluate("amount > 5 and max(1, 2) == 2", {"amount": 10}) is True
    with pytest.raises(NameError):
        environment.evaluate("open('/etc/passwd')", {})
    with pytest.raises(engine.UnsafeExpression):
        environment.evaluate("__import__('os')", {})
    with pytest.raises(engine.UnsafeExpression):
        environment.execute("x = 1", {})


def test_clock_controls_spiff_timers() -> None:
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    at = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with engine.clock(at):
        assert timer.datetime.now(dt.UTC) == at
    assert timer.datetime.now(dt.UTC) > dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
