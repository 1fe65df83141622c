"""The sales API: lead to cash over HTTP as real role users (a quotation sent and accepted, the
order delivered by the warehouse, invoiced by sales and posted by accounting, a return received
and credited), idempotent order creation, invalid input as problems naming the field with
nothing written, refusals of the services, the finance permission that posting needs, company
scoping, and the query count of the lists."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from xietong.api.tests.conftest import API, token_client, token_for
from xietong.core.models import Company
from xietong.finance.models import Invoice
from xietong.inventory import stock
from xietong.inventory.models import Picking
from xietong.sales.models import Quotation, ReturnOrder, SalesOrder
from xietong.sales.tests import api_samples
from xietong.sales.tests.factories import customer, item, receive, shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(company_a):  # type: ignore[no-untyped-def]
    return shop(company_a)


@pytest.fixture
def rep(users_a, company_a) -> Client:  # type: ignore[no-untyped-def]
    return token_client(token_for(users_a["sales_rep"], company_a))


@pytest.fixture
def accountant(users_a, company_a) -> Client:  # type: ignore[no-untyped-def]
    return token_client(token_for(users_a["accountant"], company_a))


@pytest.fixture
def clerk(users_a, company_a) -> Client:  # type: ignore[no-untyped-def]
    return token_client(token_for(users_a["warehouse_clerk"], company_a))


@pytest.fixture
def admin(users_a, company_a) -> Client:  # type: ignore[no-untyped-def]
    return token_client(token_for(users_a["admin"], company_a))


def post(client: Client, path: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post(
        API + path, json.dumps(body or {}), content_type="application/json", headers=headers
    )


def get(client: Client, path: str, **query: Any) -> Any:
    response = client.get(API + path, query)
    assert response.status_code == 200, response.content
    return response.json()


def fields_of(response: Any) -> set[str]:
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    return {error["field"] for error in response.json()["errors"]}


def stocked(company: Company, s: Any, price: str = "1000", quantity: int = 10) -> Any:
    product = item(company, price, cost="600")
    if quantity:
        receive(product, quantity, s.stock, "600")
    return product


def test_lead_to_cash_over_http(s, company_a, users_a, rep, clerk, accountant, mailoutbox):
    bike = stocked(company_a, s)
    buyer = customer(company_a, "Lead to Cash Ltd", email="buyer@example.com")

    refused = post(clerk, "/sales/quotations", {"party": buyer.pk, "lines": [{"sku": bike.sku}]})
    assert refused.status_code == 403 and refused.json()["permission"] == "sales.quote"

    created = post(rep, "/sales/quotations", {
        "party": buyer.pk, "customer_reference": "RFQ-1",
        "lines": [{"sku": bike.sku, "quantity": "3"}],
    })  # fmt: skip
    assert created.status_code == 201, created.content
    quotation = created.json()
    assert quotation["state"] == "draft" and quotation["number"]
    assert quotation["salesperson"] == users_a["sales_rep"].pk
    line = quotation["lines"][0]
    assert line["sku"] == bike.sku and line["unit_price"] == "1000.000000"
    assert line["taxes"] == ["VAT13-S"] and line["promise_date"] is not None
    assert quotation["amount_total"] == "3390.0000"
    assert [v["version"] for v in quotation["versions"]] == [1]
    listed = get(rep, "/sales/quotations", q="RFQ-1", state="draft")
    assert listed["count"] == 1 and listed["items"][0]["id"] == quotation["id"]

    sent = post(rep, f"/sales/quotations/{quotation['id']}/send", {"message": "As discussed"})
    assert sent.status_code == 200 and sent.json()["state"] == "sent"
    assert mailoutbox[0].to == ["buyer@example.com"] and "As discussed" in mailoutbox[0].body

    accepted = post(rep, f"/sales/quotations/{quotation['id']}/accept",
                    {"customer_reference": "PO-77"})  # fmt: skip
    assert accepted.status_code == 201, accepted.content
    order = accepted.json()
    assert order["state"] == "confirmed" and order["quotation"] == quotation["id"]
    assert order["customer_reference"] == "PO-77" and order["amount_total"] == "3390.0000"
    assert order["lines"][0]["qty_delivered"] == "0.000000"
    assert order["lines"][0]["promise_date"] is not None
    [delivery] = order["deliveries"]
    assert delivery["kind"] == "delivery" and delivery["state"] == "ready"
    assert stock.available(product=bike, location=s.stock) == Decimal(7)
    [picking] = get(rep, f"/sales/orders/{order['id']}/deliveries")
    assert picking["moves"][0]["order_line"] == order["lines"][0]["id"]
    assert picking["moves"][0]["quantity"] == "3.000000"

    done = post(clerk, f"/inventory/pickings/{delivery['id']}/validate", {})
    assert done.status_code == 200, done.content
    order = get(rep, f"/sales/orders/{order['id']}")
    assert order["lines"][0]["qty_delivered"] == "3.000000"
    assert order["deliveries"][0]["state"] == "done"

    posting = post(rep, f"/sales/orders/{order['id']}/invoice", {"post": True})
    assert posting.status_code == 403 and posting.json()["permission"] == "finance.invoice"
    assert not Invoice.unscoped.filter(company=company_a).exists()
    drafted = post(rep, f"/sales/orders/{order['id']}/invoice", {})
    assert drafted.status_code == 201, drafted.content
    invoice = drafted.json()
    assert invoice["state"] == "draft" and invoice["amount_total"] == "3390.0000"
    assert invoice["order"] == order["id"]
    booked = post(accountant, f"/finance/invoices/{invoice['id']}/post")
    assert booked.status_code == 200 and booked.json()["state"] == "posted"
    order = get(rep, f"/sales/orders/{order['id']}")
    assert order["state"] == "done" and order["lines"][0]["qty_invoiced"] == "3.000000"
    assert [(i["id"], i["state"]) for i in order["invoices"]] == [(invoice["id"], "posted")]

    authorised = post(rep, "/sales/returns", {
        "order": order["id"], "reason": "Scratched frame",
        "lines": [{"order_line": order["lines"][0]["id"], "quantity": "1"}],
    })  # fmt: skip
    assert authorised.status_code == 201, authorised.content
    rma = authorised.json()
    assert rma["state"] == "authorised" and rma["number"]
    assert rma["lines"][0]["sku"] == bike.sku and rma["lines"][0]["disposition"] == "restock"
    received = post(rep, f"/sales/returns/{rma['id']}/receive")
    assert received.status_code == 200, received.content
    assert received.json()["state"] == "received" and received.json()["receipts"]
    assert stock.on_hand(product=bike, location=s.stock) == Decimal(8)

    assert post(rep, f"/sales/returns/{rma['id']}/credit").status_code == 403
    credited = post(accountant, f"/sales/returns/{rma['id']}/credit")
    assert credited.status_code == 200, credited.content
    rma = credited.json()
    assert rma["state"] == "done" and rma["credit_note"] is not None
    order = get(rep, f"/sales/orders/{order['id']}")
    line = order["lines"][0]
    assert line["qty_returned"] == "1.000000" and line["qty_invoiced"] == "2.000000"
    kinds = {(i["kind"], i["state"], i["amount_total"]) for i in order["invoices"]}
    assert ("out_refund", "posted", "1130.0000") in kinds
    assert [r["state"] for r in order["returns"]] == ["done"]
    assert get(accountant, f"/sales/returns/{rma['id']}")["credit_note"] == rma["credit_note"]


def _order_body(company: Company, s: Any, **extra: Any) -> dict[str, Any]:
    products = [stocked(company, s, str(10 * (n + 1)), 50) for n in range(5)]
    buyer = customer(company)
    lines = [{"product": p.pk, "quantity": str(n + 1)} for n, p in enumerate(products)]
    return {"party": buyer.pk, "lines": lines, **extra}


def test_an_idempotency_key_makes_one_order(s, company_a, rep):
    body = _order_body(company_a, s, confirm=True)
    first = post(rep, "/sales/orders", body, **{"Idempotency-Key": "order-1"})
    assert first.status_code == 201, first.content
    order = first.json()
    assert order["state"] == "confirmed" and len(order["lines"]) == 5
    assert order["amount_untaxed"] == "550.0000" and len(order["deliveries"]) == 1
    replay = post(rep, "/sales/orders", body, **{"Idempotency-Key": "order-1"})
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == order
    assert SalesOrder.unscoped.filter(company=company_a).count() == 1
    assert Picking.unscoped.filter(company=company_a, kind="delivery").count() == 1
    other = post(rep, "/sales/orders", {**body, "confirm": False},
                 **{"Idempotency-Key": "order-1"})  # fmt: skip
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert SalesOrder.unscoped.filter(company=company_a).count() == 1
    draft = post(rep, "/sales/orders", {**body, "confirm": False})
    assert draft.status_code == 201 and draft.json()["state"] == "draft"
    assert draft.json()["deliveries"] == []


def test_bad_input_names_the_field_and_writes_nothing(s, company_a, company_b, rep):
    bike = stocked(company_a, s)
    buyer = customer(company_a)
    stranger = api_samples.sales_base(company_b).buyer
    good = {"party": buyer.pk, "lines": [{"sku": bike.sku, "quantity": "1"}]}

    def lines(*items: dict[str, Any]) -> dict[str, Any]:
        return {**good, "lines": list(items)}

    cases = [
        (lines({"sku": "NOPE"}), {"lines.0.sku"}),
        (lines({"sku": bike.sku}, {"product": bike.pk, "sku": bike.sku}), {"lines.1.product"}),
        (lines({"sku": bike.sku, "quantity": "-1"}), {"lines.0.quantity"}),
        (lines({"sku": bike.sku}, {"sku": bike.sku, "discount": "120"}), {"lines.1.discount"}),
        (lines({"sku": bike.sku, "quantity": 1.5}), {"lines.0.quantity"}),
        (lines({"sku": bike.sku, "colour": "red"}), {"lines.0.colour"}),
        (lines({"sku": bike.sku, "taxes": ["VAT99"]}), {"lines.0.taxes"}),
        (lines({"sku": bike.sku, "uom": "kg"}), {"lines.0.uom"}),
        (lines(), {"lines"}),
        ({**good, "party": stranger.pk}, {"party"}),
        ({**good, "warehouse": "NOPE"}, {"warehouse"}),
        ({**good, "valid_until": "2000-01-01"}, {"valid_until"}),
        ({"lines": good["lines"]}, {"party"}),
    ]
    for body, fields in cases:
        response = post(rep, "/sales/quotations", body, **{"Idempotency-Key": "q-1"})
        assert fields_of(response) == fields, (body, response.json())
    order_cases = [
        ({**good, "invoice_policy": "weekly"}, {"invoice_policy"}),
        ({**good, "requested_date": "2000-01-01"}, {"requested_date"}),
        ({**good, "lines": [{"sku": bike.sku, "quantity": "0"}], "confirm": True},
         {"lines.0.quantity"}),
    ]  # fmt: skip
    for body, fields in order_cases:
        assert fields_of(post(rep, "/sales/orders", body)) == fields, body
    assert not Quotation.unscoped.filter(company=company_a).exists()
    assert not SalesOrder.unscoped.filter(company=company_a).exists()
    retried = post(rep, "/sales/quotations", good, **{"Idempotency-Key": "q-1"})
    assert retried.status_code == 201  # a refused request does not keep its key


def test_refusals_of_the_services_are_problems(s, company_a, rep, admin, mailoutbox):
    bike = stocked(company_a, s, quantity=0)
    buyer = customer(company_a, email="buyer@example.com")
    body = {"party": buyer.pk, "lines": [{"sku": bike.sku, "quantity": "2", "discount": "12"}]}
    quotation = post(rep, "/sales/quotations", body).json()
    accept = post(rep, f"/sales/quotations/{quotation['id']}/accept")
    assert accept.status_code == 422 and accept.json()["code"] == "state"
    assert "this is not possible now" in accept.json()["detail"]
    send = post(rep, f"/sales/quotations/{quotation['id']}/send")
    assert send.status_code == 422 and send.json()["code"] == "needs_approval"
    assert not mailoutbox
    bad_address = post(rep, f"/sales/quotations/{quotation['id']}/send", {"to": ["nobody"]})
    assert fields_of(bad_address) == {"to"}
    submitted = post(rep, f"/sales/quotations/{quotation['id']}/submit")
    assert submitted.status_code == 200 and submitted.json()["state"] == "to_approve"
    assert submitted.json()["approval"] == "pending"
    assert fields_of(post(rep, f"/sales/quotations/{quotation['id']}/lost", {"reason": " "})) == {
        "reason"
    }
    lost = post(rep, f"/sales/quotations/{quotation['id']}/lost", {"reason": "Bought elsewhere"})
    assert lost.status_code == 200 and lost.json()["lost_reason"] == "Bought elsewhere"

    order = post(rep, "/sales/orders", {**body, "confirm": True}).json()
    assert order["state"] == "confirmed" and order["deliveries"][0]["state"] != "ready"
    nothing = post(rep, f"/sales/orders/{order['id']}/invoice")
    assert nothing.status_code == 422 and nothing.json()["code"] == "nothing"
    no_return = post(rep, "/sales/returns", {
        "order": order["id"], "reason": "Broken",
        "lines": [{"order_line": order["lines"][0]["id"], "quantity": "1"}],
    })  # fmt: skip
    assert fields_of(no_return) == {"lines.0"}
    assert not ReturnOrder.unscoped.filter(company=company_a).exists()
    cancelled = post(rep, f"/sales/orders/{order['id']}/cancel", {"reason": "Changed mind"})
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["deliveries"][0]["state"] == "cancelled"
    again = post(rep, f"/sales/orders/{order['id']}/confirm")
    assert again.status_code == 422 and again.json()["code"] == "state"


def test_quotation_changes_versions_and_pdf(s, company_a, rep):
    bike, helmet = stocked(company_a, s), stocked(company_a, s, "50")
    buyer = customer(company_a, email="buyer@example.com")
    quotation = post(rep, "/sales/quotations", {
        "party": buyer.pk, "lines": [{"sku": bike.sku}],
    }).json()  # fmt: skip
    path = f"{API}/sales/quotations/{quotation['id']}"
    patched = rep.patch(path, json.dumps({
        "notes": "Deliver to the back door", "valid_until": "2099-12-31",
        "lines": [{"product": bike.pk, "quantity": "2", "unit_price": "900"},
                  {"product": helmet.pk, "quantity": "2", "taxes": []}],
    }), content_type="application/json")  # fmt: skip
    assert patched.status_code == 200, patched.content
    changed = patched.json()
    assert changed["notes"] == "Deliver to the back door" and changed["valid_until"] == "2099-12-31"
    assert [li["unit_price"] for li in changed["lines"]] == ["900.000000", "50.000000"]
    assert changed["lines"][1]["taxes"] == [] and changed["amount_total"] == "2134.0000"
    assert changed["max_discount"] == "10.0000"
    unknown = rep.patch(path, json.dumps({"party": buyer.pk}), content_type="application/json")
    assert fields_of(unknown) == {"party"}
    assert post(rep, f"/sales/quotations/{quotation['id']}/submit").json()["state"] == "approved"
    assert post(rep, f"/sales/quotations/{quotation['id']}/send").json()["state"] == "sent"
    late = rep.patch(path, json.dumps({"notes": "too late"}), content_type="application/json")
    assert late.status_code == 422 and late.json()["code"] == "state"
    revised = post(rep, f"/sales/quotations/{quotation['id']}/revise")
    assert revised.status_code == 201, revised.content
    v2 = revised.json()
    assert v2["number"] == quotation["number"] and v2["version"] == 2 and v2["state"] == "draft"
    assert v2["previous"] == quotation["id"] and len(v2["lines"]) == 2
    assert [(v["version"], v["state"]) for v in v2["versions"]] == [(1, "revised"), (2, "draft")]
    assert get(rep, "/sales/quotations", latest="true")["count"] == 1
    assert get(rep, "/sales/quotations")["count"] == 2
    cancelled = post(rep, f"/sales/quotations/{v2['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    pdf = rep.get(f"{API}/sales/quotations/{v2['id']}/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and "-v2.pdf" in pdf["Content-Disposition"]


def test_down_payment_partial_invoice_and_posting_permission(s, company_a, rep, admin):
    bike, helmet = stocked(company_a, s), stocked(company_a, s, "50")
    order = post(rep, "/sales/orders", {
        "party": customer(company_a).pk, "invoice_policy": "order", "confirm": True,
        "lines": [{"sku": bike.sku, "quantity": "2"}, {"sku": helmet.sku, "quantity": "4"}],
    }).json()  # fmt: skip
    path = f"/sales/orders/{order['id']}"
    assert fields_of(post(rep, f"{path}/down-payment", {"amount": 5.5})) == {"amount"}
    refused = post(rep, f"{path}/down-payment", {"percent": "10", "post": True})
    assert refused.status_code == 403 and refused.json()["permission"] == "finance.invoice"
    too_much = post(rep, f"{path}/down-payment", {"amount": "99999"})
    assert fields_of(too_much) == {"amount"}
    advance = post(admin, f"{path}/down-payment", {"percent": "10", "post": True},
                   **{"Idempotency-Key": "dp-1"})  # fmt: skip
    assert advance.status_code == 201, advance.content
    assert advance.json()["state"] == "posted" and advance.json()["amount_untaxed"] == "220.0000"
    [bike_line, helmet_line] = order["lines"]
    one_bike = {"line": bike_line["id"], "quantity": "1"}
    twice = post(rep, f"{path}/invoice", {"quantities": [one_bike, one_bike]})
    assert fields_of(twice) == {"quantities.1.line"}
    over = post(
        rep, f"{path}/invoice", {"quantities": [{"line": helmet_line["id"], "quantity": "5"}]}
    )
    assert fields_of(over) == {"quantities"}
    partial = post(admin, f"{path}/invoice", {
        "quantities": [{"line": bike_line["id"], "quantity": "2"}], "post": True,
    })  # fmt: skip
    assert partial.status_code == 201, partial.content
    assert partial.json()["state"] == "posted"
    assert partial.json()["amount_untaxed"] == "1780.0000"  # 2 000 less the 220 advance
    order = get(rep, path)
    assert [li["qty_invoiced"] for li in order["lines"]] == ["2.000000", "0.000000"]
    assert len(order["invoices"]) == 2


def test_order_lines_carry_their_invoicing_policy(s, company_a, rep):
    frame = item(company_a, "500", invoice_policy="order")
    bike = stocked(company_a, s)
    install = item(company_a, "100", type="service")
    body = {
        "party": customer(company_a).pk,
        "lines": [{"sku": p.sku, "quantity": "1"} for p in (frame, bike, install)],
    }
    order = post(rep, "/sales/orders", body)
    assert order.status_code == 201, order.content
    data = order.json()
    assert data["invoice_policy"] == "delivery"  # the settings', the lines' default
    assert [li["invoice_policy"] for li in data["lines"]] == ["order", "delivery", "order"]
    forced = post(rep, "/sales/orders", {**body, "invoice_policy": "delivery"}).json()
    assert [li["invoice_policy"] for li in forced["lines"]] == ["delivery", "delivery", "order"]
    before = SalesOrder.unscoped.count()
    assert fields_of(post(rep, "/sales/orders", {**body, "invoice_policy": "weekly"})) == {
        "invoice_policy"
    }
    assert SalesOrder.unscoped.count() == before


def test_another_companys_records_are_not_found(s, company_a, company_b, rep, accountant):
    quotation = api_samples.quotation(company_b)
    order = api_samples.order(company_b, deliver=True)
    rma = api_samples.rma(company_b)
    for path in (f"/sales/quotations/{quotation.pk}", f"/sales/quotations/{quotation.pk}/pdf",
                 f"/sales/orders/{order.pk}", f"/sales/orders/{order.pk}/deliveries",
                 f"/sales/orders/{order.pk}/pdf", f"/sales/returns/{rma.pk}"):  # fmt: skip
        assert rep.get(API + path).status_code == 404, path
    for path, body in (
        (f"/sales/quotations/{quotation.pk}/submit", {}),
        (f"/sales/quotations/{quotation.pk}/accept", {}),
        (f"/sales/quotations/{quotation.pk}/revise", {}),
        (f"/sales/orders/{order.pk}/invoice", {}),
        (f"/sales/orders/{order.pk}/cancel", {}),
        (f"/sales/returns/{rma.pk}/receive", {}),
        (f"/sales/returns/{rma.pk}/cancel", {}),
    ):
        assert post(rep, path, body).status_code == 404, path
    assert post(accountant, f"/sales/returns/{rma.pk}/credit").status_code == 404
    patched = rep.patch(f"{API}/sales/quotations/{quotation.pk}", "{}",
                        content_type="application/json")  # fmt: skip
    assert patched.status_code == 404
    line = order.lines.get()
    foreign = post(rep, "/sales/returns", {
        "order": order.pk, "reason": "x", "lines": [{"order_line": line.pk, "quantity": "1"}],
    })  # fmt: skip
    assert fields_of(foreign) == {"order"}
    assert get(rep, "/sales/quotations")["count"] == 0
    assert get(rep, "/sales/orders")["count"] == 0
    assert get(rep, "/sales/returns")["count"] == 0
    quotation.refresh_from_db()
    assert quotation.state == Quotation.State.DRAFT


def _queries(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(API + path)
    assert response.status_code == 200
    return len(captured)


def test_lists_do_not_grow_queries_with_rows(company_a, rep):
    def make(n: int) -> None:
        for _ in range(n):
            api_samples.quotation(company_a)
            api_samples.rma(company_a)

    make(1)
    get(rep, "/sales/quotations")  # the token's first use is recorded once
    counts = [_queries(rep, p) for p in ("/sales/quotations", "/sales/orders", "/sales/returns")]
    make(3)
    assert get(rep, "/sales/orders")["count"] == 4
    again = [_queries(rep, p) for p in ("/sales/quotations", "/sales/orders", "/sales/returns")]
    assert again == counts
