"""CRM screens: the pipeline board's "N more…" link, which loads the next cards of one column.

The board (`pipeline.pipeline`) shows the first `selectors.CARDS_PER_COLUMN` cards of each
column. Its "N more…" link carries the column's stage and the last card shown (`after`, its
`after_date` close date); `board_cards` answers the next page of cards of that column, ordered
like the column (close date, then id), as card partials the link appends to the column, and an
out-of-band copy of the link for the page after (empty once the column is exhausted).

The page is found by keyset, not offset: cards dragged out of or into the column meanwhile
neither skip nor repeat a card. Without a script the link opens the filtered opportunity list.

After a card moved, the board's script fetches `board_headers`: every column's header again, so
that what they count and sum follows the move."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from xietong.core.permissions import has_perm, requires
from xietong.crm import selectors
from xietong.crm.models import Opportunity, PipelineStage

RECENT_DAYS = 30  # the won and lost columns hold what was closed in the last 30 days


def _column_rows(*, stage: PipelineStage, user: Any, see_all: bool) -> QuerySet[Opportunity]:
    """The opportunities of the board's column `stage` as `selectors.pipeline_board` counts them
    (open ones, and those closed in the last 30 days), in the column's order."""
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(days=RECENT_DAYS)
    return (
        selectors.opportunities_visible(user=user, see_all=see_all)
        .filter(team_id=stage.team_id, stage=stage)
        .filter(Q(state=Opportunity.State.OPEN) | Q(closed_at__gte=recent))
        .select_related(None)
        .select_related("party", "owner")  # what a card shows
        .order_by("close_date", "pk")
    )


def _after(close_date: dt.date | None, pk: int) -> Q:
    """The rows after (close_date, pk) in the order `close_date, pk` of this database, which puts
    a missing close date last (PostgreSQL) or first (SQLite)."""
    nulls_last = connection.features.nulls_order_largest
    if close_date is None:
        later = Q(close_date__isnull=True, pk__gt=pk)
        return later if nulls_last else later | Q(close_date__isnull=False)
    later = Q(close_date__gt=close_date) | Q(close_date=close_date, pk__gt=pk)
    return later | Q(close_date__isnull=True) if nulls_last else later


def _cursor(request: HttpRequest) -> tuple[dt.date | None, int]:
    try:
        pk = int(request.GET.get("after", ""))
        raw = request.GET.get("after_date", "")
        return (dt.date.fromisoformat(raw) if raw else None), pk
    except ValueError as exc:
        raise Http404 from exc


class _Page:
    """What the card and "more" partials read of a column (as `selectors.Column` does)."""

    def __init__(self, stage: PipelineStage, cards: list[Opportunity], more: int, options: str):
        self.stage, self.cards, self.more, self.options = stage, cards, more, options


@requires("crm.view")
def board_cards(request: HttpRequest) -> HttpResponse:
    """The next cards of the board's column `stage` after the card `after` (its close date
    `after_date`, empty when it has none). 404 for a stage of a team the user may not see; a
    request that is not HTMX's goes to the filtered list. Whatever the page, four queries of
    its own: the stage, the cards left after the cursor, the page, the stages to move to."""
    stage_id = request.GET.get("stage", "")
    if not stage_id.isdigit():
        return redirect("crm:pipeline")
    see_all = has_perm(request, "crm.manage")
    teams = selectors.teams_visible(user=request.user, see_all=see_all)
    stage = (
        PipelineStage.objects.filter(pk=int(stage_id), team__in=teams.values("pk"))
        .select_related("team")
        .first()
    )
    if stage is None:
        raise Http404
    if not request.headers.get("HX-Request"):
        return redirect(
            reverse("crm:opportunity_list")
            + f"?team={stage.team_id}&stage={stage.pk}&sort=close_date"
        )
    close_date, pk = _cursor(request)
    rows = _column_rows(stage=stage, user=request.user, see_all=see_all).filter(
        _after(close_date, pk)
    )
    left = rows.count()
    cards = list(rows[: selectors.CARDS_PER_COLUMN])
    can_sell = has_perm(request, "crm.sell")
    options = ""
    if can_sell:  # the cards' "move to" options, as the board makes them
        movable = PipelineStage.objects.filter(team_id=stage.team_id, is_lost=False).order_by(
            "sequence", "pk"
        )
        options = format_html_join("", '<option value="{}"{}>{}</option>', (
            (s.pk, mark_safe(" selected") if s.pk == stage.pk else "", s.name)  # noqa: S308
            for s in movable))  # fmt: skip
    column = _Page(stage, cards, left - len(cards), options)
    return render(request, "crm/_pipeline_cards.html", {
        "column": column, "can_sell": can_sell,
        "next_url": reverse("crm:pipeline") + f"?team={stage.team_id}",
    })  # fmt: skip


@requires("crm.view")
def board_headers(request: HttpRequest) -> HttpResponse:
    """The column headers of team `team`'s board (what each whole column counts and sums), as
    out-of-band swaps: the board's script fetches them after a card moved. 404 for a team the
    user may not see; a request that is not HTMX's goes to the board."""
    team_id = request.GET.get("team", "")
    if not team_id.isdigit() or not request.headers.get("HX-Request"):
        return redirect(reverse("crm:pipeline") + (f"?team={team_id}" if team_id.isdigit() else ""))
    see_all = has_perm(request, "crm.manage")
    team = selectors.teams_visible(user=request.user, see_all=see_all).filter(pk=team_id).first()
    if team is None:
        raise Http404
    columns = selectors.pipeline_board(team=team, user=request.user, see_all=see_all, limit=1)
    return render(request, "crm/_pipeline_headers.html", {"columns": columns})


urlpatterns: list[URLPattern] = [
    path("board/cards/", board_cards, name="board_cards"),
    path("board/headers/", board_headers, name="board_headers"),
]
