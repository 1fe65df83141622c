"""Sales invariants as assertion helpers, for the sales tests and the sales benchmark.

`sales_problems(company)` lists what is wrong, `assert_sales_sound(company)` asserts the list
is empty:

- an order line's `qty_delivered` / `qty_returned` equal its done moves (source
  "sales.orderline", the line's id) to / from a customer location, summed in the product's stock
  unit and converted to the line's unit;
- an order line's `qty_invoiced` equals Σ of its `InvoicedLine` quantities on invoices that are
  not cancelled (credit notes count negative: their links are);
- a document's untaxed, tax and total amounts equal Σ of its lines' (orders and quotations);
- a done order whose lines returned nothing is billed exactly: Σ totals of its posted customer
  invoices − Σ totals of its posted credit notes (source "sales.order", the order's id) = its
  total (down payments are billed and deducted on the same source, so they cancel out).

The stored quantities come from the services; these checks recompute them from the moves and
invoice links with a fixed number of queries (SQL sums; SQLite sums decimals as floats, so
values are compared after quantizing to the 6 decimals of the quantity columns and the 4 of the
amounts).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from xietong.finance.models import Invoice
from xietong.inventory.models import Location, Move
from xietong.product.selectors import product_convert
from xietong.sales.models import (
    InvoicedLine,
    Quotation,
    QuotationLine,
    SalesOrder,
    SalesOrderLine,
)

LINE_SOURCE = "sales.orderline"
ORDER_SOURCE = "sales.order"
SIX = Decimal("0.000001")
FOUR = Decimal("0.0001")
ZERO = Decimal(0)
CUSTOMER = Location.Usage.CUSTOMER


def _q(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(SIX)


def _a(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(FOUR)


def _moved(company_id: int) -> dict[int, dict[str, Decimal]]:
    """Σ done moves of order lines in the stock unit: {line id: {"out": …, "back": …}}."""
    moved: dict[int, dict[str, Decimal]] = defaultdict(lambda: {"out": ZERO, "back": ZERO})
    done = Move.unscoped.filter(company_id=company_id, source_type=LINE_SOURCE,
                                state=Move.State.DONE)  # fmt: skip
    for key, usage in (("out", "to_location__usage"), ("back", "from_location__usage")):
        rows = (
            done.filter(**{usage: CUSTOMER})
            .values("source_id")
            .annotate(total=Sum("quantity_base"))
            .order_by()
            .values_list("source_id", "total")
        )
        for line_id, total in rows:
            moved[line_id][key] += Decimal(total or 0)
    return moved


def _invoiced(company_id: int) -> dict[int, Decimal]:
    rows = (
        InvoicedLine.objects.filter(order_line__order__company_id=company_id)
        .exclude(invoice_line__invoice__state=Invoice.State.CANCELLED)
        .values("order_line_id")
        .annotate(total=Sum("quantity"))
        .order_by()
        .values_list("order_line_id", "total")
    )
    return {line_id: _q(total) for line_id, total in rows}


def _line_sums(model: Any, link: str, company_id: int) -> dict[int, tuple[Decimal, ...]]:
    rows = (
        model.objects.filter(**{f"{link}__company_id": company_id})
        .values(f"{link}_id")
        .annotate(u=Sum("amount_untaxed"), t=Sum("amount_tax"), g=Sum("amount_total"))
        .order_by()
        .values_list(f"{link}_id", "u", "t", "g")
    )
    return {pk: (_a(u), _a(t), _a(g)) for pk, u, t, g in rows}


def _billed(company_id: int) -> dict[int, Decimal]:
    """Σ posted customer invoices − Σ posted customer credit notes per order id."""
    billed: dict[int, Decimal] = defaultdict(lambda: ZERO)
    rows = (
        Invoice.unscoped.filter(
            company_id=company_id,
            source_type=ORDER_SOURCE,
            state=Invoice.State.POSTED,
            kind__in=[Invoice.Kind.CUSTOMER_INVOICE, Invoice.Kind.CUSTOMER_CREDIT],
        )  # fmt: skip
        .values("source_id", "kind")
        .annotate(total=Sum("amount_total"))
        .order_by()
        .values_list("source_id", "kind", "total")
    )
    for order_id, kind, total in rows:
        sign = -1 if kind == Invoice.Kind.CUSTOMER_CREDIT else 1
        billed[order_id] += sign * _a(total)
    return billed


def sales_problems(company: Any) -> list[str]:
    """What breaks the sales invariants in `company` (see the module)."""
    company_id = getattr(company, "pk", company)
    problems: list[str] = []
    moved = _moved(company_id)
    invoiced = _invoiced(company_id)
    lines = SalesOrderLine.objects.filter(order__company_id=company_id).select_related(
        "uom", "product__uom"
    )
    returned_orders: set[int] = set()
    for line in lines.iterator(chunk_size=2000):
        bucket = moved.get(line.pk, {"out": ZERO, "back": ZERO})
        delivered, returned = (
            _q(product_convert(product=line.product, quantity=bucket[key],
                               from_uom=line.product.uom, to_uom=line.uom, round_result=False))
            for key in ("out", "back")
        )  # fmt: skip
        if _q(line.qty_delivered) != delivered:
            problems.append(
                f"order line {line.pk} (order {line.order_id}): delivered {_q(line.qty_delivered)}"
                f" but its done moves to customers give {delivered}"
            )
        if _q(line.qty_returned) != returned:
            problems.append(
                f"order line {line.pk} (order {line.order_id}): returned {_q(line.qty_returned)}"
                f" but its done moves from customers give {returned}"
            )
        if _q(line.qty_invoiced) != invoiced.get(line.pk, _q(0)):
            problems.append(
                f"order line {line.pk} (order {line.order_id}): invoiced {_q(line.qty_invoiced)}"
                f" but its invoice links (not cancelled) give {invoiced.get(line.pk, _q(0))}"
            )
        if returned or _q(line.qty_returned):
            returned_orders.add(line.order_id)

    billed = _billed(company_id)
    for model, line_model, link in (
        (SalesOrder, SalesOrderLine, "order"),
        (Quotation, QuotationLine, "quotation"),
    ):
        sums = _line_sums(line_model, link, company_id)
        documents = model.unscoped.filter(company_id=company_id).values_list(
            "pk", "number", "state", "amount_untaxed", "amount_tax", "amount_total"
        )
        for pk, number, state, untaxed, tax, total in documents.iterator(chunk_size=2000):
            header = (_a(untaxed), _a(tax), _a(total))
            expected = sums.get(pk, (_a(0), _a(0), _a(0)))
            if header != expected:
                problems.append(
                    f"{link} {number}: amounts (untaxed, tax, total) {header} but its lines sum "
                    f"to {expected}"
                )
            if (
                model is SalesOrder
                and state == SalesOrder.State.DONE
                and pk not in returned_orders
                and billed.get(pk, _a(0)) != _a(total)
            ):
                problems.append(
                    f"order {number} is done with total {_a(total)} but its posted invoices less "
                    f"credit notes come to {billed.get(pk, _a(0))}"
                )
    return problems


def assert_sales_sound(company: Any) -> None:
    problems = sales_problems(company)
    assert problems == [], f"{len(problems)} problems:\n" + "\n".join(problems[:50])
