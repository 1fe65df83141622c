"""Reads of the sales pipeline used by views, the API and reports.

Visibility: a holder of `crm.manage` sees every team's leads and opportunities; anyone else sees
those of the teams they are a member or the manager of, and the ones they own (and leads not
yet given to a team, which are everybody's to pick up). The selectors take the user and whether
they may see everything (`see_all`), so views and API handlers apply the same rule."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    DecimalField,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncMonth

from xietong.core.models import User
from xietong.crm.models import (
    Activity,
    Lead,
    LostReason,
    Opportunity,
    PipelineStage,
    SalesTarget,
    SalesTeam,
    Ticket,
    TicketPriority,
)

HUNDRED = Decimal(100)


def team_ids_of(user: User) -> QuerySet:
    """The ids of the current company's teams `user` is a member or the manager of."""
    return SalesTeam.objects.filter(Q(members=user) | Q(manager=user)).values("pk")


def teams_visible(*, user: User, see_all: bool) -> QuerySet[SalesTeam]:
    teams = SalesTeam.objects.filter(active=True).select_related("manager")
    if not see_all:
        teams = teams.filter(pk__in=team_ids_of(user))
    return teams.order_by("name")


def opportunities_visible(*, user: User, see_all: bool) -> QuerySet[Opportunity]:
    """The current company's opportunities `user` may see, with what lists show."""
    rows = Opportunity.objects.select_related(
        "party", "team", "stage", "owner", "currency", "lost_reason"
    )
    if not see_all:
        rows = rows.filter(Q(team_id__in=team_ids_of(user)) | Q(owner=user))
    return rows


def leads_visible(*, user: User, see_all: bool) -> QuerySet[Lead]:
    rows = Lead.objects.select_related("team", "owner", "party")
    if not see_all:
        rows = rows.filter(Q(team_id__in=team_ids_of(user)) | Q(owner=user) | Q(team__isnull=True))
    return rows


def activities_visible(*, user: User, see_all: bool) -> QuerySet[Activity]:
    rows = Activity.objects.select_related("owner", "lead", "opportunity")
    if not see_all:
        rows = rows.filter(
            Q(owner=user)
            | Q(opportunity__in=opportunities_visible(user=user, see_all=False).values("pk"))
            | Q(lead__in=leads_visible(user=user, see_all=False).values("pk"))
        )
    return rows


def lost_reasons() -> QuerySet[LostReason]:
    return LostReason.objects.filter(active=True).order_by("name")


def opportunity_detail(*, pk: int, user: User, see_all: bool) -> Opportunity:
    """One visible opportunity with its activities and the stages of its team; raises
    Opportunity.DoesNotExist."""
    return (
        opportunities_visible(user=user, see_all=see_all)
        .select_related("contact", "lead")
        .prefetch_related(
            Prefetch("activities", queryset=Activity.objects.select_related("owner")),
            Prefetch("team__stages", queryset=PipelineStage.objects.order_by("sequence", "pk")),
        )
        .get(pk=pk)
    )


# --- the kanban board ---------------------------------------------------------------------------


CARDS_PER_COLUMN = 25


@dataclass
class Column:
    stage: PipelineStage
    cards: list[Opportunity] = field(default_factory=list)
    count: int = 0  # every opportunity of the column, of which `cards` shows the first ones
    options: str = ""  # the screen's "move to" options (HTML), set by the view
    total: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)

    @property
    def more(self) -> int:
        return self.count - len(self.cards)


def pipeline_board(*, team: SalesTeam, user: User, see_all: bool, owner: User | None = None,
                   limit: int | None = None) -> list[Column]:  # fmt: skip
    """The team's stages (won and lost ones last) with the open opportunities in each; the won
    and lost columns hold what was closed in the last 30 days. Each column counts and sums all
    its opportunities (Σ expected, Σ weighted revenue) and shows the first `limit` cards by
    close date (`CARDS_PER_COLUMN` by default): whatever the pipeline's size, two queries (the
    stages, the sums grouped by stage) and one per column (its first cards, read
    from the `crm_opp_stage_close` index)."""
    limit = limit or CARDS_PER_COLUMN
    stages = list(PipelineStage.objects.filter(team=team).order_by("sequence", "pk"))
    columns = {stage.pk: Column(stage) for stage in stages}
    rows = opportunities_visible(user=user, see_all=see_all).filter(team=team)
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    rows = rows.filter(Q(state=Opportunity.State.OPEN) | Q(closed_at__gte=recent))
    if owner is not None:
        rows = rows.filter(owner=owner)
    money = DecimalField(max_digits=30, decimal_places=8)
    for group in (
        rows.order_by()
        .values("stage_id")
        .annotate(
            n=Count("pk"),
            total=Sum("expected_revenue"),
            # divided by 100 here, not in SQL: SQLite divides integers as integers
            weighted=Sum(F("expected_revenue") * F("probability"), output_field=money),
        )  # fmt: skip
    ):
        column = columns.get(group["stage_id"])
        if column is not None:
            column.count = group["n"]
            column.total = Decimal(group["total"] or 0)
            column.weighted = (Decimal(group["weighted"] or 0) / HUNDRED).quantize(
                Decimal("0.0001")
            )
    for stage in stages:  # the first cards of each column: an index range scan each
        columns[stage.pk].cards = list(
            rows.filter(stage=stage)
            .select_related(None)
            .select_related("party", "owner")  # what a card shows
            .order_by("close_date", "pk")[:limit]
        )
    return [columns[s.pk] for s in stages]


