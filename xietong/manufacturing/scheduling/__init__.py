"""Finite-capacity scheduling of production operations (pure Python, no Django).

Build a `ScheduleInput`, call `solve` (greedy dispatch + CP-SAT) or `greedy_schedule`, and check
any schedule with `schedule_violations`. See `model` for the time and calendar model and `cpsat`
for the constraint model and objective.
"""

from .cpsat import SolveResult, solve
from .greedy import RULES, greedy_schedule
from .model import (
    CalendarExhaustedError,
    CyclicPrecedenceError,
    DuplicateIdError,
    EmptyCalendarError,
    Operation,
    Order,
    OrderResult,
    Schedule,
    ScheduledOperation,
    ScheduleInput,
    ScheduleInputError,
    ScheduleMetrics,
    UnknownReferenceError,
    Violation,
    WorkCenter,
    schedule_violations,
)

__all__ = [
    "RULES",
    "CalendarExhaustedError",
    "CyclicPrecedenceError",
    "DuplicateIdError",
    "EmptyCalendarError",
    "Operation",
    "Order",
    "OrderResult",
    "Schedule",
    "ScheduleInput",
    "ScheduleInputError",
    "ScheduleMetrics",
    "ScheduledOperation",
    "SolveResult",
    "UnknownReferenceError",
    "Violation",
    "WorkCenter",
    "greedy_schedule",
    "schedule_violations",
    "solve",
]
