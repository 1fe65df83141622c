"""SLA clocks of service tickets, measured in business hours.

A calendar (`BusinessCalendar`: working weekdays, daily hours, holidays, read in the company's
time zone) turns business seconds into wall-clock times (`business_add`) and back
(`business_seconds`). A ticket's clock starts when it is created (`sla_started_at`); each due
time is `business_add(start, target + paused)`, where `paused` is the business time the ticket
spent waiting on the customer (or resolved, before a reopen). So pausing and resuming only adds
to `sla_paused_seconds` and recomputes the stored due times (`first_response_due`,
`resolution_due`) and the moment the ticket becomes at risk (`sla_risk_at`: `at_risk_percent`
of the earliest unmet target).

`sla_check` (registered as the periodic job "crm.sla_check", run on every worker poll) reads
only indexed columns: open tickets whose `sla_risk_at` or due time has passed. It marks them at
risk or breached, writes the customer's timeline and starts the shipped BPMN process
`ticket_escalation` on the ticket (deployed for the company on first use)."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.models import Company
from xietong.crm.models import BusinessCalendar, SlaPolicy, Ticket
from xietong.workflow.models import ProcessDefinition
from xietong.workflow.services import process_start
from xietong.workflow.shipped import deploy_shipped

logger = logging.getLogger(__name__)
ESCALATION = "ticket_escalation"
HOUR = 3600
MAX_DAYS = 3 * 366  # a calendar that never works would loop forever: give up after 3 years


@dataclass(frozen=True)
class Hours:
    """A calendar's working time, ready for arithmetic."""

    weekdays: frozenset[int]
    start: dt.time
    end: dt.time
    holidays: frozenset[dt.date]
    zone: dt.tzinfo

    def window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        """The working window of `day` (aware, in the calendar's zone), None on a day off."""
        if day.weekday() not in self.weekdays or day in self.holidays:
            return None
        return (dt.datetime.combine(day, self.start, tzinfo=self.zone),
                dt.datetime.combine(day, self.end, tzinfo=self.zone))  # fmt: skip


