"""Quotations made from an opportunity and linked back: "New quotation" on the opportunity opens
the sales editor for its customer and saves a draft linked to it (as a sales rep, not a
superuser); the opportunity lists its quotations and orders; confirming an order made from one
of them wins the opportunity (sales' OrderConfirmed event, crm's handler) with the order's
untaxed total; the same over the API; another company's or team's opportunity is refused."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from xietong.core.services import api_token_create
from xietong.core.tenancy import company_scope
from xietong.crm import services
from xietong.crm.models import Opportunity
from xietong.crm.tests import factories
from xietong.sales import documents
from xietong.sales.models import Quotation, SalesOrder
from xietong.sales.tests import factories as sales_factories

API = "/api/v1"
pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def shop(company_a):  # type: ignore[no-untyped-def]
    made = sales_factories.shop(company_a)
    made.item = sales_factories.item(company_a, "100", sku="BIKE-1", name="City bike")
    sales_factories.receive(made.item, 50, made.stock)
    return made


def _editor_post(opportunity: Opportunity, sku: str, quantity: str) -> dict[str, str]:
    day = sales_factories.today().isoformat()
    return {"party": str(opportunity.party_id), "date": day, "valid_until": day,
            "customer_reference": "PO-7", "notes": "", "lines-TOTAL_FORMS": "1",
            "lines-0-product": sku, "lines-0-quantity": quantity}  # fmt: skip


def test_new_quotation_from_the_opportunity_as_a_rep(company_a, sales, shop, client_for):
    deal = factories.opportunity(company_a, sales.east, owner=sales.rep, revenue="0")
    client = client_for(sales.rep)
    detail = reverse("crm:opportunity_detail", args=[deal.pk])
    page = client.get(detail).content.decode()
    create = reverse("crm:opportunity_quotation_create", args=[deal.pk])
    assert create in page and 'id="action-quote"' in page

    assert client.get(create).status_code == 200
    response = client.post(create, _editor_post(deal, "BIKE-1", "3"))
    assert response.status_code == 302, response.content.decode()[:2000]
    quotation = Quotation.unscoped.get(opportunity_id=deal.pk)
    assert response["Location"] == reverse("sales:quotation_detail", args=[quotation.pk])
    assert quotation.party_id == deal.party_id and quotation.state == "draft"
    assert quotation.salesperson == sales.rep and quotation.amount_untaxed == D("300")
    deal.refresh_from_db()
    assert deal.expected_revenue == D("300")  # followed the quotation (it had none)

    page = client.get(detail).content.decode()
    assert quotation.number in page and 'id="opportunity-documents"' in page

    # no line: refused on the page, nothing written
    empty = _editor_post(deal, "", "")
    response = client.post(create, empty)
    assert response.status_code == 400
    assert Quotation.unscoped.filter(opportunity_id=deal.pk).count() == 1


def test_quotation_refused_for_another_team_company_or_role(company_a, company_b, users_b, sales,
                                                            shop, client_for):  # fmt: skip
    west = factories.opportunity(company_a, sales.west, owner=sales.other)
    create = reverse("crm:opportunity_quotation_create", args=[west.pk])
    assert client_for(sales.rep).get(create).status_code == 404  # another team's
    b_team = factories.team(company_b, "B", members=[users_b["sales_rep"]])
    b_deal = factories.opportunity(company_b, b_team, owner=users_b["sales_rep"])
    b_create = reverse("crm:opportunity_quotation_create", args=[b_deal.pk])
    assert client_for(sales.rep).get(b_create).status_code == 404  # another company's
    deal = factories.opportunity(company_a, sales.east, owner=sales.rep)
    own = reverse("crm:opportunity_quotation_create", args=[deal.pk])
    assert client_for(sales.manager).get(own).status_code == 200
    executive = client_for(factories.staff(company_a, "executive"))
    assert executive.get(own).status_code == 403  # crm.view only
    with company_scope(company_a):
        lost = services.opportunity_lose(opportunity=deal, actor=None,
                                         reason=factories.lost_reason(company_a))  # fmt: skip
        with pytest.raises(services.CrmError):
            services.opportunity_quotation_create(
                opportunity=lost, actor=sales.rep, lines=[{"product": shop.item.pk, "quantity": 1}]
            )


def test_order_confirmed_from_the_quotation_wins_the_opportunity(
    company_a, sales, shop, django_capture_on_commit_callbacks
):
    deal = factories.opportunity(company_a, sales.east, owner=sales.rep, revenue="5000")
    other = factories.opportunity(company_a, sales.east, owner=sales.rep, revenue="100")
    with company_scope(company_a):
        quotation = services.opportunity_quotation_create(
            opportunity=deal, actor=sales.rep,
            lines=[{"product": shop.item.pk, "quantity": D(4), "unit_price": D("250")}],
        )  # fmt: skip
        assert quotation.opportunity_id == deal.pk and quotation.contact_id == deal.contact_id
        deal.refresh_from_db()
        assert deal.expected_revenue == D("5000")  # had its own: kept
        documents.quotation_mark_sent(quotation=quotation, actor=sales.rep)
        with django_capture_on_commit_callbacks(execute=True):
            order = documents.quotation_accept(quotation=quotation, actor=sales.rep)
    assert order.state == SalesOrder.State.CONFIRMED
    deal.refresh_from_db()
    other.refresh_from_db()
    assert (deal.state, deal.stage.name, deal.expected_revenue) == ("won", "Won", D("1000"))
    assert other.state == "open"  # an opportunity without the order is left alone
    with company_scope(company_a):
        from xietong.sales import selectors as sales_selectors

        assert [o.pk for o in sales_selectors.opportunity_orders(opportunity_id=deal.pk)] == [
            order.pk
        ]
        # a quotation of no opportunity: confirming its order touches no opportunity
        plain = documents.quotation_create(company=company_a, actor=sales.rep, party=other.party,
                                           lines=[{"product": shop.item.pk, "quantity": 1}])  # fmt: skip
        documents.quotation_mark_sent(quotation=plain, actor=sales.rep)
        with django_capture_on_commit_callbacks(execute=True):
            documents.quotation_accept(quotation=plain, actor=sales.rep)
    other.refresh_from_db()
    assert other.state == "open"


def _api(user, company) -> Client:  # type: ignore[no-untyped-def]
    _token, raw = api_token_create(user=user, company=company, name="crm quotations")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def _post(client: Client, path: str, body: Any) -> Any:
    return client.post(API + path, data=json.dumps(body), content_type="application/json")


def test_quotations_of_an_opportunity_over_the_api(company_a, company_b, users_b, sales, shop):
    deal = factories.opportunity(company_a, sales.east, owner=sales.rep)
    rep = _api(sales.rep, company_a)
    path = f"/crm/opportunities/{deal.pk}/quotations"
    made = _post(rep, path, {"lines": [{"sku": "BIKE-1", "quantity": "2"}],
                             "customer_reference": "API-1"})  # fmt: skip
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["party"] == deal.party_id and body["state"] == "draft"
    assert Quotation.unscoped.get(pk=body["id"]).opportunity_id == deal.pk
    listed = rep.get(API + path).json()
    assert [q["id"] for q in listed["items"]] == [body["id"]]
    assert listed["items"][0]["amount_untaxed"] == "200.0000"
    assert rep.get(API + f"/crm/opportunities/{deal.pk}/orders").json()["items"] == []

    bad = _post(rep, path, {"lines": [{"sku": "NOPE", "quantity": "1"}]})
    assert bad.status_code == 422
    assert _post(rep, path, {"lines": []}).status_code == 422
    assert Quotation.unscoped.filter(opportunity_id=deal.pk).count() == 1

    b_team = factories.team(company_b, "B", members=[users_b["sales_rep"]])
    b_deal = factories.opportunity(company_b, b_team, owner=users_b["sales_rep"])
    assert rep.get(API + f"/crm/opportunities/{b_deal.pk}/quotations").status_code == 404
    assert _post(rep, f"/crm/opportunities/{b_deal.pk}/quotations",
                 {"lines": [{"sku": "BIKE-1", "quantity": "1"}]}).status_code == 404  # fmt: skip
    executive = _api(factories.staff(company_a, "executive"), company_a)
    assert _post(executive, path, {"lines": [{"sku": "BIKE-1"}]}).status_code == 403
