"""The incremental ETL from the operational database into the warehouse (`warehouse.py`).

Each fact has a source document (an order, an invoice, a journal entry, a stock move…). A run
finds the documents changed since its watermarks and replaces their facts: it deletes every
fact of those documents and inserts their current qualifying lines, so that an order cancelled
later, a draft deleted or a credit note added all correct the warehouse, and running it twice
changes nothing. What "changed" means per source:

- documents the audit log (django-auditlog, `core.AuditEntry`) recorded since the last audit
  entry seen: the header models of orders, invoices, purchase orders, production orders and
  journal entries are audited, and every state change (confirm, cancel, post, pay) saves them;
- lines with an id above the largest id seen (new lines of any document);
- stock moves done, and journal entries posted, since the previous run's start; orders whose
  deliveries were done and invoices reconciled since then (both change by bulk updates, which
  the audit log does not see).

The facts added in schema 3 read crm and finance through their public selectors: service
tickets (`fact_ticket`: audited, and `updated_at` since the last run), campaign recipients
(`fact_campaign_touch`: sent, opened or clicked since the last run, and those of campaigns
audited since — a deleted campaign's recipients are deleted with it; whether the customer then
ordered, `converted`, is recomputed over the whole table at the end of every run, since a later
order changes it), the allocations of customer payments to customer invoices (`fact_payment`,
replaced per invoice: invoices audited or reconciled since, and the invoices of payments
audited since — a cancelled payment's allocations are deleted, so they are found in the
warehouse) and the sales targets (`fact_sales_target`: audited, and those of teams audited
since — a renamed or deleted team). The order lines' discounts
(`fact_sales_discount`) are fed with the order lines, from the same changed orders.

The order lines, by far the largest source, are read once for `fact_sales_line` and
`fact_sales_discount` in one SQL query per chunk through the DB cursor (the lines, then their
orders' headers), into Arrow columns, and converted in DuckDB: the rates of the chunk's distinct
(company, currency, date) are looked up once and joined; amounts stay exact decimals rounded
as `q4` rounds. The other facts are read through `values()` and converted row by row.

Dimensions are small and read whole on every run. Amounts are converted to the company's
currency at the document's rate (the stored rate of an invoice, else the company's rate of the
document's date); credit notes are negative. The full rebuild (`etl_run(full=True)`) empties the
star and loads everything in chunks of `CHUNK` rows (`LOAD_CHUNK` order lines). The monthly
aggregate `agg_sales_month` is rebuilt whole by a full load; an incremental run recomputes
only the (company, month) groups of the order lines it deleted or wrote and of the lines whose
customer or product changed region, group or category. Reads use the `unscoped` managers: the
warehouse holds every company of the database, and the query layer scopes each question by the
asker's companies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection
from django.db.models import Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from xietong.analytics import warehouse
from xietong.analytics.customers_promotion import CONVERSION_DAYS  # one definition of converted
from xietong.core.models import AuditEntry, Company, Currency, ExchangeRate, User
from xietong.crm import campaign_selectors
from xietong.crm import selectors as crm_selectors
from xietong.finance import selectors as finance_selectors
from xietong.finance.models import Entry, Invoice, InvoiceLine, Match
from xietong.finance.models import Line as GlLine
from xietong.inventory.models import Location, Move, ValuationLayer
from xietong.inventory.models import Warehouse as StockWarehouse
from xietong.manufacturing.models import ProductionOrder
from xietong.party.models import Address, Party
from xietong.product.models import Product
from xietong.purchase.models import PurchaseOrder, PurchaseOrderLine
from xietong.sales.models import SalesOrder, SalesOrderLine

CHUNK = 50_000
LOAD_CHUNK = 200_000  # lines of a vectorised fact (`Fact.load`) read per query in a full load
DOC_BATCH = 10_000  # its documents per query in an incremental load (SQLite: 32,766 parameters)
AGGREGATED = "fact_sales_line"  # the fact `agg_sales_month` sums
# the dimensions' columns `agg_sales_month` groups by: a change re-aggregates the months of
# their facts
AGGREGATE_DIMENSIONS = {"customer_key": ("dim_customer", "region, country, customer_group"),
                        "product_key": ("dim_product", "category, top_category")}  # fmt: skip
FOUR = Decimal("0.0001")
ZERO = Decimal(0)
DEC = pa.decimal128(18, 4)
SALES_STATES = (SalesOrder.State.CONFIRMED, SalesOrder.State.DONE)
PURCHASE_STATES = (PurchaseOrder.State.APPROVED, PurchaseOrder.State.SENT,
                   PurchaseOrder.State.CONFIRMED, PurchaseOrder.State.DONE)  # fmt: skip
CUSTOMER_KINDS = (Invoice.Kind.CUSTOMER_INVOICE, Invoice.Kind.CUSTOMER_CREDIT)
INTERNAL = Location.Usage.INTERNAL
ORDER_LINE_SOURCE = "sales.orderline"  # Move.source_type of a sales order line's moves
SAFETY = dt.timedelta(minutes=5)  # overlap of the time watermarks (re-reading is harmless)
HOUR = Decimal(3600)


def q4(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(FOUR, rounding=ROUND_HALF_UP)


class Rates:
    """Units of the company currency for one unit of a currency on a date, cached."""

    def __init__(self) -> None:
        self.base = dict(Company.objects.values_list("pk", "base_currency_id"))
        self._cache: dict[tuple[int, str, dt.date], Decimal] = {}
        self._table: dict[tuple[int, str], list[tuple[dt.date, Decimal]]] = {}
        for company_id, currency, date, rate in ExchangeRate.unscoped.order_by(
            "company_id", "currency_id", "date"
        ).values_list("company_id", "currency_id", "date", "rate"):
            self._table.setdefault((company_id, currency), []).append((date, rate))

    def rate(self, company_id: int, currency: str, date: dt.date, stored: Any = None) -> Decimal:
        if stored:
            return Decimal(stored)
        if currency == self.base.get(company_id):
            return Decimal(1)
        key = (company_id, currency, date)
        if key not in self._cache:
            found = Decimal(
                1
            )  # no rate on file: the amount as it is (the operational rule refuses)
            for day, rate in self._table.get((company_id, currency), []):
                if day > date:
                    break
                found = rate
            self._cache[key] = found
        return self._cache[key]


@dataclass(frozen=True)
class Fact:
    """How one fact table is fed: its source lines, the document they belong to, the query of
    the changed documents, and the row a source line becomes."""

    table: str
    doc_column: str  # the fact's column holding the source document's id
    doc_field: str  # the same, as a lookup on `lines()`
    lines: Callable[[], QuerySet]  # the qualifying source lines
    fields: tuple[str, ...]
    row: Callable[[dict[str, Any], Rates], tuple] | None  # None: `load` converts them
    # the audited header model (or its "app_label.model") whose entries mark documents changed
    audited: type | str | None
    # the model (or a selector of all its rows) whose ids are watched for new lines
    line_model: type | Callable[[], QuerySet] | None
    line_doc_field: str = ""  # the document id on line_model
    time_changed: Callable[[dt.datetime], Iterable[int]] | None = None  # doc ids changed since
    # another audited model ("app_label.model") and the fact's column holding its id: the
    # documents of the facts naming a changed one are loaded again
    also_audited: tuple[str, str] | None = None
    # vectorised instead of `row`: reads the lines of a queryset of `lines()` (the first `limit`
    # if given) and writes their facts into `table` and the tables of `feeds`; returns the
    # number of lines and the largest id read
    load: Callable[[Any, Rates, QuerySet, int | None], tuple[int, int]] | None = None
    feeds: tuple[str, ...] = ()  # other fact tables `load` fills from the same lines


def _local_date(moment: dt.datetime | None) -> dt.date | None:
    return timezone.localtime(moment).date() if moment else None


def _ticket_row(r: dict[str, Any], rates: Rates) -> tuple:
    breached = (r["sla_state"] == "breached" or r["resolution_met"] is False
                or r["first_response_met"] is False)  # fmt: skip
    hours = None
    if r["resolved_at"]:
        hours = q4(Decimal((r["resolved_at"] - r["created_at"]).total_seconds()) / HOUR)
    return (r["id"], r["company_id"], _local_date(r["created_at"]),
            _local_date(r["closed_at"] or r["resolved_at"]), r["party_id"], r["product_id"],
            r["priority"], r["channel"], r["state"], 1, int(breached),
            int(hours is not None), hours)  # fmt: skip


def _touch_row(r: dict[str, Any], rates: Rates) -> tuple:
    control = r["status"] == "control"
    opened, clicked = r["opened_at"] is not None, r["clicked_at"] is not None
    return (r["id"], r["campaign_id"], r["company_id"],
            _local_date(r["created_at"] if control else r["sent_at"]), r["party_id"],
            r["campaign__channel"], "control" if control else "treated", int(not control),
            int(control), int(opened), int(clicked), int(opened or clicked), 0)  # fmt: skip


def _payment_row(r: dict[str, Any], rates: Rates) -> tuple:
    paid = r["credit_line__date"]
    due = (r["debit_line__due_date"] or r["debit_line__entry__invoice__due_date"]
           or r["debit_line__entry__invoice__date"])  # fmt: skip
    late = (paid - due).days
    amount = q4(r["amount"])
    return (r["id"], r["debit_line__entry__invoice"], r["credit_line__entry__payment"],
            r["company_id"], paid, r["debit_line__entry__invoice__date"], due,
            r["debit_line__entry__invoice__party_id"], amount, late,
            q4(amount * max(late, 0)), amount if late <= 0 else ZERO)  # fmt: skip


def _target_row(r: dict[str, Any], rates: Rates) -> tuple:
    return (r["id"], r["company_id"], r["period_start"], r["period_end"], r["team_id"],
            r["team__name"], r["user_id"], q4(r["amount"]))  # fmt: skip


def _invoice_row(r: dict[str, Any], rates: Rates) -> tuple:
    sign = -1 if r["invoice__kind"] == Invoice.Kind.CUSTOMER_CREDIT else 1
    rate = rates.rate(r["invoice__company_id"], r["invoice__currency_id"], r["invoice__date"],
                      r["invoice__rate"])  # fmt: skip
    return (r["id"], r["invoice_id"], r["invoice__company_id"], r["invoice__date"],
            r["invoice__kind"], r["invoice__party_id"], r["product_id"], r["invoice__currency_id"],
            q4(sign * r["quantity"]), q4(sign * r["amount_untaxed"] * rate))  # fmt: skip


def _receivable_row(r: dict[str, Any], rates: Rates) -> tuple:
    sign = -1 if r["kind"] == Invoice.Kind.CUSTOMER_CREDIT else 1
    rate = rates.rate(r["company_id"], r["currency_id"], r["date"], r["rate"])
    return (r["id"], r["company_id"], r["date"], r["due_date"], r["party_id"], r["kind"],
            q4(sign * r["amount_total"] * rate), q4(sign * r["amount_residual"] * rate))  # fmt: skip


def _signed_move(r: dict[str, Any]) -> tuple[int, int | None]:
    incoming = r["to_location__usage"] == INTERNAL
    outgoing = r["from_location__usage"] == INTERNAL
    if incoming and not outgoing:
        return 1, r["to_location__warehouse_id"]
    if outgoing and not incoming:
        return -1, r["from_location__warehouse_id"]
    return 0, r["to_location__warehouse_id"] or r["from_location__warehouse_id"]


def _move_date(r: dict[str, Any]) -> dt.date:
    if r["effective_date"]:
        return r["effective_date"]
    return timezone.localtime(r["done_at"]).date() if r["done_at"] else r["planned_date"]


def _stock_row(r: dict[str, Any], rates: Rates) -> tuple:
    sign, warehouse_id = _signed_move(r)
    return (r["id"], r["company_id"], _move_date(r), r["product_id"], warehouse_id,
            r["from_location__usage"], r["to_location__usage"],
            q4(sign * r["quantity_base"]), q4(r["layer_value"] or 0))  # fmt: skip


def _delivery_row(r: dict[str, Any], rates: Rates) -> tuple:
    sign = 1 if r["to_location__usage"] == Location.Usage.CUSTOMER else -1  # a return: negative
    warehouse_id = r["from_location__warehouse_id"] or r["to_location__warehouse_id"]
    return (r["id"], r["company_id"], _move_date(r), r["picking__party_id"], r["product_id"],
            warehouse_id, q4(sign * r["quantity_base"]), q4(-(r["layer_value"] or 0)))  # fmt: skip


def _purchase_row(r: dict[str, Any], rates: Rates) -> tuple:
    rate = rates.rate(r["order__company_id"], r["order__currency_id"], r["order__date"])
    return (r["id"], r["order_id"], r["order__company_id"], r["order__date"], r["order__party_id"],
            r["product_id"], r["order__warehouse_id"], r["order__currency_id"], r["order__state"],
            q4(r["quantity"]), q4(r["amount_untaxed"] * rate), q4(r["qty_received"]))  # fmt: skip


def _production_row(r: dict[str, Any], rates: Rates) -> tuple:
    cost = r["material_cost"] + r["labour_cost"] + r["overhead_cost"]
    return (r["id"], r["company_id"], r["due_date"], r["product_id"], r["warehouse_id"],
            r["state"], q4(r["quantity"]), q4(r["produced_qty"]), q4(cost))  # fmt: skip


def _gl_row(r: dict[str, Any], rates: Rates) -> tuple:
    return (r["id"], r["entry_id"], r["company_id"], r["date"], r["account__code"],
            r["account__type"], r["party_id"], r["product_id"], q4(r["debit"]), q4(r["credit"]),
            q4(r["debit"] - r["credit"]))  # fmt: skip


MOVE_FIELDS = ("id", "company_id", "product_id", "quantity_base", "layer_value", "effective_date",
               "done_at", "planned_date", "from_location__usage", "to_location__usage",
               "from_location__warehouse_id", "to_location__warehouse_id")  # fmt: skip


def _done_moves() -> QuerySet:
    """The done moves with `layer_value`: the value each added to (> 0) or took from (< 0) the
    stock, the sum of its valuation layers (a done move's own `value` is never written; later
    adjustments such as landed costs add layers to it)."""
    layers = (ValuationLayer.unscoped.filter(move_id=OuterRef("pk")).order_by()
              .values("move_id").annotate(total=Sum("value")).values("total"))  # fmt: skip
    return Move.unscoped.filter(state=Move.State.DONE).annotate(layer_value=Subquery(layers))


def _moves_done_since(since: dt.datetime) -> QuerySet:
    """Moves done since, or valued again since (a layer added to an earlier move)."""
    return (Move.unscoped.filter(Q(done_at__gte=since) | Q(layers__created_at__gte=since))
            .values_list("id", flat=True).distinct())  # fmt: skip


def _orders_shipped_since(since: dt.datetime) -> QuerySet:
    """Orders whose deliveries were done since: shipping everything makes an order done with a
    bulk update the audit log does not see."""
    lines = Move.unscoped.filter(done_at__gte=since, source_type=ORDER_LINE_SOURCE)
    return SalesOrderLine.objects.filter(id__in=lines.values("source_id")).values_list(
        "order_id", flat=True
    )


def _invoices_matched_since(since: dt.datetime) -> QuerySet:
    """Invoices reconciled since (payments, credit notes): their amount due is bulk-updated."""
    matches = Match.unscoped.filter(created_at__gte=since)
    entries = {*matches.values_list("debit_line__entry_id", flat=True),
               *matches.values_list("credit_line__entry_id", flat=True)}  # fmt: skip
    return Invoice.unscoped.filter(entry_id__in=entries).values_list("id", flat=True)


def _entries_posted_since(since: dt.datetime) -> QuerySet:
    return Entry.unscoped.filter(posted_at__gte=since).values_list("id", flat=True)


def _tickets_updated_since(since: dt.datetime) -> QuerySet:
    return crm_selectors.warehouse_tickets().filter(updated_at__gte=since).values_list(
        "id", flat=True)  # fmt: skip


def _recipients_changed_since(since: dt.datetime) -> QuerySet:
    """Recipients sent, opened or clicked since (bulk updates the audit log does not see)."""
    return (
        campaign_selectors.warehouse_recipients()
        .filter(Q(sent_at__gte=since) | Q(opened_at__gte=since) | Q(clicked_at__gte=since))
        .values_list("id", flat=True)
    )


def _invoices_allocated_since(since: dt.datetime) -> list[int]:
    return [i for i in _invoices_matched_since(since) if i is not None]


# the order lines and, once per order, their headers (read apart: fewer values to convert)
SALES_LINE_FIELDS = ("id", "order_id", "product_id", "quantity", "amount_untaxed", "list_price",
                     "unit_price", "discount")  # fmt: skip
SALES_ORDER_FIELDS = ("id", "company_id", "date", "party_id", "salesperson_id", "warehouse_id",
                      "currency_id", "state")  # fmt: skip


def _decimal(model: type, name: str) -> str:
    """The DuckDB type a raw decimal column of `model.name` is read as: its scale, the widest
    precision (DuckDB's products keep the larger operand's width)."""
    return f"DECIMAL(38,{model._meta.get_field(name).decimal_places})"


def _sales_sql() -> str:
    """The order lines (`_raw`) with their order (`_orders`), product (its standard cost, as
    loaded into `dim_product` by this run) and rate (`_rates`), typed: the values of the two
    facts are computed from it exactly as `q4` would from the Decimals — DuckDB's decimal
    arithmetic is exact and its ROUND rounds half away from zero (ROUND_HALF_UP)."""
    line = SalesOrderLine
    return f"""
        SELECT r.id AS line_id, r.order_id, o.company_id, CAST(o.date AS DATE) AS date,
               o.party_id AS customer_key, r.product_id AS product_key,
               o.salesperson_id AS salesperson_key, o.warehouse_id AS warehouse_key,
               o.currency_id AS currency, o.state,
               CAST(r.quantity AS {_decimal(line, "quantity")}) AS quantity,
               CAST(r.amount_untaxed AS {_decimal(line, "amount_untaxed")}) AS amount,
               CAST(p.unit_cost AS {_decimal(Product, "standard_cost")}) AS unit_cost,
               CAST(coalesce(r.list_price, 0) AS {_decimal(line, "list_price")}) AS list_price,
               CAST(r.unit_price AS {_decimal(line, "unit_price")}) AS unit_price,
               CAST(r.discount AS {_decimal(line, "discount")}) AS discount,
               coalesce(x.rate, 1) AS rate
        FROM _raw r
        JOIN _orders o ON o.id = r.order_id
        LEFT JOIN dim_product p ON p.product_key = r.product_id
        LEFT JOIN _rates x ON x.company_id = o.company_id
            AND x.currency = o.currency_id AND x.date = CAST(o.date AS DATE)"""  # noqa: S608


# `off`: what the line's discount and a price below the list price took off, at the order's
# currency (gross − discount is the line's net amount before rounding); its product by a rate
# has 28 decimals, past DuckDB's 38 digits from 10^10: such (rare) amounts are first rounded
# to 12 decimals
SALES_FACTS_SQL = """
    CREATE OR REPLACE TEMP TABLE _sales AS
    SELECT *, round(amount * rate, 4) AS revenue,
           CASE WHEN abs(CAST(off AS DOUBLE)) * CAST(rate AS DOUBLE) < 1e9
                THEN round(off * rate, 4)
                ELSE round(CAST(off AS DECIMAL(38,12)) * rate, 4) END AS off_rated
    FROM (SELECT *, quantity * (greatest(list_price, unit_price)
                                - unit_price * (100 - discount) * CAST(0.01 AS DECIMAL(3,2))) AS off
          FROM ({lines}))"""
SALES_LINE_INSERT = """
    INSERT OR REPLACE INTO fact_sales_line
    SELECT line_id, order_id, company_id, date, customer_key, product_key, salesperson_key,
           warehouse_key, currency, state, CAST(round(quantity, 4) AS DECIMAL(18,4)),
           CAST(revenue AS DECIMAL(18,4)), CAST(round(quantity * unit_cost, 4) AS DECIMAL(18,4))
    FROM _sales"""
SALES_DISCOUNT_INSERT = """
    INSERT OR REPLACE INTO fact_sales_discount
    SELECT line_id, order_id, company_id, date, customer_key, product_key, salesperson_key,
           warehouse_key, currency, CAST(revenue + off_rated AS DECIMAL(18,4)),
           CAST(off_rated AS DECIMAL(18,4))
    FROM _sales"""


def _rates_register(con: Any, rates: Rates, keys: str) -> None:
    """Register `_rates`: the rate of each distinct (company, currency, date) of `keys` (a
    query over the registered tables), looked up once each."""
    found = [(company, currency, date, rates.rate(company, currency, date))
             for company, currency, date in con.execute(keys).fetchall()]  # fmt: skip
    scale = ExchangeRate._meta.get_field("rate").decimal_places
    con.register("_rates", pa.table({
        "company_id": pa.array([r[0] for r in found], pa.int64()),
        "currency": pa.array([r[1] for r in found], pa.string()),
        "date": pa.array([r[2] for r in found], pa.date32()),
        "rate": pa.array([r[3] for r in found], pa.decimal128(38, scale)),
    }))  # fmt: skip


def _sales_load(con: Any, rates: Rates, lines: QuerySet, limit: int | None) -> tuple[int, int]:
    """`fact_sales_line` and `fact_sales_discount` from the same order lines (`lines`, the
    first `limit` if given; read once), converted to the company's currency at the rate of the
    order's date. Returns the number of lines and the largest line id read."""
    raw = _read(lines, SALES_LINE_FIELDS, limit)
    if not raw.num_rows:
        return 0, 0
    if limit:  # a chunk of lines by increasing id: the orders of that id range
        ids = raw["id"]
        lines = SalesOrderLine.objects.filter(id__gte=ids[0].as_py(),
                                              id__lte=ids[raw.num_rows - 1].as_py())  # fmt: skip
    orders = SalesOrder.unscoped.filter(pk__in=lines.values("order_id"), state__in=SALES_STATES)
    con.register("_raw", raw)
    con.register("_orders", _read(orders, SALES_ORDER_FIELDS))
    try:
        _rates_register(con, rates, "SELECT DISTINCT company_id, currency_id, "
                                    "CAST(date AS DATE) FROM _orders")  # fmt: skip
        con.execute(SALES_FACTS_SQL.format(lines=_sales_sql()))
        con.execute(SALES_LINE_INSERT)
        con.execute(SALES_DISCOUNT_INSERT)
        con.execute("DROP TABLE _sales")
    finally:
        con.unregister("_raw")
        con.unregister("_orders")
        con.unregister("_rates")
    return raw.num_rows, pc.max(raw["id"]).as_py()


