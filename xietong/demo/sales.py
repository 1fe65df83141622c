"""Demo step for sales: the main company's quotations and orders over the last weeks, through
the services, so every state has examples — quotations drafted, waiting for discount approval
(with the manager's task in the inbox), sent, revised, declined and accepted; orders confirmed
and reserved, partly and fully shipped, invoiced (on order and on delivery), paid, one with a
down payment, one held over the customer's credit limit (the override task waiting) and one
cancelled; and a customer return credited.

Invoicing policies: the company invoices delivered quantities; the two dearest bikes are made to
order and the services are invoiced on order (the products' policy), one dealer pays on order
(the customer's policy), and every fourth order is a direct order forced on order — so the order
screens show orders invoiced on order, on delivery, and mixed per line.

Runs after the inventory step (the Shanghai warehouse and its stock). Domestic CNY customers on
the default price list; deterministic (ctx.rng, rows in code order).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.demo.context import DemoContext
from xietong.finance.models import Journal, Tax
from xietong.finance.payments import payment_create, payment_post
from xietong.inventory import pickings
from xietong.inventory.models import Location, Move, Picking, Warehouse
from xietong.inventory.stock import lot_create, move_create, moves_confirm, moves_done
from xietong.inventory.warehouses import virtual_locations
from xietong.party.models import Party
from xietong.party.services import party_update
from xietong.product.models import Product
from xietong.product.services import product_update
from xietong.sales import billing, documents, returns
from xietong.sales.common import SalesError, sales_settings
from xietong.sales.models import InvoicePolicy, SalesOrder

SIZES = {"small": (14, 3), "medium": (60, 8), "large": (250, 20)}
D = Decimal


def run(ctx: DemoContext) -> None:
    company = ctx.companies["main"]
    rep, manager = ctx.users["sales_rep"], ctx.users["sales_manager"]
    accountant = ctx.users["accountant"]
    rng = ctx.rng
    orders_n, quotes_n = SIZES[ctx.size]
    with company_scope(company):
        warehouse = Warehouse.unscoped.get(company=company, code="SH")
        settings = sales_settings(company)
        settings.warehouse = warehouse
        settings.default_tax = Tax.unscoped.filter(company=company, code="VAT13-S").first()
        settings.save()
        in_stock = list(
            Product.unscoped.filter(
                company=company, active=True, type=Product.Type.STOCKABLE,
                list_price__gt=0, is_configurable=False,
            ).order_by("sku")[:12]
        )  # fmt: skip
        _finished_goods(company, warehouse, in_stock, rng)
        services = list(
            Product.unscoped.filter(
                company=company, active=True, type=Product.Type.SERVICE, list_price__gt=0
            ).order_by("sku")[:2]
        )
        customers = list(
            Party.unscoped.filter(
                company=company, is_customer=True, active=True, currency_id="CNY"
            ).order_by("code")[:12]
        )
        bank = Journal.unscoped.filter(company=company, kind="bank", currency__isnull=True).first()
        if not in_stock or not customers:
            return
        made_to_order = sorted(in_stock, key=lambda p: (-p.list_price, p.sku))[:2]
        for product in [*made_to_order, *services]:
            product_update(product=product, actor=manager, invoice_policy=InvoicePolicy.ORDER)
        if len(customers) > 2:
            party_update(party=customers[2], actor=manager, invoice_policy=InvoicePolicy.ORDER)

        def lines(count: int) -> list[dict[str, object]]:
            chosen = rng.sample(in_stock, k=min(count, len(in_stock)))
            return [{"product": p, "quantity": D(rng.randint(1, 3))} for p in chosen]

        # quotations in every state
        for n in range(quotes_n):
            buyer = customers[n % len(customers)]
            q = documents.quotation_create(company=company, actor=rep, party=buyer,
                                           lines=lines(rng.randint(1, 3)))  # fmt: skip
            if n % 3 == 1:
                documents.quotation_mark_sent(quotation=q, actor=rep)
            elif n % 3 == 2:
                documents.quotation_mark_sent(quotation=q, actor=rep)
                documents.quotation_lost(quotation=q, actor=rep,
                                         reason="价格高于竞争对手 Price above a competitor")  # fmt: skip
        big = documents.quotation_create(
            company=company, actor=rep, party=customers[0],
            lines=[{**line, "discount": D(18)} for line in lines(2)],
            notes="年度框架协议 annual framework deal",
        )  # fmt: skip
        documents.quotation_submit(quotation=big, actor=rep)
        revised = documents.quotation_create(company=company, actor=rep, party=customers[1],
                                             lines=lines(2))  # fmt: skip
        documents.quotation_mark_sent(quotation=revised, actor=rep)
        documents.quotation_revise(quotation=revised, actor=rep)

        # orders through the whole flow
        for n in range(orders_n):
            buyer = customers[(n + 3) % len(customers)]
            extra = [{"product": services[0], "quantity": D(1)}] if services and n % 5 == 0 else []
            try:
                if n % 4 == 0:  # a direct order, every line invoiced on order
                    order = documents.order_create(
                        company=company, actor=rep, party=buyer,
                        lines=lines(rng.randint(1, 3)) + extra,
                        invoice_policy=InvoicePolicy.ORDER,
                    )  # fmt: skip
                else:  # each line by its product's, its customer's or the company's policy
                    q = documents.quotation_create(company=company, actor=rep, party=buyer,
                                                   lines=lines(rng.randint(1, 3)) + extra)  # fmt: skip
                    documents.quotation_mark_sent(quotation=q, actor=rep)
                    order = documents.quotation_accept(quotation=q, actor=rep, confirm=False)
                order = documents.order_confirm(order=order, actor=rep)
            except SalesError:
                continue
            if order.state != order.State.CONFIRMED:
                continue
            stage = n % 6
            if stage == 0:
                continue  # confirmed and reserved, waiting for the warehouse
            if stage == 5:
                documents.order_cancel(
                    order=order, actor=manager, reason="客户取消 Customer cancelled"
                )
                continue
            if stage == 1 and order.invoice_policy == InvoicePolicy.ORDER:
                billing.order_down_payment(order=order, actor=accountant, percent=D(30))
            _ship(order, partly=stage == 2)
            if stage >= 3:
                try:
                    invoice = billing.order_invoice(order=order, actor=accountant, post=True)
                except SalesError:
                    continue
                if stage == 4 and bank is not None:
                    payment_post(
                        payment=payment_create(
                            company=company, actor=accountant, direction="inbound", party=buyer,
                            journal=bank, date=timezone.localdate(),
                            amount=invoice.amount_total,
                        ),
                        actor=accountant,
                        allocations=[invoice],
                    )  # fmt: skip

        # a customer return: one unit of a paid order back into stock, credited and refunded
        paid = (
            SalesOrder.unscoped.filter(company=company, state=SalesOrder.State.DONE)
            .order_by("pk")
            .first()
        )
        if paid is not None and bank is not None:
            first = paid.lines.order_by("sequence").first()
            sent = Move.unscoped.filter(
                source_type=documents.LINE_SOURCE, source_id=first.pk, state=Move.State.DONE,
                to_location__usage=Location.Usage.CUSTOMER,
            ).first()  # fmt: skip
            try:
                rma = returns.return_create(
                    order=paid, actor=rep, reason="运输损坏 Damaged in transport",
                    lines=[{"order_line": first, "quantity": D(1), "lot": sent.lot if sent else None}],
                )  # fmt: skip
                rma = returns.return_receive(rma=rma, actor=ctx.users["warehouse_clerk"])
                returns.return_credit(rma=rma, actor=accountant, refund_journal=bank)
            except (SalesError, ValidationError) as exc:
                ctx.log.append(f"sales: no demo return ({exc})")

        # an order held over the customer's credit limit
        tight = customers[-1]
        Party.unscoped.filter(pk=tight.pk).update(credit_limit=D(1000))
        tight.refresh_from_db()
        held = documents.order_create(company=company, actor=rep, party=tight, lines=lines(2))
        documents.order_confirm(order=held, actor=rep)
    ctx.log.append(f"sales: {orders_n} orders, {quotes_n} quotations")


def _finished_goods(company: object, warehouse: Warehouse, products: list[Product],
                    rng: object) -> None:  # fmt: skip
    """Finished bikes out of production into stock a week ago, at 60 % of their list price,
    each with its serial number (or one lot for products tracked by lot)."""
    production = virtual_locations(company=company)[Location.Usage.PRODUCTION]
    day = timezone.localdate() - dt.timedelta(days=7)
    moves = []
    for product in products:
        count = rng.randint(6, 14)  # type: ignore[attr-defined]
        cost = (product.list_price * D("0.6")).quantize(D("0.01"))
        batches: list[tuple[D, object]]
        if product.tracking == Product.Tracking.SERIAL:
            batches = [
                (
                    D(1),
                    lot_create(
                        company=company, product=product, name=f"{product.sku}-{day:%y%m}{n:04d}"
                    ),
                )  # fmt: skip
                for n in range(1, count + 1)
            ]
        elif product.tracking == Product.Tracking.LOT:
            batches = [(D(count), lot_create(company=company, product=product,
                                             name=f"{product.sku}-{day:%y%m%d}"))]  # fmt: skip
        else:
            batches = [(D(count), None)]
        moves += [
            move_create(
                company=company,
                product=product,
                quantity=quantity,
                lot=lot,
                from_location=production,
                to_location=warehouse.stock_location,
                planned_date=day,
                unit_cost=cost,
                origin="MO/DEMO",
            )  # fmt: skip
            for quantity, lot in batches
        ]
    moves_confirm(moves=moves)
    moves_done(moves=moves, effective_date=day)


def _ship(order: object, *, partly: bool) -> None:
    """Do the order's ready pickings step by step (all of the first step only when partly)."""
    for _round in range(3):
        ready = [p for p in documents.order_pickings(order) if p.state == Picking.State.READY]
        if not ready:
            return
        for picking in ready:
            if partly:
                moves = list(Move.unscoped.filter(picking=picking).order_by("pk"))
                first = moves[0]
                half = (first.quantity / 2).quantize(D(1)) or first.quantity
                pickings.picking_done(picking=picking, quantities={first.pk: half})
                return
            pickings.picking_done(picking=picking)