# --- targets ------------------------------------------------------------------------------------


def targets_with_attainment(*, user: User, see_all: bool, team: SalesTeam | None = None,
                            on: dt.date | None = None) -> QuerySet[SalesTarget]:  # fmt: skip
    """The targets of the teams the user may see (optionally one team, or only those whose
    period holds the day `on`), each with `won`: the expected revenue of the team's (or the
    salesperson's) opportunities won in the period (closed that day or between, in the
    current time zone) and `attainment` in percent (None for a zero target). One query."""
    rows = SalesTarget.objects.select_related("team", "user")
    if not see_all:
        rows = rows.filter(team_id__in=team_ids_of(user))
    if team is not None:
        rows = rows.filter(team=team)
    if on is not None:
        rows = rows.filter(period_start__lte=on, period_end__gte=on)
    won = Opportunity.objects.filter(
        team=OuterRef("team"), state=Opportunity.State.WON,
        closed_at__date__gte=OuterRef("period_start"), closed_at__date__lte=OuterRef("period_end"),
    ).order_by()  # fmt: skip
    total = won.values("team").annotate(s=Sum("expected_revenue")).values("s")
    mine = (
        won.filter(owner=OuterRef("user")).values("team").annotate(s=Sum("expected_revenue"))
        .values("s")
    )  # fmt: skip
    rows = rows.annotate(
        won_team=Coalesce(Subquery(total), Value(Decimal(0)), output_field=DecimalField()),
        won_user=Coalesce(Subquery(mine), Value(Decimal(0)), output_field=DecimalField()),
    )
    return rows.order_by("-period_start", "team__name", "user_id")


def attainment(target: SalesTarget) -> tuple[Decimal, Decimal | None]:
    """(won, attainment %) of a target from `targets_with_attainment`."""
    won = Decimal(target.won_user if target.user_id else target.won_team)  # type: ignore[attr-defined]
    won = won.quantize(Decimal("0.01"))
    if not target.amount:
        return won, None
    return won, (won * HUNDRED / target.amount).quantize(Decimal("0.1"))


# --- forecast -----------------------------------------------------------------------------------


@dataclass
class ForecastRow:
    month: dt.date
    key: Any  # team id or owner id (None: no owner)
    label: str
    count: int = 0
    expected: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)


def pipeline_forecast(
    *,
    user: User,
    see_all: bool,
    by: str = "team",
    start: dt.date | None = None,
    end: dt.date | None = None,
    team: SalesTeam | None = None,
) -> list[ForecastRow]:
    """The weighted pipeline by month of expected close: for the open opportunities the user
    may see, per team (`by="team"`) or per owner (`by="owner"`), the number, Σ expected revenue
    and Σ expected revenue × probability / 100, in months from `start` to `end` (close dates
    within, inclusive; open-ended when None; opportunities without a close date are left out).
    Amounts are added as they are, in their own currencies (one per company in practice).
    One query, grouped in the database by month, key and probability."""
    if by not in {"team", "owner"}:
        raise ValueError("by is 'team' or 'owner'")
    rows = opportunities_visible(user=user, see_all=see_all).filter(
        state=Opportunity.State.OPEN, close_date__isnull=False
    )
    if start is not None:
        rows = rows.filter(close_date__gte=start)
    if end is not None:
        rows = rows.filter(close_date__lte=end)
    if team is not None:
        rows = rows.filter(team=team)
    key = "team_id" if by == "team" else "owner_id"
    grouped = (
        rows.order_by()
        .annotate(month=TruncMonth("close_date"))
        .values("month", key, "probability")
        .annotate(n=Count("pk"), total=Sum("expected_revenue"))
    )
    out: dict[tuple[dt.date, Any], ForecastRow] = {}
    for group in grouped:
        month = group["month"]
        if isinstance(month, dt.datetime):
            month = month.date()
        row = out.setdefault((month, group[key]), ForecastRow(month, group[key], ""))
        total = Decimal(group["total"] or 0)
        row.count += group["n"]
        row.expected += total
        row.weighted += total * Decimal(group["probability"]) / HUNDRED
    labels: dict[Any, str] = defaultdict(str)
    ids = {k for _m, k in out if k is not None}
    if by == "team":
        labels.update({t.pk: t.name for t in SalesTeam.objects.filter(pk__in=ids)})
    else:
        labels.update({u.pk: str(u) for u in User.objects.filter(pk__in=ids)})
    result = sorted(out.values(), key=lambda r: (r.month, labels[r.key], r.key or 0))
    for row in result:
        row.label = labels[row.key]
        row.weighted = row.weighted.quantize(Decimal("0.01"))
        row.expected = row.expected.quantize(Decimal("0.01"))
    return result


