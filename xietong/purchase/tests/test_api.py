"""The purchase API: procure to pay over HTTP as real role users (a requisition raised by
staff and approved by a buyer, sourced through an RFQ answered by two suppliers and split
between them, the orders approved, sent and confirmed, received by the warehouse with a
rejection at inspection, billed and matched by the accountant), the approval refused to the
requester, idempotent creation, invalid input as problems naming the field (positions from 0)
with nothing written, refusals of the services, company scoping, supplier prices, settings and
landed costs."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from xietong.api.tests.conftest import API, token_client, token_for
from xietong.purchase import matching
from xietong.purchase.models import (
    Inspection,
    PurchaseOrder,
    PurchaseSettings,
    Requisition,
    Rfq,
    SupplierPrice,
)
from xietong.purchase.tests import api_samples
from xietong.purchase.tests.factories import material, price, supplier

pytestmark = pytest.mark.django_db


@pytest.fixture
def base(company_a):  # type: ignore[no-untyped-def]
    return api_samples.purchase_base(company_a)


def _client(users: dict[str, Any], role: str, company: Any) -> Client:
    return token_client(token_for(users[role], company))


@pytest.fixture
def staff(users_a, company_a) -> Client:  # type: ignore[no-untyped-def]
    return _client(users_a, "sales_rep", company_a)  # holds purchase.request only


@pytest.fixture
def buyer(users_a, company_a) -> Client:  # type: ignore[no-untyped-def]
    return _client(users_a, "buyer", company_a)


@pytest.fixture
def clerk(users_a, company_a) -> Client:  # type: ignore[no-untyped-def]
    return _client(users_a, "warehouse_clerk", company_a)


@pytest.fixture
def accountant(users_a, company_a) -> Client:  # type: ignore[no-untyped-def]
    return _client(users_a, "accountant", company_a)


def post(client: Client, path: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post(
        API + path, json.dumps(body or {}), content_type="application/json", headers=headers
    )


def patch(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.patch(API + path, json.dumps(body), content_type="application/json")


def get(client: Client, path: str, **query: Any) -> Any:
    response = client.get(API + path, query)
    assert response.status_code == 200, response.content
    return response.json()


def fields_of(response: Any) -> set[str]:
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    return {error["field"] for error in response.json()["errors"]}


def _inspected(company: Any, base: Any) -> Any:
    return material(company, "50", sku="API-VALVE", name="Valve", inspection_required=True,
                    category=base.product.category)  # fmt: skip


def test_procure_to_pay_over_http(base, company_a, users_a, staff, buyer, clerk, accountant,
                                  mailoutbox):  # fmt: skip
    valve = _inspected(company_a, base)
    north = supplier(company_a, "North Valves", email="north@example.com")
    south = supplier(company_a, "South Valves", email="south@example.com")

    refused = post(staff, "/purchase/rfqs", {"lines": [{"sku": valve.sku, "quantity": "1"}]})
    assert refused.status_code == 403 and refused.json()["permission"] == "purchase.order"

    created = post(staff, "/purchase/requisitions", {
        "submit": True, "notes": "Pump overhaul",
        "lines": [{"sku": valve.sku, "quantity": "120", "reason": "Overhaul",
                   "need_date": "2099-06-01"}],
    })  # fmt: skip
    assert created.status_code == 201, created.content
    requisition = created.json()
    assert requisition["state"] == "to_approve"  # 120 × 50 is above the 5 000 limit
    assert requisition["requester"] == users_a["sales_rep"].pk
    assert requisition["amount_estimate"] == "6000.0000"
    [line] = requisition["lines"]
    assert line["sku"] == valve.sku and line["quantity"] == "120.000000"
    assert line["uom"] == valve.uom.code and line["state"] == "open"
    rid = requisition["id"]
    assert get(staff, "/purchase/requisitions")["count"] == 1
    assert get(buyer, "/purchase/requisitions", state="to_approve", q="valve")["count"] == 1

    own = post(staff, f"/purchase/requisitions/{rid}/approve")
    assert own.status_code == 403 and own.json()["permission"] == "purchase.approve"
    not_bare = post(buyer, f"/purchase/requisitions/{rid}/reject", {"comment": " "})
    assert fields_of(not_bare) == {"comment"}
    approved = post(buyer, f"/purchase/requisitions/{rid}/approve", {"comment": "Go"})
    assert approved.status_code == 200, approved.content
    assert approved.json()["state"] == "approved"
    assert approved.json()["decided_by"] == users_a["buyer"].pk

    made = post(buyer, "/purchase/rfqs", {
        "requisition_lines": [line["id"]], "suppliers": [north.pk, south.pk],
    })  # fmt: skip
    assert made.status_code == 201, made.content
    rfq = made.json()
    assert rfq["state"] == "draft" and [li["quantity"] for li in rfq["lines"]] == ["120.000000"]
    assert [i["supplier"] for i in rfq["invitations"]] == [north.pk, south.pk]
    requisition = get(staff, f"/purchase/requisitions/{rid}")
    assert requisition["lines"][0]["state"] == "in_rfq"
    assert requisition["lines"][0]["rfq"] == rfq["id"]
    sent = post(buyer, f"/purchase/rfqs/{rfq['id']}/send")
    assert sent.status_code == 200 and sent.json()["state"] == "sent", sent.content
    assert sorted(m.to[0] for m in mailoutbox) == ["north@example.com", "south@example.com"]
    [north_inv, south_inv] = sent.json()["invitations"]
    pdf = buyer.get(f"{API}/purchase/rfq-suppliers/{north_inv['id']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    rfq_line = rfq["lines"][0]["id"]
    bad_bid = post(buyer, f"/purchase/rfq-suppliers/{north_inv['id']}/bids", {
        "bids": [{"line": rfq_line, "unit_price": "45"}, {"line": rfq_line, "unit_price": "-1"}],
    })  # fmt: skip
    assert fields_of(bad_bid) == {"bids.1.line"}
    north_bid = post(buyer, f"/purchase/rfq-suppliers/{north_inv['id']}/bids", {
        "bids": [{"line": rfq_line, "unit_price": "45", "quantity": "100",
                  "lead_time_days": 5}], "reference": "NQ-1",
    })  # fmt: skip
    assert north_bid.status_code == 200, north_bid.content
    assert north_bid.json()["state"] == "answered" and north_bid.json()["reference"] == "NQ-1"
    south_bid = post(buyer, f"/purchase/rfq-suppliers/{south_inv['id']}/bids", {
        "bids": [{"line": rfq_line, "unit_price": "48", "lead_time_days": 2}],
    })  # fmt: skip
    assert south_bid.status_code == 200, south_bid.content
    [compared] = get(buyer, f"/purchase/rfqs/{rfq['id']}/comparison")
    assert [b["unit_price"] for b in compared["bids"]] == ["45.000000", "48.000000"]
    assert compared["bids"][0]["cheapest"] and not compared["bids"][0]["covers"]
    north_pk, south_pk = (b["bid"] for b in compared["bids"])

    too_much = post(buyer, f"/purchase/rfqs/{rfq['id']}/award", {
        "awards": [{"bid": north_pk, "quantity": "100"}, {"bid": south_pk, "quantity": "21"}],
    })  # fmt: skip
    assert fields_of(too_much) == {"awards.0.quantity", "awards.1.quantity"}
    awarded = post(buyer, f"/purchase/rfqs/{rfq['id']}/award", {
        "awards": [{"bid": north_pk, "quantity": "100"}, {"bid": south_pk, "quantity": "20"}],
    })  # fmt: skip
    assert awarded.status_code == 201, awarded.content
    north_order, south_order = awarded.json()["orders"]
    assert (north_order["party"], north_order["amount_untaxed"]) == (north.pk, "4500.0000")
    assert (south_order["party"], south_order["amount_untaxed"]) == (south.pk, "960.0000")
    assert get(buyer, f"/purchase/rfqs/{rfq['id']}")["state"] == "awarded"
    assert get(staff, f"/purchase/requisitions/{rid}")["state"] == "done"

    oid = north_order["id"]
    submitted = post(buyer, f"/purchase/orders/{oid}/submit")
    assert submitted.status_code == 200, submitted.content
    order = submitted.json()
    assert order["state"] == "approved" and order["approval"] == "approved"
    assert order["receipts"][0]["state"] == "ready"
    order_line = order["lines"][0]["id"]
    confirmed = post(buyer, f"/purchase/orders/{oid}/confirm", {
        "promised": {str(order_line): "2099-05-20"}, "supplier_reference": "SO-9",
    })  # fmt: skip
    assert confirmed.status_code == 200, confirmed.content
    order = confirmed.json()
    assert order["state"] == "confirmed" and order["supplier_reference"] == "SO-9"
    assert order["lines"][0]["promised_date"] == "2099-05-20"

    assert post(buyer, f"/purchase/orders/{oid}/receive", {
        "lines": [{"line": order_line, "quantity": "5", "rejected": "0"}]
    }).status_code == 403  # fmt: skip
    no_rejected = post(clerk, f"/purchase/orders/{oid}/receive", {
        "lines": [{"line": order_line, "quantity": "100"}],
    })  # fmt: skip
    assert fields_of(no_rejected) == {"lines.0.rejected"}
    no_reason = post(clerk, f"/purchase/orders/{oid}/receive", {
        "lines": [{"line": order_line, "quantity": "100", "rejected": "10"}],
    })  # fmt: skip
    assert fields_of(no_reason) == {"lines.0.reason"}
    assert not Inspection.unscoped.filter(company=company_a).exists()
    received = post(clerk, f"/purchase/orders/{oid}/receive", {
        "lines": [{"line": order_line, "quantity": "100", "rejected": "10",
                   "reason": "Cracked housing"}],
    })  # fmt: skip
    assert received.status_code == 200, received.content
    order = received.json()
    line_out = order["lines"][0]
    assert (line_out["qty_received"], line_out["qty_rejected"]) == ("90.000000", "10.000000")
    assert order["state"] == "confirmed"  # 10 still expected on a backorder
    receipts = get(clerk, f"/purchase/orders/{oid}/receipts")
    done = [r for r in receipts if r["state"] == "done"]
    assert len(done) == 1 and done[0]["moves"][0]["order_line"] == order_line
    assert [(i["rejected"], i["reason"]) for i in done[0]["inspections"]] == [
        ("10.000000", "Cracked housing")
    ]
    late = get(buyer, "/purchase/orders", to_receive="true")
    assert oid in [o["id"] for o in late["items"]]

    assert post(clerk, f"/purchase/orders/{oid}/bill").status_code == 403
    billed = post(accountant, f"/purchase/orders/{oid}/bill", {"reference": "INV-77"})
    assert billed.status_code == 201, billed.content
    bill = billed.json()
    assert bill["invoice"]["state"] == "draft" and bill["invoice"]["reference"] == "INV-77"
    assert bill["invoice"]["amount_untaxed"] == "4050.0000"  # 90 accepted × 45
    assert bill["match"]["state"] == "matched" and bill["match"]["problems"] == []
    rematched = post(accountant, f"/purchase/invoices/{bill['invoice']['id']}/match")
    assert rematched.status_code == 200 and rematched.json()["state"] == "matched"
    matches = get(accountant, "/purchase/matches", state="matched")
    assert [m["invoice"] for m in matches["items"]] == [bill["invoice"]["id"]]
    assert get(buyer, f"/purchase/orders/{oid}")["invoices"][0]["id"] == bill["invoice"]["id"]

    closed = post(clerk, f"/purchase/order-lines/{order_line}/close")
    assert closed.status_code == 200 and closed.json()["state"] == "done", closed.content
    card = get(buyer, f"/purchase/suppliers/{north.pk}/scorecard")
    assert card["supplier"] == north.pk and Decimal(card["inspected"]) == 100
    assert card["quality_percent"] == "90.0"


def test_nobody_approves_their_own_requisition(base, company_a, users_a, buyer):
    made = post(buyer, "/purchase/requisitions", {
        "submit": True, "lines": [{"sku": api_samples.SKU, "quantity": "1000"}],
    })  # fmt: skip
    assert made.status_code == 201 and made.json()["state"] == "to_approve", made.content
    own = post(buyer, f"/purchase/requisitions/{made.json()['id']}/approve")
    assert own.status_code == 403 and own["Content-Type"] == "application/problem+json"
    assert "someone else" in own.json()["detail"]
    assert Requisition.unscoped.get(pk=made.json()["id"]).state == "to_approve"
    executive = _client(users_a, "executive", company_a)
    rejected = post(executive, f"/purchase/requisitions/{made.json()['id']}/reject",
                    {"comment": "Too many"})  # fmt: skip
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert [li["state"] for li in rejected.json()["lines"]] == ["cancelled"]


def test_sourcing_lines_into_orders_and_cancelling(base, company_a, buyer, staff):
    requisition = api_samples.requisition(company_a, submit=True)
    line = requisition.lines.get()
    other = supplier(company_a, "Other Supplier")
    refused = post(staff, "/purchase/requisitions/orders", {"lines": [{"line": line.pk}]})
    assert refused.status_code == 403
    bad = post(buyer, "/purchase/requisitions/orders",
               {"lines": [{"line": line.pk}, {"line": 0}]})  # fmt: skip
    assert fields_of(bad) == {"lines.1"}
    made = post(buyer, "/purchase/requisitions/orders",
                {"lines": [{"line": line.pk, "supplier": other.pk}]})  # fmt: skip
    assert made.status_code == 201, made.content
    [order] = made.json()["orders"]
    assert order["party"] == other.pk and order["state"] == "draft"
    assert get(staff, f"/purchase/requisitions/{requisition.pk}")["state"] == "done"
    taken = post(staff, f"/purchase/requisitions/{requisition.pk}/cancel")
    assert taken.status_code == 422 and taken.json()["code"] == "state"

    changed = patch(buyer, f"/purchase/orders/{order['id']}", {
        "notes": "Rush", "lines": [{"sku": api_samples.SKU, "quantity": "7", "unit_price": "41",
                                    "taxes": []}],
    })  # fmt: skip
    assert changed.status_code == 200, changed.content
    data = changed.json()
    assert data["notes"] == "Rush" and data["amount_total"] == "287.0000"
    assert data["lines"][0]["taxes"] == []
    cancelled = post(buyer, f"/purchase/orders/{order['id']}/cancel", {"reason": "Not needed"})
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "Not needed"
    late = patch(buyer, f"/purchase/orders/{order['id']}", {"notes": "too late"})
    assert late.status_code == 422 and late.json()["code"] == "state"
    again = post(buyer, f"/purchase/orders/{order['id']}/submit")
    assert again.status_code == 422 and again.json()["code"] == "state"


def test_an_idempotency_key_makes_one_order(base, company_a, buyer):
    body = {"party": base.vendor.pk, "supplier_reference": "IDEM",
            "lines": [{"sku": api_samples.SKU, "quantity": "3"}]}  # fmt: skip
    first = post(buyer, "/purchase/orders", body, **{"Idempotency-Key": "po-1"})
    assert first.status_code == 201, first.content
    order = first.json()
    assert order["state"] == "draft" and order["lines"][0]["unit_price"] == "40.000000"
    assert order["lines"][0]["taxes"] == [base_tax(company_a)]
    replay = post(buyer, "/purchase/orders", body, **{"Idempotency-Key": "po-1"})
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == order
    assert PurchaseOrder.unscoped.filter(company=company_a, supplier_reference="IDEM").count() == 1
    other = post(buyer, "/purchase/orders", {**body, "notes": "x"}, **{"Idempotency-Key": "po-1"})
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    requisition = {"lines": [{"sku": api_samples.SKU, "quantity": "2"}]}
    one = post(buyer, "/purchase/requisitions", requisition, **{"Idempotency-Key": "pr-1"})
    two = post(buyer, "/purchase/requisitions", requisition, **{"Idempotency-Key": "pr-1"})
    assert one.status_code == two.status_code == 201 and one.json() == two.json()
    assert Requisition.unscoped.filter(company=company_a).count() == 1


def base_tax(company: Any) -> str:
    return PurchaseSettings.unscoped.get(company=company).default_tax.code  # type: ignore[union-attr]


def test_bad_input_names_the_field_and_writes_nothing(base, company_a, company_b, buyer, staff):
    stranger = api_samples.purchase_base(company_b)
    sku = api_samples.SKU
    good = {"party": base.vendor.pk, "lines": [{"sku": sku, "quantity": "1"}]}

    def lines(*items: dict[str, Any]) -> dict[str, Any]:
        return {**good, "lines": list(items)}

    cases = [
        (lines({"sku": "NOPE", "quantity": "1"}), {"lines.0.sku"}),
        (lines({"sku": sku, "quantity": "1"}, {"product": base.product.pk, "sku": sku,
                                               "quantity": "1"}), {"lines.1.product"}),
        (lines({"sku": sku, "quantity": "1"}, {"sku": sku, "quantity": "-1"}), {"lines.1.quantity"}),
        (lines({"sku": sku, "quantity": "1", "discount": "120"}), {"lines.0.discount"}),
        (lines({"sku": sku, "quantity": 1.5}), {"lines.0.quantity"}),
        (lines({"sku": sku, "quantity": "1", "colour": "red"}), {"lines.0.colour"}),
        (lines({"sku": sku, "quantity": "1", "taxes": ["VAT99"]}), {"lines.0.taxes"}),
        (lines({"sku": sku, "quantity": "1", "uom": "NOPE"}), {"lines.0.uom"}),
        (lines({"product": stranger.product.pk, "quantity": "1"}), {"lines.0.product"}),
        (lines(), {"lines"}),
        ({**good, "party": stranger.vendor.pk}, {"party"}),
        ({**good, "warehouse": "NOPE"}, {"warehouse"}),
        ({"lines": good["lines"]}, {"party"}),
    ]  # fmt: skip
    for body, fields in cases:
        response = post(buyer, "/purchase/orders", body, **{"Idempotency-Key": "po-bad"})
        assert fields_of(response) == fields, (body, response.json())
    assert not PurchaseOrder.unscoped.filter(company=company_a).exists()
    retried = post(buyer, "/purchase/orders", good, **{"Idempotency-Key": "po-bad"})
    assert retried.status_code == 201  # a refused request does not keep its key

    requisition_cases = [
        ({"lines": [{"sku": sku, "quantity": "1"}, {"sku": sku, "quantity": "0"}]},
         {"lines.1.quantity"}),
        ({"lines": [{"sku": sku, "quantity": "1", "supplier": stranger.vendor.pk}]},
         {"lines.0.supplier"}),
        ({"lines": [{"sku": sku, "quantity": "1"}], "warehouse": "NOPE"}, {"warehouse"}),
    ]  # fmt: skip
    for body, fields in requisition_cases:
        assert fields_of(post(staff, "/purchase/requisitions", body)) == fields, body
    assert not Requisition.unscoped.filter(company=company_a).exists()
    rfq_cases = [
        ({"lines": [{"sku": sku, "quantity": "1"}], "suppliers": [stranger.vendor.pk]},
         {"suppliers.0"}),
        ({"lines": [], "requisition_lines": []}, {"lines"}),
        ({"lines": [{"sku": sku, "quantity": "1"}], "answer_by": "2000-01-01"}, {"answer_by"}),
    ]  # fmt: skip
    for body, fields in rfq_cases:
        assert fields_of(post(buyer, "/purchase/rfqs", body)) == fields, body
    assert not Rfq.unscoped.filter(company=company_a).exists()


def test_another_companys_records_are_not_found(base, company_a, company_b, users_a, buyer,
                                               accountant):  # fmt: skip
    requisition = api_samples.requisition(company_b)
    rfq = api_samples.rfq(company_b)
    order = api_samples.order(company_b, receive="4")
    invoice = api_samples.draft_invoice(company_b)
    cost = api_samples.landed_cost(company_b)
    stranger = api_samples.purchase_base(company_b)
    invitation = rfq.suppliers.get()
    line = order.lines.get()
    sprice = SupplierPrice.unscoped.filter(company=company_b).first()
    for path in (f"/purchase/requisitions/{requisition.pk}", f"/purchase/rfqs/{rfq.pk}",
                 f"/purchase/rfqs/{rfq.pk}/comparison",
                 f"/purchase/rfq-suppliers/{invitation.pk}/pdf", f"/purchase/orders/{order.pk}",
                 f"/purchase/orders/{order.pk}/pdf", f"/purchase/orders/{order.pk}/receipts",
                 f"/purchase/suppliers/{stranger.vendor.pk}/scorecard"):  # fmt: skip
        assert buyer.get(API + path).status_code == 404, path
    for client, path in (
        (buyer, f"/purchase/requisitions/{requisition.pk}/submit"),
        (buyer, f"/purchase/requisitions/{requisition.pk}/cancel"),
        (buyer, f"/purchase/rfqs/{rfq.pk}/send"),
        (buyer, f"/purchase/rfqs/{rfq.pk}/cancel"),
        (buyer, f"/purchase/rfq-suppliers/{invitation.pk}/decline"),
        (buyer, f"/purchase/orders/{order.pk}/confirm"),
        (buyer, f"/purchase/orders/{order.pk}/cancel"),
        (accountant, f"/purchase/orders/{order.pk}/bill"),
        (accountant, f"/purchase/invoices/{invoice.pk}/match"),
        (accountant, f"/purchase/landed-costs/{cost.pk}/post"),
    ):
        assert post(client, path).status_code == 404, path
    assert accountant.get(f"{API}/purchase/landed-costs/{cost.pk}").status_code == 404
    assert patch(buyer, f"/purchase/orders/{order.pk}", {"notes": "x"}).status_code == 404
    assert patch(buyer, f"/purchase/supplier-prices/{sprice.pk}", {"price": "1"}).status_code == 404
    assert buyer.delete(f"{API}/purchase/supplier-prices/{sprice.pk}").status_code == 404
    clerk = _client(users_a, "warehouse_clerk", company_a)
    assert post(clerk, f"/purchase/order-lines/{line.pk}/close").status_code == 404
    for path in ("/purchase/requisitions", "/purchase/rfqs", "/purchase/orders"):
        assert get(buyer, path)["count"] == 0, path
    assert get(accountant, "/purchase/matches")["count"] == 0
    requisition.refresh_from_db()
    assert requisition.state == Requisition.State.DRAFT


def test_supplier_prices_settings_and_landed_costs(base, company_a, buyer, accountant):
    made = post(buyer, "/purchase/supplier-prices", {
        "supplier": base.vendor.pk, "sku": api_samples.SKU, "price": "35", "min_quantity": "50",
        "lead_time_days": 3,
    })  # fmt: skip
    assert made.status_code == 201, made.content
    row = made.json()
    assert row["price"] == "35.000000" and row["sku"] == api_samples.SKU
    bad = patch(buyer, f"/purchase/supplier-prices/{row['id']}", {"valid_from": "2099-01-02",
                                                                  "valid_until": "2099-01-01"})  # fmt: skip
    assert fields_of(bad) == {"valid_until"}
    changed = patch(buyer, f"/purchase/supplier-prices/{row['id']}", {"price": "34"})
    assert changed.status_code == 200 and changed.json()["price"] == "34.000000"
    assert changed.json()["min_quantity"] == "50.000000"
    listed = get(buyer, "/purchase/supplier-prices", supplier=base.vendor.pk)
    assert row["id"] in [p["id"] for p in listed["items"]]
    assert buyer.delete(f"{API}/purchase/supplier-prices/{row['id']}").status_code == 204
    assert not SupplierPrice.unscoped.filter(pk=row["id"]).exists()

    settings = get(buyer, "/purchase/settings")
    assert settings["warehouse"] == api_samples.CODE
    assert fields_of(patch(buyer, "/purchase/settings", {"price_tolerance_percent": "120"})) == {
        "price_tolerance_percent"
    }
    assert fields_of(patch(buyer, "/purchase/settings", {"warehouse": "NOPE"})) == {"warehouse"}
    saved = patch(buyer, "/purchase/settings", {"rfq_answer_days": 14,
                                                "requisition_approval_limit": "100"})  # fmt: skip
    assert saved.status_code == 200, saved.content
    assert saved.json()["rfq_answer_days"] == 14
    assert saved.json()["requisition_approval_limit"] == "100.0000"
    assert accountant.get(f"{API}/purchase/settings").status_code == 403

    receipt = api_samples.receipt(company_a)
    draft = post(accountant, "/purchase/landed-costs", {
        "pickings": [receipt.pk], "amount": "20", "description": "Freight", "split": "quantity",
    }, **{"Idempotency-Key": "lc-1"})  # fmt: skip
    assert draft.status_code == 201, draft.content
    cost = draft.json()
    assert cost["state"] == "draft" and cost["pickings"] == [receipt.pk]
    assert fields_of(post(accountant, "/purchase/landed-costs", {
        "pickings": [receipt.pk], "amount": "0", "description": "Freight",
    })) == {"amount"}  # fmt: skip
    posted = post(accountant, f"/purchase/landed-costs/{cost['id']}/post")
    assert posted.status_code == 200, posted.content
    assert posted.json()["state"] == "done" and posted.json()["entry"] is not None
    assert [share["amount"] for share in posted.json()["lines"]] == ["20.0000"]
    again = post(accountant, f"/purchase/landed-costs/{cost['id']}/cancel")
    assert fields_of(again) == {"state"}
    assert get(accountant, "/purchase/landed-costs", state="done")["count"] == 1


def test_price_from_the_supplier_and_a_second_supplier(base, company_a, buyer):
    cheaper = supplier(company_a, "Cheap Co")
    price(company_a, cheaper, base.product, "30")
    made = post(buyer, "/purchase/orders", {
        "party": cheaper.pk, "lines": [{"product": base.product.pk, "quantity": "2"}],
    })  # fmt: skip
    assert made.status_code == 201, made.content
    assert made.json()["lines"][0]["unit_price"] == "30.000000"
    pdf = buyer.get(f"{API}/purchase/orders/{made.json()['id']}/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert Decimal(made.json()["amount_untaxed"]) == Decimal(60)


def _queries(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(API + path)
    assert response.status_code == 200
    return len(captured)


def test_lists_do_not_grow_queries_with_rows(base, company_a, buyer):
    paths = ("/purchase/requisitions", "/purchase/rfqs", "/purchase/orders", "/purchase/matches",
             "/purchase/landed-costs", "/purchase/supplier-prices")  # fmt: skip

    def make(n: int) -> None:
        for _ in range(n):
            api_samples.requisition(company_a)
            api_samples.rfq(company_a, answered=True)
            matching.invoice_match(invoice=api_samples.draft_invoice(company_a), actor=None)
            api_samples.landed_cost(company_a)
            api_samples.supplier_price(company_a)

    make(1)
    get(buyer, "/purchase/orders")  # the token's first use is recorded once
    counts = [_queries(buyer, path) for path in paths]
    make(3)
    assert get(buyer, "/purchase/rfqs")["count"] == 4
    assert get(buyer, "/purchase/matches")["count"] == 4
    assert [_queries(buyer, path) for path in paths] == counts