FACTS: list[Fact] = [
    Fact("fact_sales_line", "order_id", "order_id",
         lambda: SalesOrderLine.objects.filter(order__state__in=SALES_STATES),
         SALES_LINE_FIELDS, None, SalesOrder, SalesOrderLine, "order_id", _orders_shipped_since,
         load=_sales_load, feeds=("fact_sales_discount",)),
    Fact("fact_ticket", "ticket_id", "id", crm_selectors.warehouse_tickets,
         ("id", "company_id", "created_at", "closed_at", "resolved_at", "party_id", "product_id",
          "priority", "channel", "state", "sla_state", "resolution_met", "first_response_met"),
         _ticket_row, "crm.ticket", crm_selectors.warehouse_tickets, "id",
         _tickets_updated_since),
    Fact("fact_campaign_touch", "recipient_id", "id", campaign_selectors.warehouse_recipients,
         ("id", "campaign_id", "company_id", "created_at", "sent_at", "party_id",
          "campaign__channel", "status", "opened_at", "clicked_at"),
         _touch_row, None, campaign_selectors.warehouse_recipients, "id",
         _recipients_changed_since, also_audited=("crm.campaign", "campaign_key")),
    Fact("fact_payment", "invoice_id", "debit_line__entry__invoice",
         finance_selectors.warehouse_payment_allocations,
         ("id", "company_id", "amount", "credit_line__date", "credit_line__entry__payment",
          "debit_line__due_date", "debit_line__entry__invoice",
          "debit_line__entry__invoice__date", "debit_line__entry__invoice__due_date",
          "debit_line__entry__invoice__party_id"),
         _payment_row, Invoice, finance_selectors.warehouse_payment_allocations,
         "debit_line__entry__invoice", _invoices_allocated_since,
         also_audited=("finance.payment", "payment_id")),
    Fact("fact_sales_target", "target_id", "id", crm_selectors.warehouse_sales_targets,
         ("id", "company_id", "period_start", "period_end", "team_id", "team__name", "user_id",
          "amount"),
         _target_row, "crm.salestarget", crm_selectors.warehouse_sales_targets, "id",
         also_audited=("crm.salesteam", "team_key")),
    Fact("fact_invoice_line", "invoice_id", "invoice_id",
         lambda: InvoiceLine.objects.filter(invoice__kind__in=CUSTOMER_KINDS,
                                            invoice__state=Invoice.State.POSTED),
         ("id", "invoice_id", "invoice__company_id", "invoice__date", "invoice__kind",
          "invoice__party_id", "product_id", "invoice__currency_id", "invoice__rate", "quantity",
          "amount_untaxed"),
         _invoice_row, Invoice, InvoiceLine, "invoice_id"),
    Fact("fact_receivable", "invoice_id", "id",
         lambda: Invoice.unscoped.filter(kind__in=CUSTOMER_KINDS, state=Invoice.State.POSTED),
         ("id", "company_id", "date", "due_date", "party_id", "kind", "currency_id", "rate",
          "amount_total", "amount_residual"),
         _receivable_row, Invoice, Invoice, "id", _invoices_matched_since),
    Fact("fact_delivery", "move_id", "id",
         lambda: _done_moves().filter(
             Q(to_location__usage=Location.Usage.CUSTOMER)
             | Q(from_location__usage=Location.Usage.CUSTOMER)),
         (*MOVE_FIELDS, "picking__party_id"),
         _delivery_row, None, Move, "id", _moves_done_since),
    Fact("fact_stock_move", "move_id", "id",
         _done_moves,
         MOVE_FIELDS, _stock_row, None, Move, "id", _moves_done_since),
    Fact("fact_purchase_line", "order_id", "order_id",
         lambda: PurchaseOrderLine.objects.filter(order__state__in=PURCHASE_STATES),
         ("id", "order_id", "order__company_id", "order__date", "order__party_id", "product_id",
          "order__warehouse_id", "order__currency_id", "order__state", "quantity",
          "amount_untaxed", "qty_received"),
         _purchase_row, PurchaseOrder, PurchaseOrderLine, "order_id"),
    Fact("fact_production", "order_id", "id",
         lambda: ProductionOrder.unscoped.exclude(
             state__in=(ProductionOrder.State.CANCELLED, ProductionOrder.State.DRAFT)),
         ("id", "company_id", "due_date", "product_id", "warehouse_id", "state", "quantity",
          "produced_qty", "material_cost", "labour_cost", "overhead_cost"),
         _production_row, ProductionOrder, ProductionOrder, "id"),
    Fact("fact_gl_line", "entry_id", "entry_id",
         lambda: GlLine.unscoped.filter(entry__state=Entry.State.POSTED),
         ("id", "entry_id", "company_id", "date", "account__code", "account__type", "party_id",
          "product_id", "debit", "credit"),
         _gl_row, Entry, GlLine, "entry_id", _entries_posted_since),
]  # fmt: skip


