"""Balanced task dispatch: the pure algorithms, with no models and no database.

The workflow engine loads the candidates of a task's role in one query (open effort, skills,
territories, out-of-office flag, delegate, capacity), turns them into `Candidate` values and asks
`choose()` who gets the task. Keeping the algorithms free of Django models means they are tested
exhaustively in microseconds (including with Hypothesis) and the engine stays a thin shell that
loads, calls and saves.

Vocabulary
----------
* **load** of a candidate: ``open_effort / capacity``. Effort, not the number of tasks, is what
  is balanced, because one "review contract" is not one "enter invoice". Capacity makes a
  half-time colleague (capacity 0.5) look twice as loaded as a full-time one with the same open
  effort, so over time they receive about half the effort.
* **slot**: a place in the rotation or the ranking. Every available candidate fills their own
  slot. An out-of-office candidate's slot is filled by their delegate (see below), and the
  decision then records ``on_behalf_of`` = the absent user, so that the task can be handed back
  when they return and the audit trail says why the delegate got it.

Out of office and delegates
---------------------------
An out-of-office candidate never receives a task. Their slot is taken over by their delegate
**only when the delegate is one of the candidates** (following a chain of delegates if the
delegate is away too, stopping at cycles); otherwise the slot is skipped. We deliberately do not
hand a task to a bare ``delegate_id`` outside the candidate list: the engine builds the list from
the users who may work on this task type (role, company), so a delegate outside it may lack the
permission, and we would not know their load, which would defeat balancing. The engine that wants
a delegate to cover must therefore load them as a candidate, which it does by loading the role.

How each strategy uses the slots:

* ``LEAST_LOADED`` ranks by the load of the person who would do the work. An absent user's slot
  therefore ranks exactly like the delegate's own slot, and the delegate's own slot wins the tie:
  in effect absent users simply drop out and never attract work to their delegate by looking idle.
* ``ROUND_ROBIN`` gives the absent user's turn to their delegate (``on_behalf_of`` set), so the
  rotation keeps its order; the cursor for the next call is `Decision.rotation_user_id`.
* ``SKILL_MATCH`` matches skills and territory against the slot *owner*: a delegate covers the
  absent colleague's territory and book of work, which is the point of naming a delegate. Among
  the matching slots the least-loaded worker wins, as above.

Determinism
-----------
Every choice is a total order on plain values, never on input order or hash order: least-loaded
compares (load, open tasks, user id, own slot before delegated slot, slot owner id). The same
data therefore always gives the same assignee, which makes dispatch reproducible, explainable
and testable.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from django.utils.translation import gettext as _

__all__ = [
    "Candidate",
    "Decision",
    "Need",
    "Strategy",
    "balance_index",
    "choose",
    "dispatch_many",
]


class Strategy(enum.StrEnum):
    """How a task type picks its assignee; the values are stable and fit a CharField."""

    LEAST_LOADED = "least_loaded"
    """The available candidate with the lowest load (open effort / capacity)."""
    ROUND_ROBIN = "round_robin"
    """The next candidate after the previous assignee, in user-id order, wrapping around."""
    SKILL_MATCH = "skill_match"
    """Keep the candidates with every needed skill (and the territory), then least-loaded."""
    MANUAL = "manual"
    """Nobody is assigned: the task waits in the shared queue to be claimed."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A user who may receive the task, as the engine loaded them.

    ``open_tasks`` (the number of open tasks) is only a tie-breaker and part of the explanation:
    at equal load the colleague juggling fewer tasks gets the next one. It defaults to 0 so that
    callers who only know the effort can ignore it.
    """

    user_id: int
    open_effort: Decimal
    skills: frozenset[str] = frozenset()
    territories: frozenset[str] = frozenset()
    out_of_office: bool = False
    delegate_id: int | None = None
    capacity: Decimal = Decimal(1)
    open_tasks: int = 0

    def __post_init__(self) -> None:
        # A zero capacity would divide by zero and a negative one would invert the ranking;
        # someone who takes no work is simply not a candidate.
        if not self.capacity > 0:
            raise ValueError(f"capacity of user {self.user_id} must be positive")
        if self.open_effort < 0 or self.open_tasks < 0:
            raise ValueError(f"open work of user {self.user_id} cannot be negative")

    @property
    def load(self) -> Decimal:
        """Open effort per unit of capacity: what least-loaded compares."""
        return Decimal(self.open_effort) / Decimal(self.capacity)


@dataclass(frozen=True, slots=True)
class Need:
    """What the task requires: its estimated effort, the skills and the territory (if any)."""

    effort: Decimal = Decimal(1)
    skills: frozenset[str] = frozenset()
    territory: str = ""

    def __post_init__(self) -> None:
        if self.effort < 0:
            raise ValueError("effort cannot be negative")


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome: who gets the task (None: the shared queue), why, and for whom.

    ``reason`` is already translated into the active language, ready for the task history.
    ``on_behalf_of`` is the out-of-office user whose slot the assignee is covering.
    """

    user_id: int | None
    reason: str
    on_behalf_of: int | None = None

    @property
    def rotation_user_id(self) -> int | None:
        """The rotation position this decision used: pass it as the next ``last_user_id``.

        When a delegate covered an absent user's turn, the rotation continues after the absent
        user, not after the delegate; otherwise users between the two would lose their turn.
        """
        return self.on_behalf_of if self.on_behalf_of is not None else self.user_id


