"""The pipeline board's "N more…" link: it loads the next cards of its column in place, page by
page in the column's order until the column is exhausted (none skipped or repeated, also when
cards move meanwhile), keeps the column's header, answers only for the teams the user may see,
and queries a fixed number of times per page."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from xietong.core.tenancy import company_scope
from xietong.crm import selectors, services
from xietong.crm.models import Opportunity
from xietong.crm.tests import factories

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
CARD = re.compile(r'<article class="card card-body p-2 crm-card" data-id="(\d+)"')
MORE = re.compile(r'hx-get="([^"]+)"')


@pytest.fixture
def three(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(selectors, "CARDS_PER_COLUMN", 3)


def _cards(page: str) -> list[int]:
    return [int(pk) for pk in CARD.findall(page)]


def _more(page: str, stage_pk: int) -> tuple[str | None, int | None]:
    """The column's "more" link (its HTMX URL) and the number it announces, or (None, None)."""
    slot = re.search(rf'<div id="more-{stage_pk}"[^>]*>(.*?)</div>', page, re.S)
    assert slot is not None, page
    url = MORE.search(slot.group(1))
    if url is None:
        return None, None
    return html.unescape(url.group(1)), int(re.search(r"(\d+) more…", slot.group(1)).group(1))


def _proposal(company_a, sales, dates: list[dt.date | None], step: int = 1) -> list[Opportunity]:  # type: ignore[no-untyped-def]
    """Opportunities of team East in "Proposal" closing on `dates`, worth 100, 100 + step, …"""
    return [
        factories.opportunity(
            company_a,
            sales.east,
            owner=sales.rep,
            revenue=str(100 + step * n),
            stage_name="Proposal",
            close_date=day,
        )  # fmt: skip
        for n, day in enumerate(dates)
    ]


def _column_order(company_a, sales, stage) -> list[int]:  # type: ignore[no-untyped-def]
    """The column's order as the database sorts it (where a missing close date goes is the
    database's choice: the board and its pages must agree with it)."""
    with company_scope(company_a):
        rows = Opportunity.objects.filter(stage=stage, state="open").order_by("close_date", "pk")
        return list(rows.values_list("pk", flat=True))


def _walk(client, board_page: str, stage_pk: int) -> tuple[list[int], list[int]]:  # type: ignore[no-untyped-def]
    """Follow the column's "more" links to the end: every card shown in order, and the number
    each link announced."""
    column = re.search(
        rf'<div class="[^"]*crm-cards" data-stage="{stage_pk}"[^>]*>(.*?)</div>\s*<div id="more-',
        board_page, re.S,
    )  # fmt: skip
    shown = _cards(column.group(1))
    announced = []
    url, n = _more(board_page, stage_pk)
    while url:
        announced.append(n)
        response = client.get(url, **HX)
        assert response.status_code == 200
        page = response.content.decode()
        assert 'hx-swap-oob="true"' in page
        shown += _cards(page)
        url, n = _more(page, stage_pk)
    return shown, announced


def test_more_loads_the_column_page_by_page_in_its_order(company_a, sales, client_for, three):
    days = [dt.date(2026, 3, 1 + n % 4) for n in range(8)] + [None, None, dt.date(2026, 1, 9)]
    deals = _proposal(company_a, sales, days)
    factories.opportunity(company_a, sales.east, owner=sales.rep, stage_name="New")  # elsewhere
    proposal = factories.stage(sales.east, "Proposal")
    client = client_for(sales.rep)
    board = client.get(reverse("crm:pipeline") + f"?team={sales.east.pk}").content.decode()
    shown, announced = _walk(client, board, proposal.pk)
    assert shown == _column_order(company_a, sales, proposal)
    assert sorted(shown) == sorted(d.pk for d in deals)  # each once, none from another column
    assert announced == [8, 5, 2]  # 11 cards, 3 a page
    # the header still counts and sums the whole column
    assert "11 opportunities" in board
    total = sum(100 + n for n in range(11))
    assert f"{total:,}" in board