def _columns(table: str) -> list[str]:
    return [part.split()[0] for part in warehouse.STAR_TABLES[table].split(", ")]


def _arrow(table: str, rows: list[tuple]) -> pa.Table:
    """`rows` as an Arrow table of the warehouse table's column types."""
    names = _columns(table)
    types = {
        "DATE": pa.date32(), "BIGINT": pa.int64(), "INTEGER": pa.int32(), "VARCHAR": pa.string(),
        "DECIMAL(18,4)": DEC, "DECIMAL(18,6)": pa.decimal128(18, 6),
    }  # fmt: skip
    declared = {}
    for part in warehouse.STAR_TABLES[table].split(", "):
        bits = part.split()
        declared[bits[0]] = types[bits[1]]
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    return pa.table({name: pa.array(list(col), type=declared[name])
                     for name, col in zip(names, columns, strict=True)})  # fmt: skip


def _insert(con: Any, table: str, rows: list[tuple]) -> None:
    if not rows:
        return
    batch = _arrow(table, rows)
    con.register("_batch", batch)
    try:
        con.execute(f"INSERT OR REPLACE INTO {table} SELECT * FROM _batch")  # noqa: S608
    finally:
        con.unregister("_batch")


def _chunked(queryset: QuerySet, fields: tuple[str, ...]) -> Iterator[list[dict[str, Any]]]:
    """The rows of `queryset` by increasing id, `CHUNK` at a time (keyset pagination)."""
    last = 0
    while True:
        chunk = list(queryset.filter(id__gt=last).order_by("id").values(*fields)[:CHUNK])
        if not chunk:
            return
        yield chunk
        last = chunk[-1]["id"]


