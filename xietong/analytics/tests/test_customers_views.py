"""The 7P screens, API, job and command on a sales history loaded by the ETL: a manager sees
every customer, a rep only their own (the overview's figures, the customer page and the API
answer 404 outside it), nobody another company's; the refresh is a manager's job."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.urls import reverse

from xietong.analytics import customers, etl
from xietong.analytics.tests.factories import history, service_history
from xietong.core.models import Job
from xietong.sales.models import SalesOrder

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 9, 1)


@pytest.fixture
def world(company_a, company_b, users_a):  # type: ignore[no-untyped-def]
    a = history(company_a, seed=5, orders=25,
                salespeople=[users_a["sales_rep"], users_a["sales_manager"]])  # fmt: skip
    history(company_b, seed=6, orders=6)
    etl.etl_run(full=True)
    customers.customers_refresh(company_id=company_a.pk, as_of=AS_OF)
    return a


def _buyers_with_orders(company, salesperson=None):  # type: ignore[no-untyped-def]
    orders = SalesOrder.unscoped.filter(company=company, state__in=etl.SALES_STATES)
    if salesperson is not None:
        orders = orders.filter(party__salesperson=salesperson)
    return set(orders.values_list("party_id", flat=True))


def test_overview_shows_every_p_for_a_manager(world, company_a, users_a, client_for):
    response = client_for(users_a["sales_manager"]).get(reverse("analytics:customers"))
    html = response.content.decode()
    assert response.status_code == 200
    for section in ("profiling", "persistency", "profitability", "performance", "prospecting",
                    "product", "promotion"):  # fmt: skip
        assert f'id="{section}"' in html, section
    for chart in ("chart-cohorts", "chart-whale", "chart-mix"):
        assert f'data-chart="{chart}"' in html and f'id="{chart}"' in html
    assert 'id="churn-risk"' in html and 'id="profit-top"' in html
    total = len(_buyers_with_orders(company_a))
    assert response.context["page"]["totals"]["customers"] == total
    assert response.context["whale"]["customers"] == total
    for key in _buyers_with_orders(company_a):
        assert f"?key={key}" in html  # every customer is linked from a list
    sections = ("profiling", "persistency", "profitability", "performance", "prospecting",
                "product", "promotion")  # fmt: skip
    for chosen in sections:  # a screen per P: that P alone
        one = client_for(users_a["sales_manager"]).get(reverse("analytics:customers"),
                                                       {"p": chosen}).content.decode()  # fmt: skip
        assert [s for s in sections if f'<section id="{s}"' in one] == [chosen]
    odd = client_for(users_a["sales_manager"]).get(reverse("analytics:customers"), {"p": "x"})
    assert all(f'<section id="{s}"' in odd.content.decode() for s in sections)  # unknown: all


def test_a_rep_sees_only_their_customers(world, company_a, users_a, client_for):
    rep = users_a["sales_rep"]
    client = client_for(rep)
    response = client.get(reverse("analytics:customers"))
    own = _buyers_with_orders(company_a, rep)
    assert response.status_code == 200 and own
    assert response.context["page"]["totals"]["customers"] == len(own)
    revenue = sum((line.amount_untaxed for order in SalesOrder.unscoped.filter(
        company=company_a, state__in=etl.SALES_STATES, party__salesperson=rep)
        for line in order.lines.all()), Decimal(0))  # fmt: skip
    assert Decimal(str(response.context["page"]["totals"]["revenue"])) == pytest.approx(revenue)
    page = reverse("analytics:customer_7p")
    mine = next(iter(own))
    theirs = next(iter(_buyers_with_orders(company_a, users_a["sales_manager"])))
    detail = client.get(f"{page}?key={mine}")
    assert detail.status_code == 200 and 'id="seven-p"' in detail.content.decode()
    assert client.get(f"{page}?key={theirs}").status_code == 404
    assert client_for(users_a["sales_manager"]).get(f"{page}?key={theirs}").status_code == 200
    assert client.get(page).status_code == 302  # no customer chosen: back to the overview
    api = client.get(f"/api/v1/analytics/customers/{theirs}")
    assert api.status_code == 404
    body = client.get(f"/api/v1/analytics/customers/{mine}").json()
    assert body["customer"]["customer_key"] == mine and body["run"]["as_of"] == "2026-09-01"
    overview = client.get("/api/v1/analytics/customers/overview").json()
    assert overview["totals"]["customers"] == len(own)


def test_other_company_sees_nothing_of_it(world, company_b, users_a, client_for, company_a):
    key = next(iter(_buyers_with_orders(company_a)))
    with customers.warehouse.connect(read_only=True) as con:
        from xietong.analytics import customers_reads

        assert customers_reads.customer_detail(con, company_id=company_b.pk,
                                               customer_key=key) is None  # fmt: skip
        assert customers_reads.overview(con, company_id=company_b.pk)["run"] is None


def test_customer_page_holds_the_seven_ps(world, company_a, users_a, client_for):
    key = next(iter(_buyers_with_orders(company_a)))
    response = client_for(users_a["executive"]).get(
        reverse("analytics:customer_7p") + f"?key={key}"
    )
    html = response.content.decode()
    assert response.status_code == 200
    for part in ("Profiling", "Persistency", "Profitability", "Performance", "Prospecting",
                 "Product", "Promotion"):  # fmt: skip
        assert part in html
    assert 'data-chart="chart-monthly"' in html and 'id="suggestions"' in html
    row = response.context["c"]
    orders = SalesOrder.unscoped.filter(company=company_a, party_id=key,
                                        state__in=etl.SALES_STATES)  # fmt: skip
    assert row["orders"] == orders.count()
    assert row["last_date"] == max(o.date for o in orders)


def test_refresh_is_a_managers_job(
    world, company_a, users_a, client_for, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    url = reverse("analytics:customers_refresh")
    assert client_for(users_a["sales_rep"]).post(url).status_code == 403
    with django_capture_on_commit_callbacks(execute=False):
        response = client_for(users_a["sales_manager"]).post(url)
    job = Job.unscoped.get(kind="analytics.customers_refresh")
    assert response.status_code == 302 and job.company_id == company_a.pk
    progress = []
    context = SimpleNamespace(company=company_a,
                              progress=lambda *args: progress.append(args))  # fmt: skip
    result = customers.refresh_job(context, as_of=AS_OF.isoformat())
    assert result["customers"] == len(_buyers_with_orders(company_a)) and progress


def test_command_refreshes_each_company(world, company_a, company_b):
    out = []

    class Out:
        def write(self, text, *args, **kwargs):  # type: ignore[no-untyped-def]
            out.append(text)

        def flush(self):  # type: ignore[no-untyped-def]
            pass

    call_command("analytics_customers", "--as-of", "2026-09-01", stdout=Out())
    text = "".join(out)
    assert str(company_a) in text and str(company_b) in text and "2026-09-01" in text
    with customers.warehouse.connect(read_only=True) as con:
        run = con.execute("SELECT summary FROM cust_7p_run WHERE company_id = ?",
                          [company_b.pk]).fetchone()  # fmt: skip
    assert json.loads(run[0])["customers"] == len(_buyers_with_orders(company_b))


def test_overview_before_any_refresh_says_so(company_a, users_a, client_for):
    response = client_for(users_a["sales_manager"]).get(reverse("analytics:customers"))
    assert response.status_code == 200 and 'id="no-analysis"' in response.content.decode()


def test_api_matrix_samples_succeed_for_their_holders(world, company_a, users_a, client_for):
    """The samples of api_samples_customers.py answer 2xx to a holder of the permission (a rep
    for the reads, on their own customer; a manager for the refresh), 403 to a rep refreshing."""
    from xietong.analytics.tests.api_samples_customers import SAMPLES

    for (method, path), make in SAMPLES.items():
        user = users_a["sales_manager" if path.endswith("/refresh") else "sales_rep"]
        sample = make(user, company_a)
        url = "/api/v1" + path.format(**sample["path_params"])
        response = client_for(user).generic(method, url, data=json.dumps(sample["body"] or {}),
                                            content_type="application/json")  # fmt: skip
        assert 200 <= response.status_code < 300, (method, path, response.content)
    refresh = client_for(users_a["sales_rep"]).post("/api/v1/analytics/customers/refresh")
    assert refresh.status_code == 403


def test_screens_with_clusters_churn_and_clv(company_a, users_a, client_for):
    """600 simulated customers of company A straight in the warehouse: the overview shows the
    clusters with their description, the churn model's AUC and the CLV list; a customer's page
    its cluster and churn risk."""
    from xietong.analytics import warehouse
    from xietong.analytics.tests.test_customers import AS_OF as SIM_AS_OF
    from xietong.analytics.tests.test_customers import _simulated

    with warehouse.connect() as con:
        _simulated(con, company_id=company_a.pk, owner_id=users_a["sales_manager"].pk)
        summary = customers.refresh(con, company_id=company_a.pk, as_of=SIM_AS_OF)
    client = client_for(users_a["sales_manager"])
    response = client.get(reverse("analytics:customers"))
    html = response.content.decode()
    clusters = response.context["page"]["clusters"]
    assert len(clusters) == summary["profiling"]["k"] >= 2
    for cluster in clusters:
        assert cluster["description"] in html
    assert f"{summary['churn']['auc']:.3f}" in html and 'id="clv-top"' in html
    assert 'data-chart="chart-cluster-centres"' in html
    detail = client.get(reverse("analytics:customer_7p") + "?key=1")
    assert detail.status_code == 200 and 'id="churn"' in detail.content.decode()
    assert detail.context["d"]["cluster"]["description"] in detail.content.decode()
    rep = client_for(users_a["sales_rep"]).get(reverse("analytics:customers"))
    assert rep.context["page"]["totals"]["customers"] == 0  # none of them is the rep's


def test_cost_to_serve_target_and_payments_on_the_screens(company_a, users_a, client_for):
    from django.utils import timezone

    rep = users_a["sales_rep"]
    h = history(company_a, seed=5, orders=25, salespeople=[rep, users_a["sales_manager"]])
    made = service_history(company_a, h, rep=rep)
    etl.etl_run(full=True)
    due = made.invoice.due_date or made.invoice.date
    as_of = max(timezone.localdate(), due + dt.timedelta(days=13))
    summary = customers.customers_refresh(company_id=company_a.pk, as_of=as_of)
    assert summary["left_out"] == ["promotion_prices", "team_targets", "share_of_wallet"]
    buyer = h.buyers[0]  # the rep's: a ticket, the discounted order paid 12 days late
    response = client_for(users_a["sales_manager"]).get(
        reverse("analytics:customer_7p") + f"?key={buyer.pk}")  # fmt: skip
    html = response.content.decode()
    c = response.context["c"]
    assert c["tickets"] == 1 and c["discounts"] > 0 and c["days_late"] > 0
    assert 0 < c["on_time_share"] < 1 and c["target"] > 0
    assert c["cost_to_serve"] == pytest.approx(c["returns"] + c["discounts"] + c["ticket_cost"]
                                               + c["delay_cost"])  # fmt: skip
    for part in ('id="cost-to-serve"', 'id="cost-to-serve-parts"', 'id="attainment"',
                 'id="payment-behaviour"'):  # fmt: skip
        assert part in html, part
    assert "paid on time" in html and "days late on average" in html
    overview = client_for(users_a["sales_manager"]).get(reverse("analytics:customers"))
    page = overview.content.decode()
    assert 'id="serve-top"' in page and 'id="late-payers"' in page
    assert f"?key={buyer.pk}" in page and "Against target" in page
    totals = overview.context["page"]["totals"]
    assert totals["tickets"] == len([b for b in h.buyers if b.pk in _buyers_with_orders(company_a)])
    mine = client_for(rep).get(reverse("analytics:customers")).context["page"]["totals"]
    assert mine["tickets"] == len(_buyers_with_orders(company_a, rep))
    assert mine["with_target"] >= 1