@dataclass(frozen=True, slots=True)
class _Slot:
    owner: Candidate  # whose place in the rotation / whose skills and territory
    worker: Candidate  # who actually receives the task

    @property
    def on_behalf_of(self) -> int | None:
        return None if self.owner.user_id == self.worker.user_id else self.owner.user_id


def _number(value: Decimal) -> str:
    """Render a Decimal for humans: ``4.50`` → ``4.5``, ``1E+2`` → ``100``, at most 2 places."""
    rounded = Decimal(value).quantize(Decimal("0.01"))
    text = f"{rounded.normalize():f}"
    return "0" if text in {"-0", ""} else text


def _slots(candidates: Iterable[Candidate]) -> list[_Slot]:
    """Every candidate's slot with the person who works it; absent users without cover drop out."""
    by_id: dict[int, Candidate] = {}
    for candidate in candidates:
        if candidate.user_id in by_id:
            raise ValueError(f"user {candidate.user_id} is listed twice")
        by_id[candidate.user_id] = candidate
    slots = []
    for owner in by_id.values():
        worker: Candidate | None = owner
        seen = {owner.user_id}
        while worker is not None and worker.out_of_office:
            next_id = worker.delegate_id
            if next_id is None or next_id in seen or next_id not in by_id:
                worker = None  # no available delegate among the candidates: skip this slot
            else:
                seen.add(next_id)
                worker = by_id[next_id]
        if worker is not None:
            slots.append(_Slot(owner=owner, worker=worker))
    return slots


def _least_loaded_key(slot: _Slot) -> tuple[Decimal, int, int, bool, int]:
    return (
        slot.worker.load,
        slot.worker.open_tasks,
        slot.worker.user_id,
        slot.on_behalf_of is not None,  # the worker's own slot before a slot they cover
        slot.owner.user_id,
    )


def _with_cover(slot: _Slot, reason: str) -> Decision:
    if slot.on_behalf_of is None:
        return Decision(user_id=slot.worker.user_id, reason=reason, on_behalf_of=None)
    reason = _("%(reason)s, covering for user %(absent)s (out of office)") % {
        "reason": reason,
        "absent": slot.on_behalf_of,
    }
    return Decision(user_id=slot.worker.user_id, reason=reason, on_behalf_of=slot.on_behalf_of)


def _least_loaded(slots: Sequence[_Slot], label: str) -> Decision:
    best = min(slots, key=_least_loaded_key)
    worker = best.worker
    values = {
        "label": label,
        "tasks": worker.open_tasks,
        "effort": _number(worker.open_effort),
        "load": _number(worker.load),
        "capacity": _number(worker.capacity),
    }
    if worker.capacity == 1:
        reason = _("%(label)s: %(tasks)s open (effort %(effort)s)") % values
    else:
        reason = (
            _(
                "%(label)s: %(tasks)s open (effort %(effort)s, load %(load)s at capacity %(capacity)s)"
            )
            % values
        )
    return _with_cover(best, reason)


def _round_robin(slots: Sequence[_Slot], last_user_id: int | None) -> Decision:
    ordered = sorted(slots, key=lambda slot: slot.owner.user_id)
    # The first slot after the previous one; ">" rather than an index lookup so that a previous
    # assignee who has since left the role does not break the rotation.
    after = [
        slot for slot in ordered if last_user_id is not None and slot.owner.user_id > last_user_id
    ]
    chosen = after[0] if after else ordered[0]
    if last_user_id is None:
        reason = _("round robin: first in rotation")
    elif after:
        reason = _("round robin: next after user %(last)s") % {"last": last_user_id}
    else:
        reason = _("round robin: rotation wrapped around after user %(last)s") % {
            "last": last_user_id
        }
    return _with_cover(chosen, reason)