def _read(queryset: QuerySet, fields: tuple[str, ...], limit: int | None = None) -> pa.Table:
    """The `fields` of the rows of `queryset` as an Arrow table of the raw database values, in
    one SQL query through the DB cursor: Django's SQL (joins, filters) without its conversion of
    every value (decimals arrive as floats on SQLite and Decimals on PostgreSQL, dates as text or
    dates; the loader casts the columns). Columns are named after `fields`, "__" → "_"."""
    values = queryset.values_list(*fields)
    if limit:
        values = values[:limit]
    sql, params = values.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in fields]
    return pa.table({name.replace("__", "_"): pa.array(list(column))
                     for name, column in zip(fields, columns, strict=True)})  # fmt: skip


def _months_touch(con: Any, where: str, params: list[Any]) -> None:
    """Note the (company, month) groups of the aggregated facts matching `where`: their
    monthly aggregate is recomputed at the end of the run."""
    con.execute("INSERT INTO _touched SELECT DISTINCT company_id, strftime(date, '%Y-%m') "  # noqa: S608
                f"FROM {AGGREGATED} WHERE {where}", params)  # fmt: skip


def _dimensions_snapshot(con: Any) -> None:
    for key, (table, columns) in AGGREGATE_DIMENSIONS.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE _before_{table} AS "  # noqa: S608
                    f"SELECT {key}, {columns} FROM {table}")  # fmt: skip