def test_a_page_holds_move_forms_back_to_the_board_and_the_list_link_without_script(
    company_a, sales, client_for, three
):  # fmt: skip
    _proposal(company_a, sales, [dt.date(2026, 5, n) for n in range(1, 6)])
    proposal = factories.stage(sales.east, "Proposal")
    lost = factories.stage(sales.east, "Lost")
    client = client_for(sales.rep)
    board = client.get(reverse("crm:pipeline") + f"?team={sales.east.pk}").content.decode()
    url, _n = _more(board, proposal.pk)
    page = client.get(url, **HX).content.decode()
    assert len(_cards(page)) == 2
    assert f'name="next" value="{reverse("crm:pipeline")}?team={sales.east.pk}"' in page
    assert f'<option value="{proposal.pk}" selected>' in page
    assert f'<option value="{lost.pk}"' not in page  # losing needs a reason: not by "move"
    assert _more(page, proposal.pk) == (None, None)  # exhausted: the link goes
    # without HTMX (no script, a new tab): the filtered list
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == (
        reverse("crm:opportunity_list")
        + f"?team={sales.east.pk}&stage={proposal.pk}&sort=close_date"
    )
    assert client.get(reverse("crm:board_cards")).status_code == 302  # no column: the board
    bad = reverse("crm:board_cards") + f"?stage={proposal.pk}&after=x&after_date=2026-13-01"
    assert client.get(bad, **HX).status_code == 404


def test_cards_moved_meanwhile_are_neither_skipped_nor_repeated(company_a, sales, client_for,
                                                                three):  # fmt: skip
    deals = _proposal(company_a, sales, [dt.date(2026, 6, n) for n in range(1, 8)])
    proposal = factories.stage(sales.east, "Proposal")
    won_stage = factories.stage(sales.east, "Negotiation")
    client = client_for(sales.rep)
    board = client.get(reverse("crm:pipeline") + f"?team={sales.east.pk}").content.decode()
    url, _n = _more(board, proposal.pk)
    with company_scope(company_a):  # two shown cards leave the column, one comes back later
        for deal in deals[:2]:
            services.opportunity_move(opportunity=deal, actor=sales.rep, stage=won_stage.pk)
    page = client.get(url, **HX).content.decode()
    assert _cards(page) == [d.pk for d in deals[3:6]]
    url, n = _more(page, proposal.pk)
    assert n == 1
    assert _cards(client.get(url, **HX).content.decode()) == [deals[6].pk]


def test_a_rep_loads_only_their_teams_columns(company_a, users_b, sales, client_for, three):
    west = factories.stage(sales.west, "Proposal")
    deals = [
        factories.opportunity(
            company_a,
            sales.west,
            owner=sales.other,
            stage_name="Proposal",
            name=f"Western {n}",
            close_date=dt.date(2026, 7, 1 + n),
        )  # fmt: skip
        for n in range(5)
    ]
    url = reverse("crm:board_cards") + f"?stage={west.pk}&after={deals[2].pk}&after_date=2026-07-03"
    assert client_for(sales.rep).get(url, **HX).status_code == 404
    assert client_for(sales.rep).get(url).status_code == 404  # nor its list link
    assert client_for(users_b["sales_manager"]).get(url, **HX).status_code == 404
    other = client_for(sales.other).get(url, **HX).content.decode()
    manager = client_for(sales.manager).get(url, **HX).content.decode()  # crm.manage: all teams
    assert "Western 3" in other and "Western 4" in other and "Western 2" not in other
    assert _cards(manager) == _cards(other)


def test_anonymous_goes_to_the_login_page(company_a, sales, client):  # type: ignore[no-untyped-def]
    stage = factories.stage(sales.east, "Proposal")
    response = client.get(reverse("crm:board_cards") + f"?stage={stage.pk}&after=0", **HX)
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))


