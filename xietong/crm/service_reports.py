"""Reads of customer service: the ticket lists an agent sees, the party page's "Tickets" panel,
and the CSAT and SLA attainment reports (by month, agent or priority).

SLA attainment counts the tickets resolved in the period: a target is met when it was met by
the time it was reached (`first_response_met`, `resolution_met`, set by the services when the
first reply and the resolution happen); tickets without an SLA are left out. CSAT counts the
surveys answered in the period: the average score and the share of 4s and 5s ("satisfied")."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from xietong.core.models import Company
from xietong.crm.models import SatisfactionSurvey, Ticket, TicketPriority
from xietong.party.models import Party

GROUPS = ("month", "agent", "priority")
ACTIVE = (Ticket.State.NEW, Ticket.State.OPEN, Ticket.State.WAITING)
ONE = Decimal("0.1")


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(ONE, rounding=ROUND_HALF_UP)


@dataclass
class SlaRow:
    key: str
    label: str
    tickets: int = 0
    first_response_met: int = 0
    first_response_counted: int = 0
    resolution_met: int = 0
    resolution_counted: int = 0

    @property
    def first_response_percent(self) -> Decimal | None:
        return _percent(self.first_response_met, self.first_response_counted)

    @property
    def resolution_percent(self) -> Decimal | None:
        return _percent(self.resolution_met, self.resolution_counted)


@dataclass
class CsatRow:
    key: str
    label: str
    scores: list[int] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return len(self.scores)

    @property
    def average(self) -> Decimal | None:
        if not self.scores:
            return None
        return (Decimal(sum(self.scores)) / len(self.scores)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP)  # fmt: skip

    @property
    def satisfied_percent(self) -> Decimal | None:
        return _percent(sum(1 for s in self.scores if s >= 4), len(self.scores))


def company_day(company: Company, moment: dt.datetime | None = None) -> dt.date:
    """The company's calendar day at `moment` (default now): the days the reports count in."""
    zone = zoneinfo.ZoneInfo(company.timezone or "UTC")
    return (moment or timezone.now()).astimezone(zone).date()


def _bounds(company: Company, start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = zoneinfo.ZoneInfo(company.timezone or "UTC")
    return (dt.datetime.combine(start, dt.time(0), tzinfo=zone),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=zone))  # fmt: skip


def _key(ticket: Ticket, by: str, when: dt.datetime, zone: dt.tzinfo) -> tuple[str, str]:
    if by == "agent":
        return (str(ticket.assignee_id or ""), str(ticket.assignee or "—"))
    if by == "priority":
        return (ticket.priority, str(TicketPriority(ticket.priority).label))
    month = when.astimezone(zone).strftime("%Y-%m")
    return (month, month)


def _order(rows: dict[str, Any], by: str) -> list[Any]:
    if by == "priority":
        order = {p: i for i, p in enumerate(TicketPriority.values)}
        return sorted(rows.values(), key=lambda r: order.get(r.key, 99))
    return sorted(rows.values(), key=lambda r: r.label if by == "agent" else r.key)


def sla_attainment(*, company: Company, start: dt.date, end: dt.date, by: str = "month"
                   ) -> tuple[list[SlaRow], SlaRow]:  # fmt: skip
    """SLA attainment of the tickets resolved from `start` to `end` (the company's days), grouped
    `by` month, agent or priority; and the total row."""
    low, high = _bounds(company, start, end)
    zone = low.tzinfo
    rows: dict[str, SlaRow] = {}
    total = SlaRow("", "")
    tickets = (Ticket.unscoped.filter(company=company, resolved_at__gte=low, resolved_at__lt=high,
                                      sla_policy__isnull=False).select_related("assignee"))  # fmt: skip
    for ticket in tickets:
        key, label = _key(ticket, by, ticket.resolved_at, zone)  # type: ignore[arg-type]
        row = rows.setdefault(key, SlaRow(key, label))
        for target in (row, total):
            target.tickets += 1
            if ticket.first_response_met is not None:
                target.first_response_counted += 1
                target.first_response_met += int(ticket.first_response_met)
            if ticket.resolution_met is not None:
                target.resolution_counted += 1
                target.resolution_met += int(ticket.resolution_met)
    return _order(rows, by), total


def csat(*, company: Company, start: dt.date, end: dt.date, by: str = "month"
         ) -> tuple[list[CsatRow], CsatRow]:  # fmt: skip
    """Satisfaction of the surveys answered from `start` to `end`, grouped `by` month (of the
    answer), agent or priority; and the total row."""
    low, high = _bounds(company, start, end)
    zone = low.tzinfo
    rows: dict[str, CsatRow] = {}
    total = CsatRow("", "")
    surveys = SatisfactionSurvey.unscoped.filter(
        company=company, answered_at__gte=low, answered_at__lt=high, score__isnull=False
    ).select_related("ticket__assignee")
    for survey in surveys:
        key, label = _key(survey.ticket, by, survey.answered_at, zone)  # type: ignore[arg-type]
        rows.setdefault(key, CsatRow(key, label)).scores.append(survey.score)  # type: ignore[arg-type]
        total.scores.append(survey.score)  # type: ignore[arg-type]
    return _order(rows, by), total


def tickets_of(party: Party) -> QuerySet[Ticket]:
    return Ticket.unscoped.filter(company_id=party.company_id, party=party)


def tickets_panel(request: HttpRequest, party: Party) -> dict[str, Any] | None:
    """The party page's "Tickets" panel: the customer's open tickets (SLA state, due time) and
    the five most recent closed or resolved ones; None for a party that never had a ticket and
    is not a customer."""
    rows = tickets_of(party).select_related("assignee")
    open_rows = list(rows.filter(state__in=ACTIVE).order_by("resolution_due", "pk")[:10])
    recent = list(rows.exclude(state__in=ACTIVE).order_by("-resolved_at", "-pk")[:5])
    if not open_rows and not recent and not party.is_customer:
        return None
    return {
        "open": open_rows,
        "recent": recent,
        "open_count": rows.filter(state__in=ACTIVE).count(),
        "list_url": reverse("crm:ticket_list") + f"?party={party.pk}",
    }