def _dimensions_changes_touch(con: Any) -> None:
    """Touch the months of the facts whose customer or product changed region, group or
    category since `_dimensions_snapshot` (or appeared or disappeared)."""
    for key, (table, columns) in AGGREGATE_DIMENSIONS.items():
        now = f"SELECT {key}, {columns} FROM {table}"  # noqa: S608
        _months_touch(con, f"{key} IN (SELECT {key} FROM (({now} EXCEPT "  # noqa: S608
                      f"SELECT * FROM _before_{table}) UNION ALL (SELECT * FROM "
                      f"_before_{table} EXCEPT {now})))", [])  # fmt: skip


def _batches(ids: list[int], size: int = 2000) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _load_dimensions(con: Any) -> None:
    """Replace every dimension (they are small: products, parties, users, warehouses)."""
    rows = [(c.pk, c.name, c.base_currency_id) for c in Company.objects.all()]
    _replace(con, "dim_company", rows)
    _replace(con, "dim_currency", list(Currency.objects.values_list("code", "name")))
    _replace(con, "dim_product", [
        (p["id"], p["company_id"], p["sku"], p["name"], p["category__path"] or "—",
         (p["category__path"] or "—").split(" / ")[0], p["standard_cost"])
        for p in Product.unscoped.values("id", "company_id", "sku", "name", "category__path",
                                         "standard_cost")])  # fmt: skip
    regions = {}
    for a in Address.unscoped.filter(active=True).order_by("party_id", "-is_default", "kind", "pk"
            ).values("party_id", "region__name", "country__name"):  # fmt: skip
        regions.setdefault(a["party_id"], a["region__name"] or a["country__name"])
    users = {u.pk: str(u) for u in User.objects.all()}
    customers, suppliers = [], []
    for p in Party.unscoped.values("id", "company_id", "code", "name", "customer_group__name",
                                   "country__name", "salesperson_id", "is_supplier"):  # fmt: skip
        country = p["country__name"] or "—"
        customers.append((p["id"], p["company_id"], p["code"], p["name"],
                          p["customer_group__name"] or "—", regions.get(p["id"]) or country,
                          country, p["salesperson_id"], users.get(p["salesperson_id"], "—")))  # fmt: skip
        suppliers.append((p["id"], p["company_id"], p["code"], p["name"], country))
    _replace(con, "dim_customer", customers)
    _replace(con, "dim_supplier", suppliers)
    _replace(con, "dim_salesperson", list(users.items()))
    _replace(con, "dim_warehouse", list(
        StockWarehouse.unscoped.values_list("id", "company_id", "name")))  # fmt: skip
    _replace(con, "dim_campaign", list(campaign_selectors.warehouse_campaigns().values_list(
        "id", "company_id", "name", "channel")))  # fmt: skip


