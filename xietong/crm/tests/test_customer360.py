"""The customer 360 (the party page with crm's panels): key figures checked by hand (revenue
this and last year, open receivables, overdue, aging buckets — and against finance's own aging
report —, average days to pay, open pipeline, win rate), the lists of opportunities,
activities, quotations, orders and invoices, who sees which panel, and a query count that does
not grow with the customer's history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.crm import selectors, services
from xietong.crm.tests import factories
from xietong.finance import selectors as finance_selectors
from xietong.finance.receivables import aging
from xietong.finance.tests.factories import books
from xietong.finance.tests.test_payments import make_invoice, pay
from xietong.party.services import timeline_add

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def world(company_a, sales):  # type: ignore[no-untyped-def]
    """A customer with five open invoices aged not due, 1–30, 31–60, 61–90 and over 90 days
    (one partly paid 20 days after its date), one of last year paid after 30 days, and six
    opportunities of team East: three open, two won, one lost."""
    b = books(company_a)
    today = timezone.localdate()
    b.today = today
    b.customer = factories.customer(company_a, "Feilun Bikes")
    b.dates = {}
    for amount, days in (("1000", 100), ("700", 75), ("460", 45), ("100", 10), ("300", 0)):
        date = today - dt.timedelta(days=days)
        b.dates[amount] = date
        invoice = make_invoice(b, b.customer, amount, date=date)
        if amount == "1000":
            pay(b, b.customer, "400", date=date + dt.timedelta(days=20), allocations=[invoice])
    last = dt.date(today.year - 1, 6, 15)
    old = make_invoice(b, b.customer, "2000", date=last)
    pay(b, b.customer, "2000", date=last + dt.timedelta(days=30), allocations=[old])
    b.open = []
    for revenue, stage in (("10000", "New"), ("20000", "Proposal"), ("5000", "Negotiation")):
        b.open.append(factories.opportunity(company_a, sales.east, owner=sales.rep,
                                            revenue=revenue, party=b.customer, stage_name=stage))  # fmt: skip
    with company_scope(company_a):
        for revenue in ("3000", "4000"):
            deal = factories.opportunity(company_a, sales.east, owner=sales.rep, revenue=revenue,
                                         party=b.customer)  # fmt: skip
            services.opportunity_win(opportunity=deal, actor=None)
        deal = factories.opportunity(company_a, sales.east, owner=sales.rep, party=b.customer)
        services.opportunity_lose(opportunity=deal, actor=None,
                                  reason=factories.lost_reason(company_a))  # fmt: skip
        services.activity_create(company=company_a, actor=sales.rep, opportunity=b.open[1],
                                 subject="Send the proposal", kind="task",
                                 due_date=today)  # fmt: skip
    return b


def test_receivables_figures_by_hand(company_a, world):
    b, today = world, world.today
    with company_scope(company_a):
        r = finance_selectors.customer_receivables(party=b.customer, today=today)
    this_year = sum(D(a) for a, d in b.dates.items() if d.year == today.year)
    assert r.revenue_this_year == this_year
    assert r.revenue_last_year == D("2000") + sum(
        D(a) for a, d in b.dates.items() if d.year == today.year - 1
    )
    assert r.columns == ["Not due", "1–30", "31–60", "61–90", "Over 90"]
    assert r.buckets == [D("300"), D("100"), D("460"), D("700"), D("600")]
    assert r.open == D("2160") and r.overdue == D("1860")
    assert r.average_days_to_pay == D("25.0")  # (20 + 30) / 2
    assert [i.amount_total for i in r.invoices] == [D("300"), D("100"), D("460"), D("700"),
                                                    D("1000")]  # fmt: skip
    # the same as finance's aging report of the ledger
    report = aging(company=company_a, as_of=today)
    row = next(row for row in report.rows if row.party == b.customer)
    assert row.amounts == r.buckets and row.total == r.open


def test_pipeline_figures_and_visibility(company_a, sales, world):
    with company_scope(company_a):
        mine = selectors.customer_pipeline(party=world.customer, user=sales.rep, see_all=False)
        other = selectors.customer_pipeline(party=world.customer, user=sales.other,
                                            see_all=False)  # fmt: skip
    assert (mine.open, mine.won, mine.lost) == (3, 2, 1)
    assert mine.open_value == D("35000")
    assert mine.weighted_value == D("1000") + D("12000") + D("4000")  # 10 %, 60 %, 80 %
    assert mine.won_value == D("7000") and mine.win_rate == D("66.7")
    assert [a.subject for a in mine.activities] == ["Send the proposal"]
    assert (other.open, other.win_rate, other.opportunities) == (0, None, [])  # team West


def test_the_360_page(company_a, sales, world, client_for):
    page = client_for(sales.rep).get(reverse("party:party_detail", args=[world.customer.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for key in ("customer_key_figures", "customer_opportunities", "customer_sales",
                "customer_deliveries", "customer_receivables"):  # fmt: skip
        assert f'id="panel-{key}"' in html, key
    assert 'id="key-figures"' in html and 'id="party-latest"' in html
    assert html.index('id="panel-customer_key_figures"') < html.index('id="party-tabs"')
    assert ">66.7 %<" in html and "2,160.00" in html
    assert world.open[1].name in html and "Send the proposal" in html
    # a warehouse clerk sees the party, its deliveries and documents, not the sales pipeline
    clerk = client_for(factories.staff(company_a, "warehouse_clerk")).get(
        reverse("party:party_detail", args=[world.customer.pk])
    )
    assert clerk.status_code == 200
    html = clerk.content.decode()
    assert 'id="panel-customer_deliveries"' in html
    assert 'id="panel-customer_opportunities"' not in html and 'id="key-figures"' not in html
    # a service agent (party.view, no sales.view): no quotations, orders nor receivables
    agent = client_for(factories.staff(company_a, "service_agent")).get(
        reverse("party:party_detail", args=[world.customer.pk])
    )
    assert agent.status_code == 200
    assert 'id="panel-customer_receivables"' not in agent.content.decode()


def _queries(client, url) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_360_query_count_does_not_grow_with_history(company_a, sales, world, client_for):
    client = client_for(sales.rep)
    url = reverse("party:party_detail", args=[world.customer.pk])
    client.get(url)  # warm the caches (content types, permissions)
    before = _queries(client, url)
    b = world
    for n in range(6):
        make_invoice(b, b.customer, "10", date=b.today - dt.timedelta(days=n * 20))
        factories.opportunity(company_a, sales.east, owner=sales.rep, party=b.customer)
    with company_scope(company_a):
        for n in range(30):
            timeline_add(party=b.customer, kind="note", summary=f"Note {n}")
    after = _queries(client, url)
    assert after == before, (before, after)
    assert before <= 60, before