def _matches(candidate: Candidate, need: Need) -> bool:
    if not need.skills <= candidate.skills:
        return False
    return not need.territory or need.territory in candidate.territories


def _describe_need(need: Need) -> str:
    # Whole phrases rather than fragments glued with "and", so translators can reorder them.
    values = {"skills": ", ".join(sorted(need.skills)), "territory": need.territory}
    if need.skills and need.territory:
        return _("skills %(skills)s in territory %(territory)s") % values
    if need.skills:
        return _("skills %(skills)s") % values
    if need.territory:
        return _("territory %(territory)s") % values
    return _("no particular skill")


def choose(
    strategy: Strategy,
    candidates: Iterable[Candidate],
    need: Need | None = None,
    *,
    last_user_id: int | None = None,
) -> Decision:
    """Pick the assignee of one task; ``user_id`` None means it goes to the shared queue.

    ``last_user_id`` matters to ``ROUND_ROBIN`` only: pass the previous decision's
    `Decision.rotation_user_id` for this task type. ``need`` matters to ``SKILL_MATCH`` only
    (least-loaded balances effort, so the effort itself does not change who is least loaded now).
    Raises ValueError when a user is listed twice.
    """
    need = need or Need()
    strategy = Strategy(strategy)
    if strategy is Strategy.MANUAL:
        return Decision(None, _("manual claim: the task waits in the shared queue"), None)

    slots = _slots(candidates)
    if not slots:
        return Decision(None, _("nobody is available: the task goes to the shared queue"), None)

    if strategy is Strategy.ROUND_ROBIN:
        return _round_robin(slots, last_user_id)
    if strategy is Strategy.LEAST_LOADED:
        return _least_loaded(slots, _("least loaded"))

    matching = [slot for slot in slots if _matches(slot.owner, need)]
    if not matching:
        return Decision(
            None,
            _("nobody available has %(need)s: the task goes to the shared queue")
            % {"need": _describe_need(need)},
            None,
        )
    label = _("matches %(need)s, least loaded") % {"need": _describe_need(need)}
    return _least_loaded(matching, label)


def dispatch_many(
    strategy: Strategy,
    candidates: Iterable[Candidate],
    needs: Iterable[Need],
    *,
    last_user_id: int | None = None,
) -> list[Decision]:
    """Assign tasks one after the other, counting each assignment in the assignee's load.

    This is batch assignment (e.g. a mass import or a re-dispatch after someone left): each
    decision sees the effort already handed out by the previous ones, so a batch spreads out
    instead of landing entirely on whoever was least loaded at the start. The result has one
    decision per need, in order; the candidates given are not modified (they are frozen).
    """
    current = {candidate.user_id: candidate for candidate in candidates}
    decisions = []
    cursor = last_user_id
    for need in needs:
        decision = choose(strategy, current.values(), need, last_user_id=cursor)
        decisions.append(decision)
        if decision.user_id is None:
            continue
        assignee = current[decision.user_id]
        current[decision.user_id] = replace(
            assignee,
            open_effort=assignee.open_effort + need.effort,
            open_tasks=assignee.open_tasks + 1,
        )
        cursor = decision.rotation_user_id
    return decisions


def balance_index(loads: Sequence[Decimal | float]) -> float:
    """How unevenly work is spread: the coefficient of variation of the loads.

    That is the population standard deviation divided by the mean, over the users of a role
    (population, not sample: the users of the role are the whole population, not a sample of
    it). It is scale-free, so a team with 5 open hours each and one with 500 compare on one
    dashboard: 0 is perfectly even, 0.05 means a typical user is about 5 % away from the
    average, 1 means the spread is as large as the average itself. It is 0 when there are no
    users, or when there is no load at all (nothing to balance rather than a division by zero).
    """
    values = [float(load) for load in loads]
    if not values:
        return 0.0
    mean = math.fsum(values) / len(values)
    if mean == 0:
        return 0.0
    variance = math.fsum((value - mean) ** 2 for value in values) / len(values)
    return math.sqrt(variance) / mean