CONVERSION_SQL = """
    UPDATE fact_campaign_touch t SET converted = CASE WHEN EXISTS (
        SELECT 1 FROM fact_sales_line s
        WHERE s.customer_key = t.customer_key AND s.company_id = t.company_id
          AND s.date >= t.date AND s.date <= t.date + ?) THEN 1 ELSE 0 END"""


def _conversions_update(con: Any) -> None:
    """Whether each touch's customer ordered within CONVERSION_DAYS of it (an order placed,
    changed or cancelled later changes it: recomputed for every touch)."""
    con.execute(CONVERSION_SQL, [CONVERSION_DAYS])


def _replace(con: Any, table: str, rows: list[tuple]) -> None:
    con.execute(f"DELETE FROM {table}")  # noqa: S608
    _insert(con, table, rows)


def _load_dates(con: Any) -> None:
    dates = " UNION ".join(f"SELECT date FROM {fact}" for fact in warehouse.FACTS)  # noqa: S608
    con.execute(f"""
        INSERT INTO dim_date
        SELECT d, year(d), year(d) || '-Q' || quarter(d), strftime(d, '%Y-%m'),
               strftime(d, '%G-W%V'), strftime(d, '%Y-%m-%d')
        FROM (SELECT DISTINCT date AS d FROM ({dates}) WHERE date IS NOT NULL)
        WHERE d NOT IN (SELECT date FROM dim_date)""")  # noqa: S608