def hours_of(calendar: BusinessCalendar, company: Company | None = None) -> Hours:
    company = company or calendar.company
    try:
        zone: dt.tzinfo = zoneinfo.ZoneInfo(company.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return Hours(
        weekdays=frozenset(int(d) for d in calendar.weekdays),
        start=calendar.start,
        end=calendar.end,
        holidays=frozenset(dt.date.fromisoformat(str(d)) for d in calendar.holidays or ()),
        zone=zone,
    )


def business_add(hours: Hours, start: dt.datetime, seconds: float) -> dt.datetime:
    """The moment `seconds` of working time after `start` (aware), in UTC. Raises ValueError
    when the calendar has no working time in the next three years."""
    cursor = start.astimezone(hours.zone)
    remaining = Decimal(str(seconds))
    for _day in range(MAX_DAYS):
        window = hours.window(cursor.date())
        if window is not None:
            begin, end = window
            cursor = max(cursor, begin)
            if cursor < end:
                available = Decimal(str((end - cursor).total_seconds()))
                if remaining <= available:
                    return (cursor + dt.timedelta(seconds=float(remaining))).astimezone(dt.UTC)
                remaining -= available
        cursor = dt.datetime.combine(cursor.date() + dt.timedelta(days=1), dt.time(0),
                                     tzinfo=hours.zone)  # fmt: skip
    raise ValueError("the calendar has no working time")


def business_seconds(hours: Hours, start: dt.datetime, end: dt.datetime) -> int:
    """Working seconds between two aware moments (0 when `end` is not after `start`)."""
    if end <= start:
        return 0
    a, b = start.astimezone(hours.zone), end.astimezone(hours.zone)
    total = 0.0
    day = a.date()
    while day <= b.date():
        window = hours.window(day)
        if window is not None:
            low, high = max(a, window[0]), min(b, window[1])
            if high > low:
                total += (high - low).total_seconds()
        day += dt.timedelta(days=1)
    return int(round(total))


# --- policies and the clock of one ticket ----------------------------------------------------


def policy_for(ticket: Ticket) -> SlaPolicy | None:
    """The active policy of the ticket's priority for its customer's group, else the one of its
    priority for every customer (no group)."""
    group_id = ticket.party.customer_group_id if ticket.party_id else None
    rows = SlaPolicy.unscoped.filter(company_id=ticket.company_id, priority=ticket.priority,
                                     active=True).select_related("calendar")  # fmt: skip
    rows = rows.filter(Q(customer_group_id=group_id) | Q(customer_group__isnull=True)) if group_id \
        else rows.filter(customer_group__isnull=True)  # fmt: skip
    ranked = sorted(rows, key=lambda p: (p.customer_group_id is None, p.pk))
    return ranked[0] if ranked else None


def _target(hours_value: Decimal, percent: int = 100) -> Decimal:
    return Decimal(hours_value) * HOUR * percent / 100


def clock_compute(ticket: Ticket) -> None:
    """Recompute the stored due times and `sla_risk_at` of `ticket` (not saved) from its policy,
    `sla_started_at` and `sla_paused_seconds`."""
    policy = ticket.sla_policy
    if policy is None or ticket.sla_started_at is None:
        ticket.first_response_due = ticket.resolution_due = ticket.sla_risk_at = None
        return
    hours = hours_of(policy.calendar, ticket.company)
    start, paused = ticket.sla_started_at, ticket.sla_paused_seconds
    ticket.first_response_due = business_add(hours, start,
                                             _target(policy.first_response_hours) + paused)  # fmt: skip
    ticket.resolution_due = business_add(hours, start, _target(policy.resolution_hours) + paused)
    risks = [business_add(hours, start, _target(policy.resolution_hours,
                                                policy.at_risk_percent) + paused)]  # fmt: skip
    if ticket.first_response_at is None:
        risks.append(business_add(hours, start, _target(policy.first_response_hours,
                                                        policy.at_risk_percent) + paused))  # fmt: skip
    ticket.sla_risk_at = min(risks)


def clock_start(ticket: Ticket, now: dt.datetime) -> None:
    """Attach the matching policy and start the clock at `now` (not saved)."""
    ticket.sla_policy = policy_for(ticket)
    ticket.sla_started_at = now if ticket.sla_policy else None
    ticket.sla_paused_seconds = 0
    ticket.sla_state = Ticket.Sla.OK if ticket.sla_policy else Ticket.Sla.NONE
    clock_compute(ticket)


def clock_pause_add(ticket: Ticket, since: dt.datetime | None, now: dt.datetime) -> None:
    """Count the business time from `since` to `now` as paused and recompute (not saved)."""
    if ticket.sla_policy is None or since is None:
        return
    hours = hours_of(ticket.sla_policy.calendar, ticket.company)
    ticket.sla_paused_seconds += business_seconds(hours, since, now)
    clock_compute(ticket)


def clock_state(ticket: Ticket, now: dt.datetime) -> str:
    """What the SLA state should be at `now` (breached stays breached)."""
    if ticket.sla_policy is None:
        return Ticket.Sla.NONE
    if ticket.sla_state == Ticket.Sla.BREACHED:
        return Ticket.Sla.BREACHED
    unmet = [ticket.resolution_due]
    if ticket.first_response_at is None:
        unmet.append(ticket.first_response_due)
    if any(due is not None and due <= now for due in unmet):
        return Ticket.Sla.BREACHED
    if ticket.sla_risk_at is not None and ticket.sla_risk_at <= now:
        return Ticket.Sla.AT_RISK
    return Ticket.Sla.OK


# --- escalation -----------------------------------------------------------------------------


def escalation_start(ticket: Ticket, *, actor: Any = None, now: dt.datetime | None = None) -> Any:
    """Start `ticket_escalation` on the ticket (deploying the shipped model for the company if
    it has none), unless one runs already. Returns the process instance. Raises
    ValidationError when the engine refuses."""
    if ticket.escalation_id is not None and ticket.escalation.status == "running":
        return ticket.escalation
    company = ticket.company
    if not ProcessDefinition.unscoped.filter(company=company, key=ESCALATION, active=True).exists():
        deploy_shipped(company=company, actor=None, key=ESCALATION)
    instance = process_start(
        company=company, actor=actor, key=ESCALATION, record=ticket, now=now,
        data={"priority": ticket.priority, "ticket": ticket.number, "subject": ticket.subject,
              "customer": ticket.party.name if ticket.party_id else ticket.requester_email},
    )  # fmt: skip
    ticket.escalation = instance
    return instance


def sla_check(*, now: dt.datetime | None = None, company: Company | None = None) -> dict[str, int]:
    """Mark the open tickets (new or open; waiting ones are paused) whose SLA is at risk or
    breached at `now`, write their timeline and start their escalation process. Every ticket in
    its own transaction (locked); a ticket whose escalation fails is logged and left for the
    next run. Returns the counts {"at_risk": n, "breached": n}."""
    from xietong.crm.tickets import timeline_write  # the services module imports this one

    now = now or timezone.now()
    active = (Ticket.State.NEW, Ticket.State.OPEN)
    rows = Ticket.unscoped.filter(state__in=active,
                                  sla_state__in=(Ticket.Sla.OK, Ticket.Sla.AT_RISK))  # fmt: skip
    if company is not None:
        rows = rows.filter(company=company)
    due = (
        Q(sla_risk_at__lte=now, sla_state=Ticket.Sla.OK)
        | Q(resolution_due__lte=now)
        | Q(first_response_at__isnull=True, first_response_due__lte=now)
    )
    counts = {"at_risk": 0, "breached": 0}
    for pk in rows.filter(due).order_by("pk").values_list("pk", flat=True)[:500]:
        try:
            with transaction.atomic():
                ticket = (Ticket.unscoped.select_for_update(of=("self",))
                          .select_related("company", "party", "sla_policy__calendar", "escalation")
                          .get(pk=pk))  # fmt: skip
                state = clock_state(ticket, now)
                if state == ticket.sla_state or ticket.state not in active:
                    continue
                ticket.sla_state = state
                escalation_start(ticket, now=now)
                ticket.save(update_fields=["sla_state", "escalation", "updated_at"])
                summary = (_("Ticket %(number)s: SLA breached") if state == Ticket.Sla.BREACHED
                           else _("Ticket %(number)s: SLA at risk, escalation started"))  # fmt: skip
                timeline_write(ticket, summary % {"number": ticket.number}, actor=None)
                counts[state] += 1
        except ValidationError:
            logger.exception("SLA escalation of ticket %s failed", pk)
    return counts
