"""Demo step for purchasing: the main company's requisitions, RFQs, purchase orders, receipts,
supplier invoices and landed costs over the last weeks, through the services, so every screen
of the buyer's workspace has examples — requisitions drafted, waiting for approval and open for
sourcing (some from the replenishment rules), an RFQ sent to three suppliers with two answers
and one awarded across two suppliers, orders drafted, waiting for the executive and finance,
sent, confirmed with promised dates (one late), partly received, received with an inspection
rejection, billed and paid, one invoice blocked by a price mismatch (the buyer's task waiting),
one cancelled, and a freight landed cost.

Runs after the sales step (the Shanghai warehouse, its two-step reception, the parts, the
suppliers and the replenishment rules). Deterministic (ctx.rng, rows in code order)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.demo.context import DemoContext
from xietong.finance.invoicing import invoice_post, invoice_update
from xietong.finance.models import Account, Journal, Tax
from xietong.inventory import pickings
from xietong.inventory.models import Picking, Warehouse
from xietong.party.models import Party
from xietong.product.models import Product
from xietong.product.services import product_update
from xietong.purchase import landed, matching, orders, receiving, requisitions, rfqs, sending
from xietong.purchase.common import purchase_settings
from xietong.purchase.configuration import supplier_price_set
from xietong.purchase.models import PurchaseOrder, Requisition

SIZES = {"small": 10, "medium": 30, "large": 100}
D = Decimal


def run(ctx: DemoContext) -> None:
    company = ctx.companies["main"]
    buyer, planner = ctx.users["buyer"], ctx.users["planner"]
    clerk, accountant = ctx.users["warehouse_clerk"], ctx.users["accountant"]
    rng = ctx.rng
    orders_n = SIZES[ctx.size]
    today = timezone.localdate()
    with company_scope(company):
        warehouse = Warehouse.unscoped.get(company=company, code="SH")
        settings = purchase_settings(company)
        settings.warehouse = warehouse
        settings.default_tax = Tax.unscoped.filter(company=company, code="VAT13-P").first()
        settings.landed_cost_account = Account.unscoped.filter(company=company,
                                                               code="1401").first()  # fmt: skip
        settings.save()
        parts = list(
            Product.unscoped.filter(
                company=company, active=True, type=Product.Type.STOCKABLE,
                supply=Product.Supply.BUY, tracking="none",
            ).order_by("sku")[:24]
        )  # fmt: skip
        vendors = list(
            Party.unscoped.filter(
                company=company, is_supplier=True, active=True, currency_id="CNY"
            ).order_by("code")[:8]
        )
        if len(parts) < 6 or len(vendors) < 3:
            ctx.log.append("purchase: not enough parts or suppliers")
            return
        for vendor in vendors:
            if not vendor.email:
                Party.unscoped.filter(pk=vendor.pk).update(
                    email=f"sales@{vendor.code.lower() or vendor.pk}.example.com"
                )
                vendor.refresh_from_db()
        # supplier prices: two or three suppliers a part, around its standard cost
        for n, part in enumerate(parts):
            cost = part.standard_cost or D(50)
            for k in range(2 + n % 2):
                vendor = vendors[(n + k * 3) % len(vendors)]
                factor = D(rng.choice([88, 92, 95, 97, 100, 104])) / 100
                supplier_price_set(
                    company=company, actor=buyer, supplier=vendor, product=part,
                    price=(cost * factor).quantize(D("0.01")),
                    lead_time_days=rng.choice([5, 7, 10, 14, 21]),
                )  # fmt: skip
                supplier_price_set(
                    company=company, actor=buyer, supplier=vendor, product=part,
                    price=(cost * factor * D("0.94")).quantize(D("0.01")), min_quantity=D(500),
                    lead_time_days=rng.choice([7, 10, 14]),
                )  # fmt: skip
        inspected = parts[1]
        product_update(product=inspected, actor=planner, inspection_required=True)

        # requisitions: from the replenishment rules, from people, one waiting for approval
        made = requisitions.requisitions_from_replenishment(company=company, actor=planner)
        for n in range(3):
            r = requisitions.requisition_create(
                company=company, actor=ctx.users["sales_rep"] if n == 0 else planner,
                lines=[{"product": parts[(n * 5 + k) % len(parts)],
                        "quantity": D(rng.choice([20, 50, 100])),
                        "reason": "样品与小批量 Samples and a small batch"} for k in range(2)],
            )  # fmt: skip
            if n < 2:
                requisitions.requisition_submit(requisition=r, actor=r.requester)
        big = requisitions.requisition_create(
            company=company, actor=planner, notes="新装配线 New assembly line",
            lines=[{"product": parts[4], "quantity": D(2000),
                    "reason": "新装配线备料 Stock for the new line"}],
        )  # fmt: skip
        requisitions.requisition_submit(requisition=big, actor=planner)
        executive = ctx.users["executive"]
        for r in [*made, *Requisition.unscoped.filter(company=company, requester=planner,
                                                      state=Requisition.State.TO_APPROVE)
                  .exclude(pk=big.pk)]:  # fmt: skip
            r.refresh_from_db()
            if r.state == Requisition.State.TO_APPROVE:
                requisitions.requisition_decide(requisition=r, actor=executive, approved=True,
                                                comment="同意 Approved")  # fmt: skip

        # an RFQ for the replenishment needs: three suppliers, two answers, one awarded
        open_lines = requisitions.open_lines(company=company)[:3]
        if open_lines:
            rfq = rfqs.rfq_create(company=company, actor=buyer, requisition_lines=open_lines,
                                  suppliers=vendors[:3])  # fmt: skip
            rfqs.rfq_send(rfq=rfq, actor=buyer)
            invitations = list(rfq.suppliers.order_by("pk"))
            for invitation, factor in zip(invitations[:2], (D("0.96"), D("1.01")), strict=True):
                rfqs.bids_record(
                    invitation=invitation, actor=buyer, reference=f"Q-{invitation.pk:04d}",
                    bids=[{"line": line, "unit_price": (line.product.standard_cost * factor
                                                        or D(10)).quantize(D("0.01")),
                           "lead_time_days": rng.choice([6, 9, 12])}
                          for line in rfq.lines.select_related("product")],
                )  # fmt: skip
        second = rfqs.rfq_create(
            company=company, actor=buyer, suppliers=vendors[3:6],
            lines=[{"product": parts[7], "quantity": D(400)},
                   {"product": parts[8], "quantity": D(300)}],
        )  # fmt: skip
        rfqs.rfq_send(rfq=second, actor=buyer)
        for invitation, factor in zip(second.suppliers.order_by("pk")[:2], (D("0.93"), D("0.97")),
                                      strict=True):  # fmt: skip
            rfqs.bids_record(
                invitation=invitation, actor=buyer,
                bids=[{"line": line, "unit_price": ((line.product.standard_cost or D(10))
                                                    * factor).quantize(D("0.01")),
                       "lead_time_days": 8} for line in second.lines.select_related("product")],
            )  # fmt: skip
        comparison = rfqs.rfq_comparison(rfq=second)
        awards = []
        for compared in comparison:
            bids = compared.bids
            if len(bids) >= 2:  # split: 60 % to the recommended supplier, 40 % to the other
                first = compared.recommended or bids[0]
                other = next(b for b in bids if b is not first)
                awards += [(first.bid, (compared.line.quantity * D("0.6")).quantize(D(1))),
                           (other.bid, (compared.line.quantity * D("0.4")).quantize(D(1)))]  # fmt: skip
        awarded = rfqs.rfq_award(rfq=second, actor=buyer, awards=awards) if awards else []
        for order in awarded:
            orders.order_submit(order=order, actor=buyer)

        # orders through the whole flow
        bank = Journal.unscoped.filter(company=company, kind="bank", currency__isnull=True).first()
        late_day = today - dt.timedelta(days=3)
        for n in range(orders_n):
            vendor = vendors[n % len(vendors)]
            chosen = [parts[(n * 3 + k) % len(parts)] for k in range(1 + n % 3)]
            if n == 4:  # received with a rejection at inspection
                chosen = [inspected]
            order = orders.order_create(
                company=company, actor=buyer, party=vendor,
                date=today - dt.timedelta(days=20 - n % 10),
                lines=[{"product": p, "quantity": D(rng.choice([10, 20, 40]) * (5 if n == 9 else 1))}
                       for p in chosen],
            )  # fmt: skip
            stage = n % 8
            if stage == 0:
                continue  # a draft
            if stage == 7:
                orders.order_cancel(order=order, actor=buyer, reason="需求取消 Need withdrawn")
                continue
            orders.order_submit(order=order, actor=buyer)
            order.refresh_from_db()
            if order.state != PurchaseOrder.State.APPROVED:
                continue
            try:
                sending.order_send(order=order, actor=buyer)
            except (ValidationError, OSError) as exc:
                ctx.log.append(f"purchase: {order.number} not sent ({exc})")
            if stage == 1:
                continue  # sent, waiting for the supplier's confirmation
            lines = orders.order_lines(order)
            promised = {line.pk: late_day if stage == 2 else line.need_date for line in lines}
            orders.order_confirm(order=order, actor=buyer, promised=promised,
                                 supplier_reference=f"SC-{order.pk:05d}")  # fmt: skip
            if stage == 2:
                continue  # confirmed, and its goods are late
            received = []
            for line in lines:
                arrived = line.quantity if stage != 3 else (line.quantity / 2).quantize(D(1))
                row = {"line": line, "quantity": arrived}
                if line.product.inspection_required:
                    row.update(rejected=D(5), reason="外壳裂纹 Cracked housing")
                received.append(row)
            receipt = receiving.order_receive(order=order, actor=clerk, lines=received)
            _store(order, clerk)
            if stage in (3, 4):
                continue  # partly received; received, to bill
            invoice = matching.invoice_from_orders(company=company, actor=accountant,
                                                   orders=[order],
                                                   reference=f"FP{order.pk:08d}")  # fmt: skip
            if stage == 6:  # the supplier billed 8 % above the order: blocked, the buyer decides
                first = invoice.lines.order_by("sequence", "pk").first()
                invoice_update(
                    invoice=invoice, actor=accountant,
                    lines=[{"product": line.product, "account": line.account,
                            "quantity": line.quantity, "taxes": list(line.taxes.all()),
                            "unit_price": (line.unit_price * D("1.08")).quantize(D("0.01"))
                            if line.pk == first.pk else line.unit_price}
                           for line in invoice.lines.order_by("sequence", "pk")],
                )  # fmt: skip
                matching.invoice_match(invoice=invoice, actor=accountant)
                continue
            matching.invoice_match(invoice=invoice, actor=accountant)
            invoice_post(invoice=invoice, actor=accountant)
            if n % 2 == 1:
                landed_cost = landed.landed_cost_create(
                    company=company, actor=accountant, pickings=[receipt],
                    amount=(order.amount_untaxed * D("0.04")).quantize(D("0.01")),
                    description="海运及报关费 Freight and customs", split="value",
                )  # fmt: skip
                landed.landed_cost_post(landed_cost=landed_cost, actor=accountant)
        if bank is not None:
            paid = matching.supplier_payment_run(
                company=company, journal=bank, date=today, actor=accountant,
                due_by=today + dt.timedelta(days=90),
            )  # fmt: skip
            ctx.log.append(f"purchase: {len(paid)} supplier invoices paid")
    ctx.log.append(
        f"purchase: {orders_n} orders, {len(made) + 4} requisitions, 2 RFQs, "
        f"{len(awarded)} awarded orders"
    )


def _store(order: PurchaseOrder, clerk: object) -> None:
    """Put away what the receipt brought into the input area (the second reception step)."""
    for picking in orders.order_receipts(order):
        if picking.state == Picking.State.READY and picking.kind == Picking.Kind.INTERNAL:
            pickings.picking_done(picking=picking, actor=clerk)