def _load_documents(con: Any, fact: Fact, rates: Rates, doc_ids: list[int]) -> int:
    """Replace the facts of `doc_ids` by their current qualifying lines."""
    loaded = 0
    for batch in _batches(doc_ids, DOC_BATCH if fact.load else 2000):
        where = f"{fact.doc_column} IN (SELECT UNNEST(?))"
        if fact.table == AGGREGATED:  # the months they were in
            _months_touch(con, where, [batch])
        for table in (fact.table, *fact.feeds):
            con.execute(f"DELETE FROM {table} WHERE {where}", [batch])  # noqa: S608
        lines = fact.lines().filter(**{f"{fact.doc_field}__in": batch})
        if fact.load:
            loaded += fact.load(con, rates, lines, None)[0]
        else:
            rows = [fact.row(r, rates) for r in lines.values(*fact.fields)]  # type: ignore[misc]
            _insert(con, fact.table, rows)
            loaded += len(rows)
        if fact.table == AGGREGATED:  # and those they are in now
            _months_touch(con, where, [batch])
    return loaded


def _load_all(con: Any, fact: Fact, rates: Rates) -> int:
    """Load every qualifying line of `fact` (the star is empty), by increasing id."""
    loaded = last = 0
    if fact.load:
        while True:
            count, last = fact.load(con, rates, fact.lines().filter(id__gt=last).order_by("id"),
                                    LOAD_CHUNK)  # fmt: skip
            if not count:
                return loaded
            loaded += count
    for chunk in _chunked(fact.lines(), fact.fields):
        _insert(con, fact.table, [fact.row(r, rates) for r in chunk])  # type: ignore[misc]
        loaded += len(chunk)
    return loaded


