"""Invoicing policy per product and per customer: each order line's policy is resolved when it is
written (a policy forced on the order > the product's > the customer's > the company's; services
on order); an order of mixed lines invoices its on-order lines at once and its on-delivery lines
as they are delivered, partially, with the down payment deducted once; the order list's "to
invoice" filter and the order screens follow the lines; a bad policy is refused with nothing
written; the data migration fills the lines of existing orders."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.urls import reverse

from xietong.core.tenancy import company_scope
from xietong.finance.models import Invoice
from xietong.inventory import pickings as picking_services
from xietong.inventory.models import Move, Picking
from xietong.party.models import Party
from xietong.party.services import party_update
from xietong.product.models import Product
from xietong.product.services import product_update
from xietong.sales import billing, documents
from xietong.sales.models import InvoicePolicy, SalesOrder, SalesOrderLine, SalesSettings
from xietong.sales.policies import line_policy, order_policy, policy_label
from xietong.sales.tests.factories import D, customer, item, receive, shop, today
from xietong.sales.tests.invariants import sales_problems
from xietong.sales.views.orders import orders

pytestmark = pytest.mark.django_db

ORDER, DELIVERY = InvoicePolicy.ORDER.value, InvoicePolicy.DELIVERY.value


@pytest.fixture
def s(company_a):  # type: ignore[no-untyped-def]
    return shop(company_a)


@pytest.fixture
def rep(users_a, client_for):  # type: ignore[no-untyped-def]
    return client_for(users_a["sales_rep"])


def _policies(order: SalesOrder) -> list[str]:
    return list(order.lines.order_by("sequence").values_list("invoice_policy", flat=True))


# --- resolution ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("forced", "of_product", "of_customer", "of_company", "expected"),
    [
        ("", "", "", DELIVERY, DELIVERY),  # the company's
        ("", "", "", ORDER, ORDER),
        ("", "", ORDER, DELIVERY, ORDER),  # the customer's over the company's
        ("", DELIVERY, ORDER, ORDER, DELIVERY),  # the product's over the customer's
        (ORDER, DELIVERY, DELIVERY, DELIVERY, ORDER),  # forced over everything
        (DELIVERY, ORDER, ORDER, ORDER, DELIVERY),
    ],
)
def test_resolution_order(forced, of_product, of_customer, of_company, expected):
    product = Product(type=Product.Type.STOCKABLE, invoice_policy=of_product)
    party = Party(invoice_policy=of_customer)
    settings = SalesSettings(invoice_policy=of_company)
    assert line_policy(product=product, party=party, settings=settings, forced=forced) == expected


@pytest.mark.parametrize("forced", ["", DELIVERY])
def test_services_are_invoiced_on_order(forced):
    service = Product(type=Product.Type.SERVICE, invoice_policy=DELIVERY)
    party, settings = Party(invoice_policy=DELIVERY), SalesSettings(invoice_policy=DELIVERY)
    assert line_policy(product=service, party=party, settings=settings, forced=forced) == ORDER
    assert order_policy(party=party, settings=settings, forced=forced) == DELIVERY


def test_header_label():
    assert policy_label(DELIVERY, [ORDER, ORDER]) == "Ordered quantities"
    assert policy_label(ORDER, []) == "Ordered quantities"
    assert policy_label(DELIVERY, [ORDER, DELIVERY]) == "Mixed (per line)"


def test_order_lines_take_the_product_customer_or_company_policy(s, company_a):
    made = item(company_a, "500", invoice_policy=DELIVERY)
    plain = item(company_a, "100")
    install = item(company_a, "80", type=Product.Type.SERVICE)
    buyer = customer(company_a, invoice_policy=ORDER)
    lines = [{"product": p, "quantity": D(1)} for p in (made, plain, install)]

    order = documents.order_create(company=company_a, actor=None, party=buyer, lines=lines)
    assert order.invoice_policy == ORDER  # the customer's, the default of its lines
    assert _policies(order) == [DELIVERY, ORDER, ORDER]

    forced = documents.order_create(company=company_a, actor=None, party=buyer, lines=lines,
                                    invoice_policy=DELIVERY)  # fmt: skip
    assert forced.invoice_policy == DELIVERY
    assert _policies(forced) == [DELIVERY, DELIVERY, ORDER]  # the service stays on order

    walk_in = customer(company_a)  # no policy: the company's (delivery)
    order = documents.order_create(company=company_a, actor=None, party=walk_in, lines=lines)
    assert order.invoice_policy == DELIVERY and _policies(order) == [DELIVERY, DELIVERY, ORDER]

    # a quotation accepted into an order resolves its lines the same way
    q = documents.quotation_create(company=company_a, actor=None, party=buyer, lines=lines)
    documents.quotation_mark_sent(quotation=q, actor=None)
    accepted = documents.quotation_accept(quotation=q, actor=None, confirm=False)
    assert accepted.invoice_policy == ORDER and _policies(accepted) == [DELIVERY, ORDER, ORDER]

    # later changes of the product or the customer leave written lines as agreed
    with company_scope(company_a):
        product_update(product=plain, actor=None, invoice_policy=DELIVERY)
        party_update(party=buyer, actor=None, invoice_policy="")
    assert _policies(accepted) == [DELIVERY, ORDER, ORDER]


def test_bad_policy_is_refused_and_nothing_changes(s, company_a):
    bike = item(company_a, "1000")
    buyer = customer(company_a)
    before = SalesOrder.unscoped.count()
    with pytest.raises(ValidationError) as refused:
        documents.order_create(company=company_a, actor=None, party=buyer,
                               lines=[{"product": bike}], invoice_policy="weekly")  # fmt: skip
    assert "invoice_policy" in refused.value.message_dict
    assert "Invoice on ordered or on delivered quantities." in refused.value.messages
    assert SalesOrder.unscoped.count() == before

    with company_scope(company_a), pytest.raises(ValidationError) as refused:
        party_update(party=buyer, actor=None, name="Renamed", invoice_policy="weekly")
    assert "invoice_policy" in refused.value.message_dict
    buyer.refresh_from_db()
    assert buyer.name != "Renamed" and buyer.invoice_policy == ""

    with company_scope(company_a), pytest.raises(ValidationError) as refused:
        product_update(product=bike, actor=None, name="Renamed", invoice_policy="weekly")
    assert "invoice_policy" in refused.value.message_dict
    bike.refresh_from_db()
    assert (bike.name, bike.invoice_policy) == (f"Item {bike.sku}", "")


# --- invoicing ----------------------------------------------------------------------------------


def _deliver(order: SalesOrder, quantities: dict[Product, Decimal] | None = None) -> None:
    """Do the order's ready deliveries, all of them or `quantities` per product."""
    for picking in documents.order_pickings(order):
        if picking.state != Picking.State.READY:
            continue
        done = None
        if quantities is not None:
            moves = Move.unscoped.filter(picking=picking)
            done = {m.pk: quantities[m.product] for m in moves if m.product in quantities}
        picking_services.picking_done(picking=picking, quantities=done)


