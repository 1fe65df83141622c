"""The sales screens as real role users: the rep's workspace, the lists and their filters, the
quick-quote editor (HTMX re-pricing with promise dates), quotations through their life (create,
edit, submit for approval, send, revise, lose, cancel, accept), orders (direct order, confirm,
credit hold, invoice, down payment, send, cancel, PDFs), returns (authorise, receive, credit),
the settings; a bad form writes nothing; 403 for roles without the permission; 404 across
companies."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from xietong.finance.models import Invoice, Journal
from xietong.finance.payments import payment_create, payment_post
from xietong.inventory import pickings as picking_services
from xietong.inventory.models import Picking
from xietong.party.models import CustomerGroup
from xietong.party.services import party_set_credit_terms
from xietong.sales import billing, documents, returns
from xietong.sales.models import Quotation, ReturnOrder, SalesOrder, SalesSettings
from xietong.sales.tests.factories import D, customer, item, receive, shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(company_a):  # type: ignore[no-untyped-def]
    return shop(company_a)


@pytest.fixture
def rep(users_a, client_for):  # type: ignore[no-untyped-def]
    return client_for(users_a["sales_rep"])


def today() -> dt.date:
    return timezone.localdate()


def _lines(*rows: dict[str, Any]) -> dict[str, str]:
    data = {"lines-TOTAL_FORMS": str(len(rows))}
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"lines-{i}-{key}"] = str(value)
    return data


def _quote_form(party: Any, *rows: dict[str, Any], **header: Any) -> dict[str, str]:
    return {
        "party": str(party.pk),
        "date": today().isoformat(),
        "valid_until": "",
        "customer_reference": "PO-778",
        "notes": "",
        **{k: str(v) for k, v in header.items()},
        **_lines(*rows),
    }


def _quotation(
    company: Any, party: Any, product: Any, actor: Any = None, **extra: Any
) -> Quotation:
    line = {"product": product, "quantity": D(2), **extra.pop("line", {})}
    return documents.quotation_create(company=company, actor=actor, party=party, lines=[line],
                                      **extra)  # fmt: skip


def _order(company: Any, party: Any, product: Any, actor: Any = None, quantity: str = "2",
           confirm: bool = True) -> SalesOrder:  # fmt: skip
    order = documents.order_create(company=company, actor=actor, party=party,
                                   lines=[{"product": product, "quantity": D(quantity)}])  # fmt: skip
    return documents.order_confirm(order=order, actor=actor) if confirm else order


def _deliver(order: SalesOrder) -> None:
    for picking in documents.order_pickings(order):
        if picking.state == Picking.State.READY:
            picking_services.picking_done(picking=picking)


def _text(response: Any) -> str:
    return response.content.decode()


# --- workspace and lists --------------------------------------------------------------------------


def test_workspace_shows_my_documents_and_figures(s, company_a, users_a, client_for, rep):
    me, boss = users_a["sales_rep"], users_a["sales_manager"]
    bike = item(company_a, "1000", name="Road bike")
    receive(bike, 10, s.stock)
    buyer = customer(company_a, "Wang Cycles")
    soon = _quotation(company_a, buyer, bike, me, valid_until=today() + dt.timedelta(days=3))
    later = _quotation(company_a, buyer, bike, me, valid_until=today() + dt.timedelta(days=40))
    others = _quotation(company_a, customer(company_a, "Zhao Sports"), bike, boss)
    waiting = documents.quotation_submit(
        quotation=_quotation(company_a, buyer, bike, me, line={"discount": D(30)}), actor=me
    )
    _order(company_a, buyer, bike, me)
    careful = party_set_credit_terms(party=customer(company_a, "Careful Ltd"), actor=None,
                                     credit_limit=D(100), payment_term=None)  # fmt: skip
    held = _order(company_a, careful, bike, me, quantity="1")
    assert held.state == SalesOrder.State.HELD

    response = rep.get(reverse("sales:workspace"))
    assert response.status_code == 200
    html = _text(response)
    assert "My sales" in html
    for doc in (soon, later, waiting):
        assert str(doc) in html
    assert str(others) not in html  # the manager's quotation is not the rep's
    row = re.search(r'<tr class="table-warning">.*?</tr>', html, re.S)
    assert row and str(soon) in row.group(0)  # expiring within a week is marked
    assert held.number in html and "Credit limit" in html
    counts = {
        name: re.search(rf'id="count-{name}".*?fs-3[^>]*>(\d+)<', html, re.S).group(1)  # type: ignore[union-attr]
        for name in ("held", "to-deliver", "to-invoice", "waiting", "expiring")
    }
    assert counts == {"held": "1", "to-deliver": "1", "to-invoice": "0", "waiting": "1",
                      "expiring": "1"}  # fmt: skip
    quoted = re.search(r'id="figure-quoted">(.*?)</div></div>', html, re.S).group(1)  # type: ignore[union-attr]
    assert "CNY" in quoted
    assert f"to_deliver=1&amp;salesperson={me.pk}" in html

    team = _text(client_for(boss).get(reverse("sales:workspace")))
    assert "Team sales" in team and str(others) in team and str(soon) in team
    mine = _text(client_for(boss).get(reverse("sales:workspace") + "?scope=mine"))
    assert str(others) in mine and str(soon) not in mine


def test_lists_filter_by_what_waits(s, company_a, users_a, rep):
    me = users_a["sales_rep"]
    bike = item(company_a, "1000")
    receive(bike, 10, s.stock)
    buyer = customer(company_a, "Lists Buyer")
    soon = _quotation(company_a, buyer, bike, me, valid_until=today() + dt.timedelta(days=2))
    far = _quotation(company_a, buyer, bike, me, valid_until=today() + dt.timedelta(days=60))
    shipped = _order(company_a, buyer, bike, me)
    _deliver(shipped)
    waiting = _order(company_a, buyer, bike, me)
    html = _text(rep.get(reverse("sales:quotation_list") + "?expiring=1"))
    assert str(soon) in html and str(far) not in html and "expiring" in html
    html = _text(rep.get(reverse("sales:quotation_list") + f"?open=1&salesperson={me.pk}"))
    assert str(soon) in html and str(far) in html
    html = _text(rep.get(reverse("sales:order_list") + "?to_deliver=1"))
    assert waiting.number in html and shipped.number not in html
    html = _text(rep.get(reverse("sales:order_list") + "?to_invoice=1"))
    assert shipped.number in html and waiting.number not in html
    csv = rep.get(reverse("sales:order_list") + "?export=csv").content.decode("utf-8-sig")
    assert shipped.number in csv and waiting.number in csv
    assert rep.get(reverse("sales:return_list")).status_code == 200


def test_quotation_list_queries_do_not_grow_with_rows(s, company_a, users_a, rep):
    bike = item(company_a, "100")
    buyer = customer(company_a)
    _quotation(company_a, buyer, bike, users_a["sales_rep"])
    with CaptureQueriesContext(connection) as few:
        assert rep.get(reverse("sales:quotation_list")).status_code == 200
    for _n in range(6):
        _quotation(company_a, customer(company_a), bike, users_a["sales_rep"])
    with CaptureQueriesContext(connection) as many:
        assert rep.get(reverse("sales:quotation_list")).status_code == 200
    assert len(many) == len(few)


# --- the quick quote ------------------------------------------------------------------------------


def test_line_editor_reprices_live_with_a_promise_date(s, company_a, rep):
    bike = item(company_a, "1000", sku="BIKE-1", name="Road bike")
    receive(bike, 3, s.stock)
    buyer = customer(company_a, "Live Buyer")
    url = reverse("sales:quotation_lines") + "?part=amounts"
    data = _quote_form(buyer, {"product": "BIKE-1", "quantity": "2"})
    response = rep.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = _text(response)
    assert 'id="sales-totals"' in html and 'hx-swap-oob="true"' in html
    assert "1,000.00" in html  # the unit price from the price list
    assert 'id="editor-total">2,260.00<' in html  # 2 × 1000 + 13 % VAT
    assert today().isoformat() in html and "In stock" in html  # promised today from stock
    # a discount re-prices; more than in stock is promised later (no lead time: not at all)
    data = _quote_form(buyer, {"product": "BIKE-1", "quantity": "5", "discount": "10"})
    html = _text(rep.post(url, data, HTTP_HX_REQUEST="true"))
    assert 'id="editor-total">5,085.00<' in html
    assert "Only 3 of 5 can be promised" in html
    # an unknown SKU is shown on its line, the other lines still priced
    data = _quote_form(buyer, {"product": "NOPE"}, {"product": "BIKE-1", "quantity": "1"})
    html = _text(rep.post(url, data, HTTP_HX_REQUEST="true"))
    assert "No product has the SKU NOPE." in html and 'id="editor-total">1,130.00<' in html
    # without a customer nothing is priced yet
    html = _text(rep.post(url, {**data, "party": ""}, HTTP_HX_REQUEST="true"))
    assert "Choose a customer" in html
    # adding and removing lines re-renders the block
    html = _text(rep.post(reverse("sales:quotation_lines"), {**data, "lines_action": "add"}))
    assert html.count('class="sales-line"') == 3
    html = _text(rep.post(reverse("sales:quotation_lines"), {**data, "lines_action": "remove-0"}))
    assert html.count('class="sales-line"') == 1 and 'value="BIKE-1"' in html
    assert rep.get(reverse("sales:quotation_lines")).status_code == 405


def test_line_editor_flags_discounts_needing_approval_and_configured_items(s, company_a, rep):
    from xietong.product.models import ConfiguredItem

    item(company_a, "1000", sku="BIKE-2")
    group = CustomerGroup.unscoped.create(company=company_a, code="DLR", name="Dealers",
                                          max_discount_percent=D(5))  # fmt: skip
    buyer = customer(company_a, customer_group=group)
    url = reverse("sales:quotation_lines") + "?part=amounts"
    html = _text(rep.post(url, _quote_form(buyer, {"product": "BIKE-2", "discount": "12"})))
    assert 'id="approval-hint"' in html and "limit of 5" in html
    frame = item(company_a, "500", sku="FRAME-C", is_configurable=True)
    html = _text(rep.post(url, _quote_form(buyer, {"product": "FRAME-C"})))
    assert "configurable: configure it first" in html
    configured = ConfiguredItem.unscoped.create(
        company=company_a, product=frame, description="Frame, carbon, 56 cm",
        currency_id="CNY", price=D("1800"), cost=D("900"),
    )  # fmt: skip
    page = _text(rep.get(reverse("sales:quotation_create")))
    assert "Frame, carbon" in page and 'id="configurator-link"' in page
    html = _text(rep.post(url, _quote_form(buyer, {"configured_item": configured.pk})))
    assert "1,800.00" in html


def test_quick_quote_saves_through_the_service(s, company_a, users_a, rep):
    bike = item(company_a, "1000", sku="BIKE-3", name="Road bike")
    receive(bike, 5, s.stock)
    buyer = customer(company_a, "Saving Buyer")
    page = rep.get(reverse("sales:quotation_create") + f"?party={buyer.pk}")
    assert page.status_code == 200 and f'value="{buyer.pk}" selected' in _text(page)
    response = rep.post(
        reverse("sales:quotation_create"),
        _quote_form(buyer, {"product": "BIKE-3", "quantity": "2", "discount": "5"},
                    {"product": "BIKE-3", "quantity": "1", "unit_price": "950",
                     "description": "Demo bike"}),
    )  # fmt: skip
    assert response.status_code == 302, _text(response)
    q = Quotation.unscoped.get(party=buyer)
    assert response["Location"] == reverse("sales:quotation_detail", args=[q.pk])
    assert q.salesperson == users_a["sales_rep"] and q.customer_reference == "PO-778"
    first, second = q.lines.order_by("sequence")
    assert first.unit_price == D(1000) and first.discount == D(5)
    assert second.unit_price == D(950) and second.description == "Demo bike"
    assert first.promise_date == today()
    html = _text(rep.get(response["Location"]))
    assert "In stock" in html and "Demo bike" in html and q.number in html
    assert 'id="action-send"' in html and 'id="action-edit"' in html

    # edit: the customer stays, the lines are replaced
    page = _text(rep.get(reverse("sales:quotation_edit", args=[q.pk])))
    assert 'id="fixed-party"' in page and 'value="950"' in page
    response = rep.post(
        reverse("sales:quotation_edit", args=[q.pk]),
        _quote_form(buyer, {"product": "BIKE-3", "quantity": "4"},
                    valid_until=(today() + dt.timedelta(days=10)).isoformat()),
    )  # fmt: skip
    assert response.status_code == 302, _text(response)
    q.refresh_from_db()
    assert q.lines.get().quantity == D(4) and q.amount_total == D(4520)
    assert q.valid_until == today() + dt.timedelta(days=10)


def test_a_bad_quote_writes_nothing(s, company_a, rep):
    item(company_a, "1000", sku="BIKE-4")
    archived = item(company_a, "10", sku="OLD-1", active=False)
    buyer = customer(company_a)
    before = Quotation.unscoped.count()
    cases = [
        (_quote_form(buyer, {"product": "NOPE"}), "No product has the SKU NOPE."),
        (_quote_form(buyer, {"product": "BIKE-4", "quantity": "-1"}), "above zero"),
        (_quote_form(buyer, {"product": "BIKE-4", "discount": "120"}), "between 0 and 100"),
        (_quote_form(buyer, {"product": archived.sku}), "archived"),
        (_quote_form(buyer), "Add at least one line"),
        ({**_quote_form(buyer, {"product": "BIKE-4"}), "party": ""}, "This field is required"),
        (_quote_form(buyer, {"product": "BIKE-4"}, valid_until="2000-01-01"), "valid from"),
    ]
    for data, message in cases:
        response = rep.post(reverse("sales:quotation_create"), data)
        assert response.status_code == 400, message
        assert message in _text(response), message
    assert Quotation.unscoped.count() == before


# --- quotations through their life ----------------------------------------------------------------


def test_submit_for_approval_shows_the_task(s, company_a, users_a, rep, client_for):
    bike = item(company_a, "1000")
    q = _quotation(company_a, customer(company_a), bike, users_a["sales_rep"],
                   line={"discount": D(25)})  # fmt: skip
    html = _text(rep.get(reverse("sales:quotation_detail", args=[q.pk])))
    assert 'id="action-submit"' in html and 'id="approval"' in html
    response = rep.post(reverse("sales:quotation_send", args=[q.pk]), {"to": "a@example.com"})
    assert response.status_code == 400 and "submit it for approval first" in _text(response)
    assert mail.outbox == []
    response = rep.post(reverse("sales:quotation_submit", args=[q.pk]))
    assert response.status_code == 302
    q.refresh_from_db()
    assert q.state == Quotation.State.TO_APPROVE
    html = _text(client_for(users_a["sales_manager"]).get(
        reverse("sales:quotation_detail", args=[q.pk])))  # fmt: skip
    assert 'id="approval-task"' in html and 'id="approval-process"' in html
    assert "workflow/tasks/" in html
    html = _text(client_for(users_a["sales_manager"]).get(reverse("sales:workspace")))
    assert str(q) in html and "Decide" in html


def test_send_revise_lose_and_cancel(s, company_a, users_a, rep):
    bike = item(company_a, "1000")
    buyer = customer(company_a, "Mail Buyer", email="buyer@example.com")
    q = _quotation(company_a, buyer, bike, users_a["sales_rep"])
    page = _text(rep.get(reverse("sales:quotation_send", args=[q.pk])))
    assert "buyer@example.com" in page
    response = rep.post(reverse("sales:quotation_send", args=[q.pk]),
                        {"to": "buyer@example.com, boss@example.com", "message": "As discussed."})  # fmt: skip
    assert response.status_code == 302
    q.refresh_from_db()
    assert q.state == Quotation.State.SENT and len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["buyer@example.com", "boss@example.com"]
    assert "As discussed." in message.body and message.attachments[0][2] == "application/pdf"
    pdf = rep.get(reverse("sales:quotation_pdf", args=[q.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")

    response = rep.post(reverse("sales:quotation_revise", args=[q.pk]))
    v2 = Quotation.unscoped.get(number=q.number, version=2)
    assert response["Location"] == reverse("sales:quotation_edit", args=[v2.pk])
    html = _text(rep.get(reverse("sales:quotation_detail", args=[q.pk])))
    assert 'id="newer-version"' in html and str(v2) in html
    html = _text(rep.get(reverse("sales:quotation_detail", args=[v2.pk])))
    assert f'href="{reverse("sales:quotation_detail", args=[q.pk])}"' in html  # version history

    response = rep.post(reverse("sales:quotation_lost", args=[v2.pk]), {"reason": ""})
    assert response.status_code == 400
    response = rep.post(reverse("sales:quotation_lost", args=[v2.pk]), {"reason": "Too dear"})
    assert response.status_code == 302
    v2.refresh_from_db()
    assert v2.state == Quotation.State.LOST and v2.lost_reason == "Too dear"
    assert "Too dear" in _text(rep.get(reverse("sales:quotation_detail", args=[v2.pk])))

    other = _quotation(company_a, buyer, bike)
    rep.post(reverse("sales:quotation_cancel", args=[other.pk]))
    other.refresh_from_db()
    assert other.state == Quotation.State.CANCELLED
    response = rep.post(reverse("sales:quotation_cancel", args=[other.pk]), follow=True)
    assert "not possible now" in _text(response)


def test_accept_makes_a_confirmed_order_with_deliveries(s, company_a, users_a, rep):
    bike = item(company_a, "1000")
    receive(bike, 5, s.stock)
    buyer = customer(company_a, "Accepting Buyer")
    q = documents.quotation_mark_sent(quotation=_quotation(company_a, buyer, bike), actor=None)
    assert rep.get(reverse("sales:quotation_accept", args=[q.pk])).status_code == 200
    response = rep.post(reverse("sales:quotation_accept", args=[q.pk]),
                        {"customer_reference": "PO-1", "confirm": "on"})  # fmt: skip
    order = SalesOrder.unscoped.get(quotation=q)
    assert response["Location"] == reverse("sales:order_detail", args=[order.pk])
    assert order.state == SalesOrder.State.CONFIRMED and order.customer_reference == "PO-1"
    html = _text(rep.get(response["Location"]))
    picking = documents.order_pickings(order)[0]
    assert picking.number in html
    assert reverse("sales:delivery_note_pdf", args=[picking.pk]) in html
    assert order.lines.get().promise_date.isoformat() in html
    note = rep.get(reverse("sales:delivery_note_pdf", args=[picking.pk]))
    assert note["Content-Type"] == "application/pdf"
    assert rep.get(reverse("sales:order_pdf", args=[order.pk]))["Content-Type"] == "application/pdf"
    html = _text(rep.get(reverse("sales:quotation_detail", args=[q.pk])))
    assert 'id="quotation-orders"' in html and order.number in html


# --- orders ---------------------------------------------------------------------------------------


def test_direct_order_confirm_and_credit_hold(s, company_a, users_a, rep):
    bike = item(company_a, "1000", sku="BIKE-5")
    receive(bike, 5, s.stock)
    buyer = customer(company_a, "Direct Buyer")
    page = rep.get(reverse("sales:order_create"))
    assert page.status_code == 200 and "Requested delivery date" in _text(page)
    html = _text(rep.post(reverse("sales:order_lines") + "?part=amounts",
                          {**_quote_form(buyer, {"product": "BIKE-5", "quantity": "1"}),
                           "requested_date": (today() + dt.timedelta(days=5)).isoformat()}))  # fmt: skip
    assert (today() + dt.timedelta(days=5)).isoformat() in html  # promised on the day wanted
    data = {**_quote_form(buyer, {"product": "BIKE-5", "quantity": "2"}),
            "requested_date": "", "invoice_policy": "order"}  # fmt: skip
    response = rep.post(reverse("sales:order_create"), data)
    assert response.status_code == 302, _text(response)
    order = SalesOrder.unscoped.get(party=buyer)
    assert order.state == SalesOrder.State.DRAFT and order.invoice_policy == "order"
    html = _text(rep.get(response["Location"]))
    assert 'id="action-confirm"' in html
    rep.post(reverse("sales:order_confirm", args=[order.pk]))
    order.refresh_from_db()
    assert order.state == SalesOrder.State.CONFIRMED and documents.order_pickings(order)

    careful = party_set_credit_terms(party=customer(company_a, "Tight Credit"), actor=None,
                                     credit_limit=D(50), payment_term=None)  # fmt: skip
    held = _order(company_a, careful, bike, confirm=False)
    response = rep.post(reverse("sales:order_confirm", args=[held.pk]), follow=True)
    held.refresh_from_db()
    assert held.state == SalesOrder.State.HELD
    html = _text(response)
    assert "credit hold" in html and 'id="hold"' in html and "Credit limit" in html


def test_invoice_down_payment_and_payments_through_the_screens(s, company_a, users_a,
                                                               client_for):  # fmt: skip
    accountant = client_for(users_a["accountant"])
    bike = item(company_a, "1000")
    receive(bike, 5, s.stock)
    buyer = customer(company_a, "Paying Buyer")
    order = _order(company_a, buyer, bike, quantity="3")
    response = accountant.post(reverse("sales:order_down_payment", args=[order.pk]),
                               {"amount": "", "percent": ""})  # fmt: skip
    assert response.status_code == 400
    response = accountant.post(reverse("sales:order_down_payment", args=[order.pk]),
                               {"percent": "10", "date": today().isoformat(), "post": "on"})  # fmt: skip
    assert response.status_code == 302, _text(response)
    # nothing delivered yet: nothing to invoice on delivered quantities
    response = accountant.get(reverse("sales:order_invoice", args=[order.pk]), follow=True)
    assert "Nothing to invoice" in _text(response)
    _deliver(order)
    line = order.lines.get()
    page = accountant.get(reverse("sales:order_invoice", args=[order.pk]))
    assert page.status_code == 200 and f'name="qty_{line.pk}"' in _text(page)
    before = Invoice.unscoped.count()
    response = accountant.post(reverse("sales:order_invoice", args=[order.pk]),
                               {f"qty_{line.pk}": "4", "date": today().isoformat()})  # fmt: skip
    assert response.status_code == 400 and Invoice.unscoped.count() == before
    response = accountant.post(reverse("sales:order_invoice", args=[order.pk]),
                               {f"qty_{line.pk}": "3", "date": today().isoformat(), "post": "on"})  # fmt: skip
    assert response.status_code == 302, _text(response)
    invoice = Invoice.unscoped.filter(source_id=order.pk, kind="out_invoice").latest("pk")
    assert invoice.state == Invoice.State.POSTED
    assert invoice.amount_total == D("3390.00") - D("339.00")  # less the 10 % down payment
    payment = payment_post(
        payment=payment_create(
            company=company_a, actor=None, direction="inbound", party=buyer,
            journal=Journal.unscoped.get(company=company_a, code="BNK"), date=today(),
            amount=invoice.amount_total,
        ),
        actor=None, allocations=[invoice],
    )  # fmt: skip
    html = _text(accountant.get(reverse("sales:order_detail", args=[order.pk]) + "?tab=payments"))
    assert invoice.number in html and payment.number in html and "3,051.00" in html
    assert 'id="down-payments"' in html


def test_send_confirmation_and_cancel_order(s, company_a, rep):
    bike = item(company_a, "1000")
    receive(bike, 5, s.stock)
    buyer = customer(company_a, "Confirm Buyer", email="c@example.com")
    order = _order(company_a, buyer, bike)
    response = rep.post(reverse("sales:order_send", args=[order.pk]), {"to": "", "message": ""})
    assert response.status_code == 302 and mail.outbox[0].to == ["c@example.com"]
    response = rep.post(reverse("sales:order_cancel", args=[order.pk]), {"reason": "Changed mind"})
    assert response.status_code == 400  # the confirmation box
    order.refresh_from_db()
    assert order.state == SalesOrder.State.CONFIRMED
    response = rep.post(reverse("sales:order_cancel", args=[order.pk]),
                        {"reason": "Changed mind", "confirm": "on"})  # fmt: skip
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.state == SalesOrder.State.CANCELLED and order.cancel_reason == "Changed mind"


# --- returns --------------------------------------------------------------------------------------


def test_return_authorise_receive_and_credit(s, company_a, users_a, rep, client_for):
    bike = item(company_a, "1000")
    receive(bike, 5, s.stock)
    buyer = customer(company_a, "Returning Buyer")
    order = _order(company_a, buyer, bike, quantity="3")
    _deliver(order)
    billing.order_invoice(order=order, actor=None, post=True)
    line = order.lines.get()
    html = _text(rep.get(reverse("sales:order_detail", args=[order.pk])))
    assert 'id="action-return"' in html
    page = rep.get(reverse("sales:return_create", args=[order.pk]))
    assert page.status_code == 200 and f'name="qty_{line.pk}"' in _text(page)
    before = ReturnOrder.unscoped.count()
    response = rep.post(reverse("sales:return_create", args=[order.pk]),
                        {"reason": "Scratched", f"qty_{line.pk}": "5",
                         f"disposition_{line.pk}": "restock"})  # fmt: skip
    assert response.status_code == 400 and "at most 3" in _text(response)
    response = rep.post(reverse("sales:return_create", args=[order.pk]),
                        {"reason": "", f"qty_{line.pk}": "1"})  # fmt: skip
    assert response.status_code == 400 and ReturnOrder.unscoped.count() == before
    response = rep.post(reverse("sales:return_create", args=[order.pk]),
                        {"reason": "Scratched", f"qty_{line.pk}": "1",
                         f"disposition_{line.pk}": "restock"})  # fmt: skip
    rma = ReturnOrder.unscoped.get(order=order)
    assert response["Location"] == reverse("sales:return_detail", args=[rma.pk])
    rep.post(reverse("sales:return_receive", args=[rma.pk]))
    rma.refresh_from_db()
    assert rma.state == ReturnOrder.State.RECEIVED
    html = _text(rep.get(reverse("sales:return_detail", args=[rma.pk])))
    assert rma.picking.number in html and 'id="action-credit"' not in html  # finance credits
    accountant = client_for(users_a["accountant"])
    page = _text(accountant.get(reverse("sales:return_credit", args=[rma.pk])))
    assert "refund_journal" in page
    response = accountant.post(reverse("sales:return_credit", args=[rma.pk]),
                               {"date": today().isoformat(), "refund_journal": ""})  # fmt: skip
    assert response.status_code == 302, _text(response)
    rma.refresh_from_db()
    assert rma.state == ReturnOrder.State.DONE and rma.credit_note.state == "posted"
    html = _text(rep.get(reverse("sales:order_detail", args=[order.pk]) + "?tab=returns"))
    assert rma.number in html and rma.credit_note.number in html


# --- settings -------------------------------------------------------------------------------------


def test_settings_are_for_the_sales_manager(s, company_a, users_a, client_for, rep):
    assert rep.get(reverse("sales:settings_edit")).status_code == 403
    manager = client_for(users_a["sales_manager"])
    assert manager.get(reverse("sales:settings_edit")).status_code == 200
    settings = SalesSettings.unscoped.get(company=company_a)
    data = {
        "warehouse": str(s.warehouse.pk), "quotation_validity_days": "14",
        "invoice_policy": "order", "max_discount_percent": "7.5", "down_payment_account": "",
        "return_days": "60", "default_tax": str(s.vat.pk),
    }  # fmt: skip
    response = manager.post(reverse("sales:settings_edit"), {**data, "return_days": "-1"})
    assert response.status_code == 400
    settings.refresh_from_db()
    assert settings.return_days == 30
    response = manager.post(reverse("sales:settings_edit"), data)
    assert response.status_code == 302
    settings.refresh_from_db()
    assert (settings.quotation_validity_days, settings.invoice_policy, settings.return_days) == (
        14, "order", 60,
    )  # fmt: skip
    assert settings.max_discount_percent == Decimal("7.5")


# --- permissions and isolation --------------------------------------------------------------------


def test_roles_without_the_permission_get_403(s, company_a, users_a, client_for):
    bike = item(company_a, "1000", sku="BIKE-6")
    receive(bike, 5, s.stock)
    buyer = customer(company_a)
    order = _order(company_a, buyer, bike)
    _deliver(order)
    clerk = client_for(users_a["warehouse_clerk"])
    assert clerk.get(reverse("sales:quotation_list")).status_code == 200  # may look
    assert clerk.get(reverse("sales:quotation_create")).status_code == 403
    before = Quotation.unscoped.count()
    assert clerk.post(reverse("sales:quotation_create"),
                      _quote_form(buyer, {"product": "BIKE-6"})).status_code == 403  # fmt: skip
    assert clerk.post(reverse("sales:quotation_lines") + "?part=amounts", {}).status_code == 403
    assert Quotation.unscoped.count() == before
    rep = client_for(users_a["sales_rep"])
    line = order.lines.get()
    response = rep.post(reverse("sales:order_invoice", args=[order.pk]),
                        {f"qty_{line.pk}": "2", "post": "on"})  # fmt: skip
    assert response.status_code == 403
    assert not Invoice.unscoped.filter(source_id=order.pk).exists()
    html = _text(rep.get(reverse("sales:order_detail", args=[order.pk])))
    assert 'id="action-invoice"' not in html and 'id="action-down-payment"' not in html
    assert rep.get(reverse("sales:settings_edit")).status_code == 403
    accountant = client_for(users_a["accountant"])
    assert accountant.get(reverse("sales:quotation_create")).status_code == 403
    assert accountant.get(reverse("sales:order_invoice", args=[order.pk])).status_code == 200


def test_other_company_records_are_not_found(s, company_a, company_b, users_a, client_for):
    other = shop(company_b)
    bike = item(company_b, "100")
    receive(bike, 5, other.stock)
    buyer = customer(company_b, "Beta Buyer")
    q = _quotation(company_b, buyer, bike)
    order = _order(company_b, buyer, bike)
    _deliver(order)
    picking = documents.order_pickings(order)[0]
    rma = returns.return_create(
        order=order, actor=None, reason="Beta", lines=[{"order_line": order.lines.get(),
                                                        "quantity": D(1)}])  # fmt: skip
    manager = client_for(users_a["sales_manager"])
    gets = [
        ("sales:quotation_detail", q), ("sales:quotation_edit", q), ("sales:quotation_pdf", q),
        ("sales:quotation_send", q), ("sales:quotation_accept", q), ("sales:quotation_lost", q),
        ("sales:order_detail", order), ("sales:order_pdf", order), ("sales:order_send", order),
        ("sales:order_cancel", order), ("sales:return_create", order),
        ("sales:delivery_note_pdf", picking), ("sales:return_detail", rma),
    ]  # fmt: skip
    for name, record in gets:
        assert manager.get(reverse(name, args=[record.pk])).status_code == 404, name
    posts = [("sales:quotation_submit", q), ("sales:quotation_cancel", q),
             ("sales:quotation_revise", q), ("sales:order_confirm", order),
             ("sales:return_receive", rma), ("sales:return_cancel", rma)]  # fmt: skip
    for name, record in posts:
        assert manager.post(reverse(name, args=[record.pk])).status_code == 404, name
    q.refresh_from_db()
    rma.refresh_from_db()
    assert q.state == Quotation.State.DRAFT and rma.state == ReturnOrder.State.AUTHORISED
    # nor through the editor: another company's customer prices nothing
    html = _text(manager.post(reverse("sales:quotation_lines") + "?part=amounts",
                              _quote_form(buyer, {"product": bike.sku})))  # fmt: skip
    assert "Choose a customer" in html
    for name in ("sales:quotation_list", "sales:order_list", "sales:return_list"):
        content = manager.get(reverse(name) + "?export=csv").content
        assert b"Beta Buyer" not in content