def _unscoped(model: type) -> Any:
    return getattr(model, "unscoped", None) or model.objects


def _watched(source: Any) -> Any:
    """The rows whose ids are watched: a model's (unscoped), or those of a selector."""
    return _unscoped(source) if isinstance(source, type) else source()


def _audited(model: type | str, after: int, upto: int) -> set[int]:
    """The ids of the rows of `model` (a model or "app_label.model") with audit entries in
    (after, upto]."""
    from django.contrib.contenttypes.models import ContentType

    if isinstance(model, str):
        app_label, name = model.split(".")
        content_type = ContentType.objects.get_by_natural_key(app_label, name)
    else:
        content_type = ContentType.objects.get_for_model(model)
    return {int(pk) for pk in AuditEntry.objects.filter(
        id__gt=after, id__lte=upto, content_type=content_type,
    ).values_list("object_pk", flat=True)}  # fmt: skip


def etl_run(*, full: bool = False, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Bring the warehouse up to date (everything again with `full`). Returns the counts of fact
    rows written per table and whether it was a full load."""
    started = timezone.now()
    audit_max = AuditEntry.objects.aggregate(m=Max("id"))["m"] or 0
    rates = Rates()
    counts: dict[str, int] = {}
    with warehouse.connect() as con:
        rebuilt = warehouse.schema_ensure(con)
        full = full or rebuilt or not warehouse.meta_get(con, "loaded_at")
        con.execute("BEGIN")
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE _touched (company_id BIGINT, month VARCHAR)")
            if not full:
                _dimensions_snapshot(con)
            _load_dimensions(con)
            if full:
                for table in warehouse.FACTS:
                    con.execute(f"DELETE FROM {table}")  # noqa: S608
                con.execute("DELETE FROM dim_date")
            else:
                _dimensions_changes_touch(con)
            audit_seen = int(warehouse.meta_get(con, "audit_id", "0"))
            since_text = warehouse.meta_get(con, "since")
            since = dt.datetime.fromisoformat(since_text) - SAFETY if since_text else None
            for fact in FACTS:
                if progress:
                    progress(fact.table)
                max_key = f"max_id:{fact.table}"
                line_max = _watched(fact.line_model).aggregate(m=Max("id"))["m"] or 0
                if full:
                    counts[fact.table] = _load_all(con, fact, rates)
                else:
                    seen = int(warehouse.meta_get(con, max_key, "0"))
                    docs: set[int] = set(
                        _watched(fact.line_model).filter(id__gt=seen).order_by()
                        .values_list(fact.line_doc_field, flat=True).distinct())  # fmt: skip
                    if fact.audited is not None:
                        docs.update(_audited(fact.audited, audit_seen, audit_max))
                    if fact.also_audited is not None:
                        label, column = fact.also_audited
                        changed = sorted(_audited(label, audit_seen, audit_max))
                        if changed:
                            docs.update(r[0] for r in con.execute(
                                f"SELECT DISTINCT {fact.doc_column} FROM {fact.table} "  # noqa: S608
                                f"WHERE {column} IN (SELECT UNNEST(?))", [changed]).fetchall())  # fmt: skip
                    if fact.time_changed is not None and since is not None:
                        docs.update(fact.time_changed(since))
                    docs.discard(None)  # type: ignore[arg-type]
                    counts[fact.table] = _load_documents(con, fact, rates, sorted(docs))
                for table in fact.feeds:
                    counts[table] = counts[fact.table]
                warehouse.meta_set(con, max_key, str(line_max))
            _conversions_update(con)
            warehouse.snapshots_rebuild(con, timezone.localdate())
            _load_dates(con)
            if full:
                warehouse.aggregates_rebuild(con)
            else:  # only the months whose lines changed
                months = con.execute("SELECT DISTINCT company_id, month FROM _touched")
                warehouse.aggregates_rebuild(con, months=months.fetchall())
            warehouse.meta_set(con, "audit_id", str(audit_max))
            warehouse.meta_set(con, "since", started.isoformat())
            warehouse.meta_set(con, "loaded_at", timezone.now().isoformat())
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return {"full": full, "rows": counts}


def warehouse_status() -> dict[str, Any]:
    """When the warehouse was last loaded and how many rows each fact holds."""
    with warehouse.connect() as con:
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
                  for t in warehouse.FACTS}  # fmt: skip
        return {"loaded_at": warehouse.meta_get(con, "loaded_at") or None, "rows": counts}
