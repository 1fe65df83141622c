"""Coupon codes typed by users: over the REST API (quotations created and changed, orders) and on
the quick-quote editor (live re-pricing with the promotion shown on the line, saving), a live
campaign's coupon lowers the prices; an unknown or expired code is a field error on
`coupon_code` and changes nothing. The campaigns and promotions are made as a marketer would
(crm's test factories and its API), the documents as a sales rep; and the CRM's price adjuster
asks the database for promotions only while the company has a live one."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from xietong.api.tests.conftest import API, token_client, token_for
from xietong.core.tenancy import company_scope
from xietong.crm.tests import marketing_factories as mk
from xietong.sales import documents
from xietong.sales.models import Quotation, SalesOrder
from xietong.sales.tests.factories import customer, item, receive, shop

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def world(company_a, users_a):  # type: ignore[no-untyped-def]
    """A shop with a bike (1000) and a helmet (200) in stock, a customer, and a running
    campaign (today − 5 to today + 25) with a 10 % promotion on the coupon SPRING10 and a 20 %
    bundle promotion (bike + helmet) on the coupon DUO."""
    s = shop(company_a)
    s.bike = item(company_a, "1000", sku="CP-BIKE", name="Coupon bike")
    s.helmet = item(company_a, "200", sku="CP-HELMET", name="Coupon helmet")
    receive(s.bike, 20, s.stock)
    receive(s.helmet, 20, s.stock)
    s.buyer = customer(company_a)
    s.campaign = mk.campaign(company_a, name="Spring sale")
    s.marketer = token_client(token_for(users_a["marketer"], company_a))
    for body in ({"name": "Ten off", "value": "10", "coupons": ["spring10"]},
                 {"name": "Duo", "kind": "bundle", "value": "20",
                  "products": ["CP-BIKE", "CP-HELMET"], "coupons": ["DUO"]}):  # fmt: skip
        made = _post(s.marketer, f"/crm/marketing/campaigns/{s.campaign.pk}/promotions", body)
        assert made.status_code == 201, made.content
    return s


@pytest.fixture
def api(users_a, company_a) -> Client:  # type: ignore[no-untyped-def]
    return token_client(token_for(users_a["sales_rep"], company_a))


@pytest.fixture
def rep(users_a, client_for):  # type: ignore[no-untyped-def]
    return client_for(users_a["sales_rep"])


def _post(client: Client, path: str, body: Any, method: str = "post") -> Any:
    return getattr(client, method)(API + path, json.dumps(body), content_type="application/json")


def _field_errors(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.content
    return {error["field"]: error["message"] for error in response.json()["errors"]}


# --- the REST API -------------------------------------------------------------------------------


def test_api_quotation_with_a_coupon_gets_the_promotion(world, api, company_a):
    body = {"party": world.buyer.pk, "lines": [{"sku": "CP-BIKE", "quantity": "2"}]}
    plain = _post(api, "/sales/quotations", body)
    assert plain.status_code == 201, plain.content
    assert plain.json()["coupon_code"] == "" and plain.json()["amount_untaxed"] == "2000.0000"
    made = _post(api, "/sales/quotations", {**body, "coupon_code": " spring10 "})
    assert made.status_code == 201, made.content
    out = made.json()
    line = out["lines"][0]
    assert out["coupon_code"] == "SPRING10"
    assert (D(line["unit_price"]), D(line["list_price"])) == (D("900"), D("900"))
    assert D(out["amount_untaxed"]) == D("1800") and D(out["max_discount"]) == 0


def test_api_unknown_or_expired_coupon_is_a_field_error_and_saves_nothing(world, api,
                                                                          company_a):  # fmt: skip
    body = {"party": world.buyer.pk, "lines": [{"sku": "CP-BIKE"}]}
    errors = _field_errors(_post(api, "/sales/quotations", {**body, "coupon_code": "NOSUCH"}))
    assert errors == {"coupon_code": "This coupon code is not known."}
    late = (mk.today() + dt.timedelta(days=40)).isoformat()
    errors = _field_errors(_post(api, "/sales/quotations",
                                 {**body, "coupon_code": "SPRING10", "date": late}))  # fmt: skip
    assert "valid only during the campaign Spring sale" in errors["coupon_code"]
    errors = _field_errors(_post(api, "/sales/orders", {**body, "coupon_code": "NOSUCH",
                                                        "confirm": True}))  # fmt: skip
    assert set(errors) == {"coupon_code"}
    assert not Quotation.unscoped.filter(company=company_a).exists()
    assert not SalesOrder.unscoped.filter(company=company_a).exists()


def test_api_changing_the_coupon_prices_the_lines_again(world, api, company_a):
    made = _post(api, "/sales/quotations", {"party": world.buyer.pk, "lines": [
        {"sku": "CP-BIKE"}, {"sku": "CP-HELMET", "unit_price": "150"}]})  # fmt: skip
    pk = made.json()["id"]
    patched = _post(api, f"/sales/quotations/{pk}", {"coupon_code": "spring10"}, "patch")
    assert patched.status_code == 200, patched.content
    prices = [D(line["unit_price"]) for line in patched.json()["lines"]]
    assert prices == [D("900"), D("150")]  # the typed price stays as typed
    refused = _post(api, f"/sales/quotations/{pk}", {"coupon_code": "NOSUCH"}, "patch")
    assert set(_field_errors(refused)) == {"coupon_code"}
    kept = Quotation.unscoped.get(pk=pk)
    assert (kept.coupon_code, kept.amount_untaxed) == ("SPRING10", D("1050"))
    cleared = _post(api, f"/sales/quotations/{pk}", {"coupon_code": ""}, "patch")
    assert [D(line["unit_price"]) for line in cleared.json()["lines"]] == [D("1000"), D("150")]


def test_api_order_with_a_bundle_coupon(world, api, company_a):
    made = _post(api, "/sales/orders", {
        "party": world.buyer.pk, "coupon_code": "duo", "confirm": True,
        "lines": [{"sku": "CP-BIKE"}, {"sku": "CP-HELMET"}]})  # fmt: skip
    assert made.status_code == 201, made.content
    out = made.json()
    assert out["state"] == "confirmed" and out["coupon_code"] == "DUO"
    assert [D(line["unit_price"]) for line in out["lines"]] == [D("800"), D("160")]


# --- the quick-quote editor ---------------------------------------------------------------------


def _form(party: Any, *rows: dict[str, str], **header: str) -> dict[str, str]:
    data = {"party": str(party.pk), "date": mk.today().isoformat(), "valid_until": "",
            "customer_reference": "", "notes": "", "lines-TOTAL_FORMS": str(len(rows)),
            **header}  # fmt: skip
    for i, row in enumerate(rows):
        data.update({f"lines-{i}-{key}": value for key, value in row.items()})
    return data


def test_editor_shows_the_coupon_field_and_the_promotion_live(world, rep):
    page = rep.get(reverse("sales:quotation_create"))
    assert page.status_code == 200
    assert b'name="coupon_code"' in page.content
    url = reverse("sales:quotation_lines") + "?part=amounts"
    # the bundle needs both products on the document: priced together, as saving does
    data = _form(world.buyer, {"product": "CP-BIKE"}, {"product": "CP-HELMET"},
                 coupon_code="duo")  # fmt: skip
    html = rep.post(url, data).content.decode()
    assert 'id="coupon-applied"' in html and "Coupon DUO applied" in html
    assert html.count("line-promotion") == 2 and "Promotion Duo (campaign Spring sale)" in html
    assert "<s>1,000.00</s>" in html or "<s>1000.00</s>" in html
    assert 'id="editor-untaxed">960.00<' in html  # 800 + 160
    without = rep.post(url, _form(world.buyer, {"product": "CP-BIKE"},
                                  {"product": "CP-HELMET"})).content.decode()  # fmt: skip
    assert "line-promotion" not in without and "coupon-applied" not in without
    unknown = rep.post(url, _form(world.buyer, {"product": "CP-BIKE"},
                                  coupon_code="NOSUCH")).content.decode()  # fmt: skip
    assert 'id="coupon-error"' in unknown and "This coupon code is not known." in unknown
    assert "line-promotion" not in unknown
    no_lines = rep.post(url, _form(world.buyer, {}, coupon_code="NOSUCH")).content.decode()
    assert "This coupon code is not known." in no_lines


def test_editor_saves_the_coupon_and_refuses_an_unknown_one(world, rep, company_a):
    refused = rep.post(reverse("sales:quotation_create"),
                       _form(world.buyer, {"product": "CP-BIKE", "quantity": "2"},
                             coupon_code="NOSUCH"))  # fmt: skip
    assert refused.status_code == 400
    assert b'data-field-error="coupon_code"' in refused.content
    assert not Quotation.unscoped.filter(company=company_a).exists()
    saved = rep.post(reverse("sales:quotation_create"),
                     _form(world.buyer, {"product": "CP-BIKE", "quantity": "2"},
                           coupon_code="spring10"))  # fmt: skip
    assert saved.status_code == 302, saved.content.decode()[:2000]
    quotation = Quotation.unscoped.get(company=company_a)
    assert (quotation.coupon_code, quotation.amount_untaxed) == ("SPRING10", D("1800"))
    detail = rep.get(saved.url).content.decode()
    assert 'id="document-coupon"' in detail and "SPRING10" in detail
    edit = rep.get(reverse("sales:quotation_edit", args=[quotation.pk]))
    assert b'value="SPRING10"' in edit.content
    assert b"Promotion Ten off (campaign Spring sale)" in edit.content
    cleared = rep.post(reverse("sales:quotation_edit", args=[quotation.pk]),
                       _form(world.buyer, {"product": "CP-BIKE", "quantity": "2"},
                             coupon_code=""))  # fmt: skip
    assert cleared.status_code == 302
    quotation.refresh_from_db()
    assert (quotation.coupon_code, quotation.amount_untaxed) == ("", D("2000"))


def test_direct_order_editor_takes_the_coupon(world, rep, company_a):
    data = _form(world.buyer, {"product": "CP-HELMET", "quantity": "5"}, coupon_code="SPRING10",
                 requested_date="", invoice_policy="")  # fmt: skip
    data.pop("valid_until")
    saved = rep.post(reverse("sales:order_create"), data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    order = SalesOrder.unscoped.get(company=company_a)
    assert (order.coupon_code, order.amount_untaxed) == ("SPRING10", D("900"))


# --- the CRM's adjuster on the hot path ---------------------------------------------------------


def _promotion_queries(company: Any, party: Any, product: Any, **fields: Any) -> tuple[int, Any]:
    with company_scope(company), CaptureQueriesContext(connection) as captured:
        made = documents.quotation_create(company=company, actor=None, party=party,
                                          lines=[{"product": product.pk}], **fields)  # fmt: skip
    asked = [q for q in captured.captured_queries if '"crm_promotion"' in q["sql"]]
    return len(asked), made


def test_no_promotion_query_while_the_company_has_no_live_promotion(company_a, users_a):
    shop(company_a)
    bike = item(company_a, "1000")
    buyer = customer(company_a)
    first, _made = _promotion_queries(company_a, buyer, bike)
    again, made = _promotion_queries(company_a, buyer, bike)
    assert (first, again) == (1, 0)  # the company's "none live today" is remembered
    assert made.amount_untaxed == D("1000")
    # a draft campaign's promotion is not live; once the campaign runs, it applies at once
    marketer = token_client(token_for(users_a["marketer"], company_a))
    campaign = mk.campaign(company_a, state="draft")
    promoted = _post(marketer, f"/crm/marketing/campaigns/{campaign.pk}/promotions",
                     {"name": "Five off", "value": "5"})  # fmt: skip
    assert promoted.status_code == 201, promoted.content
    asked, made = _promotion_queries(company_a, buyer, bike)
    assert made.amount_untaxed == D("1000")
    moved = _post(marketer, f"/crm/marketing/campaigns/{campaign.pk}/state", {"state": "running"})
    assert moved.status_code == 200, moved.content
    asked, made = _promotion_queries(company_a, buyer, bike)
    assert asked >= 1 and made.amount_untaxed == D("950")
    again, made = _promotion_queries(company_a, buyer, bike)
    assert again >= 1 and made.amount_untaxed == D("950")


def test_editor_preview_asks_no_promotion_query_per_line(company_a, rep):
    s = shop(company_a)
    products = [item(company_a, "100") for _n in range(10)]
    for product in products:
        receive(product, 5, s.stock)
    buyer = customer(company_a)
    data = _form(buyer, *({"product": p.sku} for p in products))
    url = reverse("sales:quotation_lines") + "?part=amounts"

    def promotion_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert rep.post(url, data).status_code == 200
        return sum('"crm_promotion"' in q["sql"] for q in captured.captured_queries)

    assert promotion_queries() <= 1  # each line is priced alone: once per company and date
    assert promotion_queries() == 0