# --- one customer (the customer 360's CRM panels) -----------------------------------------------


@dataclass
class CustomerPipeline:
    """A customer's opportunities the user may see: the open ones (latest `limit`), their
    count, Σ expected and Σ weighted revenue, the won and lost counts and the win rate (won /
    closed, in percent; None before any is closed), and the open activities on them."""

    opportunities: list[Opportunity]
    open: int
    open_value: Decimal
    weighted_value: Decimal
    won: int
    lost: int
    won_value: Decimal
    win_rate: Decimal | None
    activities: list[Activity]


def customer_pipeline(*, party: Any, user: User, see_all: bool, limit: int = 5
                      ) -> CustomerPipeline:  # fmt: skip
    """`CustomerPipeline` of `party`: three queries whatever its history (the sums and counts
    in one, the latest open opportunities, the most urgent open activities)."""
    rows = opportunities_visible(user=user, see_all=see_all).filter(party=party)
    is_open = Q(state=Opportunity.State.OPEN)
    money = DecimalField(max_digits=30, decimal_places=8)
    figures = rows.order_by().aggregate(
        open=Count("pk", filter=is_open),
        open_value=Sum("expected_revenue", filter=is_open),
        weighted=Sum(F("expected_revenue") * F("probability"), filter=is_open,
                     output_field=money),  # ÷ 100 below: SQLite divides integers as integers
        won=Count("pk", filter=Q(state=Opportunity.State.WON)),
        lost=Count("pk", filter=Q(state=Opportunity.State.LOST)),
        won_value=Sum("expected_revenue", filter=Q(state=Opportunity.State.WON)),
    )  # fmt: skip
    closed = figures["won"] + figures["lost"]
    rate = (Decimal(figures["won"]) * HUNDRED / closed).quantize(Decimal("0.1")) if closed else None
    latest = list(
        rows.filter(is_open).order_by(F("close_date").asc(nulls_last=True), "-pk")[:limit]
    )
    activities = list(
        Activity.objects.filter(done=False, opportunity__in=rows.filter(is_open).values("pk"))
        .select_related("owner", "opportunity")
        .order_by(F("due_date").asc(nulls_last=True), "pk")[:limit]
    )
    cents = Decimal("0.01")
    return CustomerPipeline(
        opportunities=latest,
        open=figures["open"],
        open_value=Decimal(figures["open_value"] or 0).quantize(cents),
        weighted_value=(Decimal(figures["weighted"] or 0) / HUNDRED).quantize(cents),
        won=figures["won"],
        lost=figures["lost"],
        won_value=Decimal(figures["won_value"] or 0).quantize(cents),
        win_rate=rate,
        activities=activities,
    )


# --- the analytics warehouse ----------------------------------------------------------------------


def warehouse_tickets() -> QuerySet[Ticket]:
    """Every company's service tickets (unscoped), for the analytics warehouse's ETL, which
    reads them by id and by `updated_at` and keeps each company apart itself."""
    return Ticket.unscoped.all()


def warehouse_sales_targets() -> QuerySet[SalesTarget]:
    """Every company's sales targets (unscoped; the team's name through `team__name`), for the
    analytics warehouse's ETL."""
    return SalesTarget.unscoped.all()


def ticket_value_labels() -> dict[str, dict[str, str]]:
    """The names (translated now) of the coded ticket values the warehouse keeps: priority and
    channel, by code."""
    return {"priority": {str(k): str(v) for k, v in TicketPriority.choices},
            "channel": {str(k): str(v) for k, v in Ticket.Channel.choices}}  # fmt: skip