def test_a_page_queries_a_fixed_number_of_times(company_a, sales, client_for, three):
    deals = _proposal(company_a, sales, [dt.date(2026, 8, 1 + n) for n in range(4)])
    proposal = factories.stage(sales.east, "Proposal")
    client = client_for(sales.rep)
    url = (
        reverse("crm:board_cards")
        + f"?stage={proposal.pk}&after={deals[0].pk}&after_date=2026-08-01"
    )

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url, **HX).status_code == 200
        return len(captured)

    few = queries()  # three cards of three customers and one owner
    for n in range(20):
        factories.opportunity(company_a, sales.east, owner=sales.rep2 if n % 2 else sales.rep,
                              stage_name="Proposal", close_date=dt.date(2026, 8, 2))  # fmt: skip
    assert queries() == few


def test_headers_after_a_move_count_and_sum_the_whole_columns(company_a, users_b, sales,
                                                              client_for, three):  # fmt: skip
    deals = _proposal(company_a, sales, [dt.date(2026, 9, n) for n in range(1, 6)], step=5)
    proposal = factories.stage(sales.east, "Proposal")
    negotiation = factories.stage(sales.east, "Negotiation")
    client = client_for(sales.rep)
    url = reverse("crm:board_headers") + f"?team={sales.east.pk}"
    with company_scope(company_a):  # the last card, one only "more" shows, moves on
        services.opportunity_move(opportunity=deals[4], actor=sales.rep, stage=negotiation.pk)
    with CaptureQueriesContext(connection) as captured:
        page = client.get(url, **HX).content.decode()
    heads = dict(re.findall(r'<header class="mb-2" id="head-(\d+)" hx-swap-oob="true">(.*?)</header>',
                            page, re.S))  # fmt: skip
    with company_scope(company_a):
        columns = selectors.pipeline_board(team=sales.east, user=sales.rep, see_all=False)
    assert set(heads) == {str(c.stage.pk) for c in columns}
    for stage, n in ((proposal, "4 opportunities"), (negotiation, "1 opportunity")):
        rows = Opportunity.unscoped.filter(stage=stage)
        total = sum(r.expected_revenue for r in rows)
        weighted = sum(r.expected_revenue * r.probability / 100 for r in rows)
        assert total == sum(d.expected_revenue for d in deals if d in rows)
        text = f"{n} · {total:,.0f} · weighted {weighted:,.0f}"
        assert text in " ".join(heads[str(stage.pk)].split()), heads[str(stage.pk)]
    for _n in range(6):  # more cards, more owners: as many queries
        factories.opportunity(company_a, sales.east, owner=sales.rep2, stage_name="New")
    with CaptureQueriesContext(connection) as more:
        assert client.get(url, **HX).status_code == 200
    assert len(more) == len(captured)
    # a team the rep is not in, another company's manager; without HTMX: the board
    west = reverse("crm:board_headers") + f"?team={sales.west.pk}"
    assert client.get(west, **HX).status_code == 404
    assert client_for(sales.manager).get(west, **HX).status_code == 200  # crm.manage: all teams
    assert client_for(users_b["sales_manager"]).get(url, **HX).status_code == 404
    assert client.get(url)["Location"] == reverse("crm:pipeline") + f"?team={sales.east.pk}"
    assert client.get(reverse("crm:board_headers")).status_code == 302


def test_the_weighted_sum_keeps_the_fractions(company_a, sales):
    deals = _proposal(company_a, sales, [dt.date(2026, 10, n) for n in range(1, 4)])
    with company_scope(company_a):
        columns = selectors.pipeline_board(team=sales.east, user=sales.rep, see_all=False)
    proposal = next(c for c in columns if c.stage.pk == deals[0].stage_id)
    exact = sum(d.expected_revenue * d.probability / 100 for d in deals)
    assert exact != int(exact)  # 100, 101, 102 at 60 %
    assert proposal.weighted == exact