def test_mixed_order_invoices_on_order_lines_at_once_and_the_rest_as_delivered(s, company_a):
    bike = item(company_a, "1000")  # the company's policy: on delivery
    frame = item(company_a, "500", invoice_policy=ORDER)  # made to order: billed at once
    install = item(company_a, "100", type=Product.Type.SERVICE)
    receive(bike, 2, s.stock)
    receive(frame, 1, s.stock)
    order = documents.order_create(
        company=company_a, actor=None, party=customer(company_a),
        lines=[{"product": bike, "quantity": D(2)}, {"product": frame, "quantity": D(1)},
               {"product": install, "quantity": D(1)}],
    )  # fmt: skip
    order = documents.order_confirm(order=order, actor=None)
    bike_line, frame_line, install_line = order.lines.order_by("sequence")
    assert order.amount_untaxed == D(2600)

    advance = billing.order_down_payment(order=order, actor=None, percent=D(30))
    assert advance.amount_untaxed == D(780)

    # nothing delivered: the frame and the installation are billed at once, not the bikes
    assert [billing.invoiceable(line) for line in (bike_line, frame_line, install_line)] == [
        0, D(1), D(1)
    ]  # fmt: skip
    first = billing.order_invoice(order=order, actor=None, post=True)
    assert first.amount_untaxed == D(600)  # the 780 advance is more than it bills: kept
    assert sorted(first.lines.values_list("description", flat=True)) == sorted(
        [frame.name, install.name]
    )
    with pytest.raises(ValidationError, match="Nothing to invoice"):
        billing.order_invoice(order=order, actor=None)

    # one bike of two delivered (the frame goes too): one bike may be invoiced, less the advance
    _deliver(order, {bike: D(1), frame: D(1)})
    bike_line.refresh_from_db()
    assert bike_line.qty_delivered == D(1) and billing.invoiceable(bike_line) == D(1)
    with pytest.raises(ValidationError):
        billing.order_invoice(order=order, actor=None, quantities={bike_line.pk: D(2)})
    second = billing.order_invoice(order=order, actor=None, post=True)
    assert second.amount_untaxed == D(1000) - D(780)

    _deliver(order)
    third = billing.order_invoice(order=order, actor=None, post=True)
    assert third.amount_untaxed == D(1000)  # the advance was deducted once
    order.refresh_from_db()
    assert order.state == SalesOrder.State.DONE
    billed = Invoice.unscoped.filter(source_id=order.pk, state=Invoice.State.POSTED)
    assert sum(i.amount_untaxed for i in billed) == order.amount_untaxed
    assert sum(i.amount_total for i in billed) == order.amount_total
    assert sales_problems(company_a) == []


