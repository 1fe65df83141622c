"""The pivot screen: the table with totals and drill links, HTMX partial, CSV and XLSX export,
saving, sharing and deleting views, and the scoping (a rep sees only their customers, a manager
all, nobody another company's)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from xietong.analytics import etl
from xietong.analytics.models import SavedPivot
from xietong.analytics.tests.factories import loaded_world, operational_revenue
from xietong.core.models import Job
from xietong.sales.models import SalesOrder

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(company_a, company_b, users_a):  # type: ignore[no-untyped-def]
    return loaded_world(company_a, company_b, users_a, orders=10)


def _csv(response):  # type: ignore[no-untyped-def]
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_pivot_screen_shows_totals_drill_and_chart(world, company_a, users_a, client_for):
    client = client_for(users_a["sales_manager"])
    response = client.get(reverse("analytics:pivot") + "?m=revenue&r=year&c=top_category")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="pivot-table"' in html and 'data-chart="pivot-chart"' in html
    assert "r=quarter" in html and "f_year=2025" in html  # drill down from a year
    assert 'name="f_top_category"' in html and 'id="pivot-filters"' in html  # filter choices
    partial = client.get(reverse("analytics:pivot") + "?m=revenue&r=quarter&f_year=2025",
                         headers={"HX-Request": "true"})  # fmt: skip
    body = partial.content.decode()
    assert "<html" not in body and 'id="pivot-table"' in body
    assert 'id="drill-up"' in body  # back to years
    assert "2025-Q" in body and "2026-Q" not in body
    counted = client.get(reverse("analytics:pivot") + "?m=orders&m=revenue",
                         headers={"HX-Request": "true"}).content.decode()  # fmt: skip
    orders = SalesOrder.unscoped.filter(company=company_a, state__in=etl.SALES_STATES).count()
    assert f'<td class="text-end">{orders:,}</td>' in counted  # a count without decimals
    assert f'<td class="text-end">{orders:,}.00</td>' not in counted


def test_export_csv_and_xlsx_hold_the_operational_totals(world, company_a, users_a, client_for):
    client = client_for(users_a["executive"])
    url = reverse("analytics:pivot_export") + "?m=revenue&m=orders&r=customer"
    rows = _csv(client.get(url + "&format=csv"))
    assert rows[0][0] == "Customer"
    assert rows[-1][0] == "Total"
    assert Decimal(rows[-1][1]) == operational_revenue(company_a)
    assert not any(r[0].startswith(f"Buyer {company_a.pk + 1}-") for r in rows)  # company B
    response = client.get(url + "&format=xlsx")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.values)
    assert values[0][0] == "Customer" and values[-1][0] == "Total"
    assert Decimal(str(values[-1][1])).quantize(Decimal("0.01")) == operational_revenue(
        company_a
    ).quantize(Decimal("0.01"))


def test_rep_sees_only_own_customers(world, company_a, users_a, client_for):
    rep = users_a["sales_rep"]
    rows = _csv(client_for(rep).get(reverse("analytics:pivot_export")
                                    + "?m=revenue&r=customer&format=csv"))  # fmt: skip
    own = {b.name for b in world.buyers if b.salesperson_id == rep.pk}
    assert {r[0] for r in rows[1:-1]} <= own and rows[1:-1]
    assert Decimal(rows[-1][1]) == operational_revenue(company_a, order__party__salesperson=rep)
    manager_rows = _csv(client_for(users_a["sales_manager"]).get(
        reverse("analytics:pivot_export") + "?m=revenue&r=customer&format=csv"))  # fmt: skip
    assert len(manager_rows) > len(rows)


def test_save_share_open_and_delete_a_view(world, company_a, users_a, client_for):
    manager, rep = users_a["sales_manager"], users_a["sales_rep"]
    client = client_for(manager)
    response = client.post(reverse("analytics:view_save"), {
        "name": "Revenue by region", "m": ["revenue", "margin"], "r": ["region"],
        "c": ["year"], "f_customer_group": ["Group 1"], "sort": "revenue", "desc": "1"})  # fmt: skip
    view = SavedPivot.unscoped.get(name="Revenue by region")
    assert response.status_code == 302 and response["Location"].endswith(f"?view={view.pk}")
    assert view.owner == manager and view.company == company_a and not view.shared
    assert view.definition["filters"] == {"customer_group": ["Group 1"]}
    assert view.definition["sort"] == {"by": "revenue", "desc": True}
    opened = client.get(reverse("analytics:pivot") + f"?view={view.pk}")
    assert "Revenue by region" in opened.content.decode()
    # not shared: the rep cannot open it
    assert client_for(rep).get(reverse("analytics:pivot") + f"?view={view.pk}").status_code == 404
    client.post(reverse("analytics:view_share"), {"view": view.pk, "shared": "1"})
    view.refresh_from_db()
    assert view.shared
    assert client_for(rep).get(reverse("analytics:pivot") + f"?view={view.pk}").status_code == 200
    # only the owner deletes
    assert client_for(rep).post(reverse("analytics:view_delete"),
                                {"view": view.pk}).status_code == 404  # fmt: skip
    client.post(reverse("analytics:view_delete"), {"view": view.pk})
    assert not SavedPivot.unscoped.filter(pk=view.pk).exists()


def test_bad_definitions_are_refused_with_a_message(world, users_a, client_for):
    client = client_for(users_a["sales_manager"])
    response = client.get(reverse("analytics:pivot") + "?m=nope&r=year")
    assert 'id="pivot-error"' in response.content.decode()
    client.post(reverse("analytics:view_save"), {"name": "", "m": ["revenue"], "r": ["year"]})
    assert not SavedPivot.unscoped.exists()
    assert client.get(reverse("analytics:pivot_export") + "?m=x&format=csv").status_code == 400


def test_another_companys_view_is_not_found(world, company_b, users_a, client_for):
    from xietong.core.models import User

    other = SavedPivot.unscoped.create(company=company_b, owner=User.objects.exclude(
        pk__in=[u.pk for u in users_a.values()]).first(), name="B view", shared=True,
        definition={"measures": ["revenue"], "rows": ["year"]})  # fmt: skip
    response = client_for(users_a["sales_manager"]).get(
        reverse("analytics:pivot") + f"?view={other.pk}"
    )
    assert response.status_code == 404


def test_refresh_starts_a_job(world, users_a, client_for):
    response = client_for(users_a["executive"]).post(reverse("analytics:refresh"))
    job = Job.unscoped.get(kind="analytics.refresh")
    assert response.status_code == 302 and job.params == {"full": False}
    assert client_for(users_a["sales_rep"]).post(reverse("analytics:refresh")).status_code == 403