def test_down_payment_waits_for_an_invoice_it_fits_or_the_last(s, company_a):
    frame = item(company_a, "500", invoice_policy=ORDER)
    order = documents.order_create(company=company_a, actor=None, party=customer(company_a),
                                   lines=[{"product": frame, "quantity": D(2)}])  # fmt: skip
    order = documents.order_confirm(order=order, actor=None)
    first_dp = billing.order_down_payment(order=order, actor=None, amount=D(300))
    second_dp = billing.order_down_payment(order=order, actor=None, amount=D(300))
    line = order.lines.get()
    # one frame of two bills 500: room for the first advance, not for both
    partial = billing.order_invoice(order=order, actor=None, quantities={line.pk: D(1)},
                                    post=True)  # fmt: skip
    assert partial.amount_untaxed == D(500) - D(300)
    # the last frame bills the rest of the order: every advance left is deducted
    last = billing.order_invoice(order=order, actor=None, post=True)
    assert last.amount_untaxed == D(500) - D(300)
    deducted = dict(order.down_payments.values_list("invoice_id", "deducted_by_id"))
    assert deducted == {first_dp.pk: partial.pk, second_dp.pk: last.pk}
    with pytest.raises(ValidationError, match="Nothing to invoice"):
        billing.order_invoice(order=order, actor=None)


# --- the list filter and the screens --------------------------------------------------------------


def test_to_invoice_filter_follows_the_line_policies(s, company_a, rep):
    bike = item(company_a, "1000")
    frame = item(company_a, "500", invoice_policy=ORDER)
    tyre = item(company_a, "30", invoice_policy=DELIVERY)
    for product in (bike, frame, tyre):
        receive(product, 5, s.stock)

    def confirmed(party: Party, *products: Product) -> SalesOrder:
        order = documents.order_create(company=company_a, actor=None, party=party,
                                       lines=[{"product": p} for p in products])  # fmt: skip
        return documents.order_confirm(order=order, actor=None)

    waits = confirmed(customer(company_a), bike)  # on delivery, nothing delivered
    mixed = confirmed(customer(company_a), bike, frame)  # the frame is billed at once
    # the customer bills on order, the tyre's product on delivery: the order waits
    header_only = confirmed(customer(company_a, invoice_policy=ORDER), tyre)
    assert header_only.invoice_policy == ORDER and _policies(header_only) == [DELIVERY]

    with company_scope(company_a):
        flags = dict(orders().values_list("pk", "to_invoice"))
    assert (flags[waits.pk], flags[mixed.pk], flags[header_only.pk]) == (False, True, False)

    listed = rep.get(reverse("sales:order_list") + "?to_invoice=1").content.decode()
    assert mixed.number in listed and waits.number not in listed
    assert header_only.number not in listed

    billing.order_invoice(order=mixed, actor=None, post=True)
    _deliver(waits)
    with company_scope(company_a):
        flags = dict(orders().values_list("pk", "to_invoice"))
    assert (flags[waits.pk], flags[mixed.pk]) == (True, False)


def test_order_screen_shows_the_policy_per_line_when_lines_differ(s, company_a, users_a,
                                                                client_for, rep):  # fmt: skip
    bike = item(company_a, "1000", name="Road bike")
    frame = item(company_a, "500", name="Custom frame", invoice_policy=ORDER)
    for product in (bike, frame):
        receive(product, 5, s.stock)
    buyer = customer(company_a)
    mixed = documents.order_confirm(
        order=documents.order_create(company=company_a, actor=None, party=buyer,
                                     lines=[{"product": bike}, {"product": frame}]),
        actor=None,
    )  # fmt: skip
    html = rep.get(reverse("sales:order_detail", args=[mixed.pk])).content.decode()
    assert "Mixed (per line)" in html and "Invoiced on" in html
    assert 'data-policy="order"' in html and 'data-policy="delivery"' in html

    plain = documents.order_create(company=company_a, actor=None, party=buyer,
                                   lines=[{"product": bike}])  # fmt: skip
    html = rep.get(reverse("sales:order_detail", args=[plain.pk])).content.decode()
    assert "Delivered quantities" in html and "Mixed (per line)" not in html
    assert "data-policy=" not in html

    accountant = client_for(users_a["accountant"])
    page = accountant.get(reverse("sales:order_invoice", args=[mixed.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and "Mixed (per line)" in text
    frame_line = mixed.lines.get(product=frame)
    bike_line = mixed.lines.get(product=bike)
    assert f'name="qty_{frame_line.pk}"' in text and f'name="qty_{bike_line.pk}"' not in text


def test_order_form_forces_a_policy_only_when_chosen(s, company_a, rep):
    frame = item(company_a, "500", sku="FRAME-1", invoice_policy=ORDER)
    bike = item(company_a, "1000", sku="BIKE-1")
    buyer = customer(company_a)
    page = rep.get(reverse("sales:order_create")).content.decode()
    assert "Per product and customer" in page
    data = {
        "party": str(buyer.pk), "date": today().isoformat(),
        "requested_date": "", "customer_reference": "", "notes": "", "lines-TOTAL_FORMS": "2",
        "lines-0-product": "FRAME-1", "lines-0-quantity": "1",
        "lines-1-product": "BIKE-1", "lines-1-quantity": "1",
    }  # fmt: skip
    response = rep.post(reverse("sales:order_create"), {**data, "invoice_policy": ""})
    assert response.status_code == 302, response.content.decode()
    order = SalesOrder.unscoped.filter(party=buyer).latest("pk")
    assert order.invoice_policy == DELIVERY and _policies(order) == [ORDER, DELIVERY]
    response = rep.post(reverse("sales:order_create"), {**data, "invoice_policy": "delivery"})
    assert response.status_code == 302
    order = SalesOrder.unscoped.filter(party=buyer).latest("pk")
    assert _policies(order) == [DELIVERY, DELIVERY]
    before = SalesOrder.unscoped.count()
    bad = rep.post(reverse("sales:order_create"), {**data, "invoice_policy": "weekly"})
    assert bad.status_code == 400 and SalesOrder.unscoped.count() == before
    assert frame.invoice_policy == ORDER and bike.invoice_policy == ""


# --- the data migration -------------------------------------------------------------------------


def test_migration_fills_existing_lines_from_their_order(s, company_a):
    fill = importlib.import_module("xietong.sales.migrations.0003_line_invoice_policy_fill")
    bike = item(company_a, "1000")
    install = item(company_a, "100", type=Product.Type.SERVICE)
    buyer = customer(company_a)
    lines = [{"product": bike}, {"product": install}]
    on_order = documents.order_create(company=company_a, actor=None, party=buyer, lines=lines,
                                      invoice_policy=ORDER)  # fmt: skip
    on_delivery = documents.order_create(company=company_a, actor=None, party=buyer, lines=lines,
                                         invoice_policy=DELIVERY)  # fmt: skip
    # as after 0002: every line has the column's default, whatever its order says
    SalesOrderLine.objects.update(invoice_policy=DELIVERY)
    SalesOrderLine.objects.filter(order=on_delivery).update(invoice_policy=ORDER)

    fill.lines_fill(django_apps, None)

    assert _policies(on_order) == [ORDER, ORDER]
    assert _policies(on_delivery) == [DELIVERY, ORDER]  # the service: on order, as before
