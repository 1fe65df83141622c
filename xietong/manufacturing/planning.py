"""MRP on the company's data: build the engine's input from the database in a handful of set-
based queries, run the vectorised engine (`mrp.engine`), and write the plan (planned orders,
their pegging and the exception messages) in one transaction that replaces the scenario's
previous plan — a failed or killed run leaves the previous plan as it was.

Demand: confirmed stock moves leaving the company's stock (sales deliveries, production
materials, …) and the planner's forecasts, net of what sales orders consume of them. Supply:
on hand, confirmed moves entering stock (purchase receipts, finished goods of production
orders) and open purchase requisition lines. A run is a background job (`mrp_run_request`);
`mrp_run_execute` does the work and is what the job (and the tests) call."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
import zlib
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.core import bulkwrite, jobs
from xietong.core.models import Company, User
from xietong.inventory.selectors import on_hand_by_product, open_moves_across_stock
from xietong.manufacturing.models import (
    Forecast,
    MpsEntry,
    PegDemand,
    PlanException,
    PlannedOrder,
    PlanningSettings,
    PlanPegging,
    PlanRun,
    Scenario,
)
from xietong.manufacturing.mrp import engine
from xietong.product import changes as product_changes
from xietong.product.bom import BomError, BomIndex
from xietong.product.models import Product
from xietong.purchase.selectors import open_requisition_supply

ZERO = Decimal(0)
Q6 = Decimal("0.000001")
SALES_LINE = "sales.orderline"  # the source of a sales order line's delivery move
LOT_RULES = {
    Product.LotSizing.LOT_FOR_LOT: "LFL",
    Product.LotSizing.FIXED: "FOQ",
    Product.LotSizing.EOQ: "EOQ",
    Product.LotSizing.PERIODS: "POQ",
    Product.LotSizing.MIN_MAX: "MINMAX",
}
EXCEPTION_KINDS = {
    "expedite": PlanException.Kind.EXPEDITE,
    "defer": PlanException.Kind.DEFER,
    "cancel": PlanException.Kind.CANCEL,
    "past_due": PlanException.Kind.PAST_DUE,
    "below_safety_stock": PlanException.Kind.BELOW_SAFETY,
}
# why a net-change run was regenerative (`mrp_run_execute`)
NET_CHANGE_FALLBACK = {
    "no_previous_plan": gettext_lazy("Run regenerative: the worker holds no previous plan of this "
                              "scenario (it restarted, or another worker ran it)."),
    "products_changed": gettext_lazy("Run regenerative: products were added or removed."),
    "firm_production": gettext_lazy("Run regenerative: a plan with firm MPS entries is planned by "
                             "regenerative runs only."),
    "regenerated": gettext_lazy("Run regenerative: the BOMs changed, or every item did."),
}  # fmt: skip
PEG_PSEUDO = {"safety_stock": PegDemand.SAFETY, "lot_size": PegDemand.LOT}
# one packed pegging line: planned order, parent order (demand kind "order") or demand row
# (-1: none), demand kind (index in DEMANDS), reference (index in the chunk's list), quantity
PEG_RECORD = np.dtype([("order", "<i8"), ("target", "<i8"), ("kind", "u1"), ("ref", "<i4"),
                       ("qty", "<f8")])  # fmt: skip
DEMANDS = list(PegDemand.values)
PEG_CHUNK = 4096  # lines per chunk, about 120 kB before compression
BATCH = 5000


class PlanningError(Exception):
    """A planning request that cannot be carried out; the message is for the user."""


# --- settings and scenarios ---------------------------------------------------------------------


def planning_settings(company: Company) -> PlanningSettings:
    settings = PlanningSettings.unscoped.filter(company=company).first()
    if settings is None:
        settings = PlanningSettings.unscoped.create(company=company)
    return settings


def live_scenario(company: Company) -> Scenario:
    """The company's live plan (made on first use)."""
    scenario = Scenario.unscoped.filter(company=company, live=True).first()
    if scenario is None:
        scenario = Scenario.unscoped.create(
            company=company, name="", live=True, state=Scenario.State.RELEASED
        )
    return scenario


def plan_start(today: dt.date, bucket: str) -> dt.date:
    """The first day of the bucket holding `today`: weeks start on Monday."""
    return today - dt.timedelta(days=today.weekday()) if bucket == "week" else today


# --- forecasts ----------------------------------------------------------------------------------


def forecast_set(
    *, company: Company, actor: Any, product: Product, date: dt.date, quantity: Decimal,
    note: str = "", source: str = Forecast.Source.MANUAL,
) -> Forecast:  # fmt: skip
    """The forecast of `product` from `date` (one per product, date and source: entering it
    again replaces the quantity). Refuses a product of another company, a service and a
    negative quantity (ValidationError, nothing written)."""
    errors: dict[str, list[str]] = {}
    if product.company_id != company.pk or product.type == Product.Type.SERVICE:
        errors["product"] = [_("Choose a stockable product of this company.")]
    if quantity is None or Decimal(quantity) < 0:
        errors["quantity"] = [_("Enter a quantity of zero or more.")]
    if source not in Forecast.Source.values:
        errors["source"] = [_("Unknown source.")]
    if errors:
        raise ValidationError(errors)
    forecast, _created = Forecast.unscoped.update_or_create(
        company=company, product=product, date=date, source=source,
        defaults={"quantity": Decimal(quantity), "note": note[:200]},
    )  # fmt: skip
    return forecast


# --- the input ----------------------------------------------------------------------------------


@dataclass
class PlanData:
    """The engine's input and what is needed to map its output back to rows."""

    input: engine.PlanInput
    product_ids: list[int]  # the engine's item index → product id
    figures: dict[str, Any] = field(default_factory=dict)
    # products whose firm MPS entries are their supply plan (fenced in the engine)
    master_scheduled: list[int] = field(default_factory=list)
    watermark: str = ""  # of the journal of product changes, taken before reading
    # the item (row of the item table) of each receipt, demand and firm row: the rows are
    # grouped by item in item order, so that a net change compares an item's rows with its own
    rows_item: dict[str, np.ndarray] = field(default_factory=dict)
    key: tuple = ()  # the settings and what-if changes read with (`_settings_key`)


def _reference(kind: str, pk: int | None, label: str) -> str:
    return f"{kind}:{pk or ''}:{label}"


def _parse_reference(reference: str) -> tuple[str, int | None, str]:
    kind, _sep, rest = reference.partition(":")
    pk, _sep, label = rest.partition(":")
    return kind, int(pk) if pk else None, label


def forecast_effective(
    rows: Iterable[tuple[int, int, dt.date, Decimal, str]], *, bucket: str
) -> list[tuple[int, int, dt.date, Decimal]]:
    """The forecasts (id, product, date, quantity) that count, from rows that also carry their
    source: a planner's figure (entered or imported) *replaces* the statistical forecast of the
    same product in the same bucket (the ISO week of its date for weekly planning, else the
    day), so an override is never added to the statistics it corrects. Entered and imported
    figures of a bucket add up, as do statistical ones where nobody overrode them."""
    rows = list(rows)

    def key(product_id: int, date: dt.date) -> tuple[int, dt.date]:
        return product_id, (date - dt.timedelta(days=date.weekday()) if bucket == "week" else date)

    planned = {key(r[1], r[2]) for r in rows if r[4] != Forecast.Source.STATISTICAL}
    return [(pk, product_id, date, quantity) for pk, product_id, date, quantity, source in rows
            if source != Forecast.Source.STATISTICAL or key(product_id, date) not in planned]  # fmt: skip


def forecast_net(
    forecasts: Iterable[tuple[int, int, dt.date, Decimal]],
    orders: Iterable[tuple[int, dt.date, Decimal]],
    *,
    start: dt.date,
    frozen_days: int,
    backward_days: int,
    forward_days: int,
) -> list[tuple[int, int, dt.date, Decimal]]:
    """What is left of each forecast (id, product, date, quantity) once sales orders (product,
    date, quantity) have consumed it: an order consumes the forecasts of its product dated up
    to `backward_days` before it (latest first), then up to `forward_days` after it (earliest
    first). Forecasts dated inside the frozen fence (before start + frozen_days) are dropped:
    there only firm orders count. Returns the rows with something left."""
    fence = start + dt.timedelta(days=frozen_days)
    left: dict[int, list[list[Any]]] = defaultdict(list)
    for pk, product_id, date, quantity in sorted(forecasts, key=lambda r: (r[1], r[2], r[0])):
        if date >= fence and quantity > 0:
            left[product_id].append([pk, product_id, date, Decimal(quantity)])
    for product_id, date, quantity in sorted(orders, key=lambda r: (r[1], r[0])):
        rows = left.get(product_id)
        if not rows:
            continue
        need = Decimal(quantity)
        back = date - dt.timedelta(days=backward_days)
        ahead = date + dt.timedelta(days=forward_days)
        earlier = [r for r in rows if back <= r[2] <= date][::-1]
        later = [r for r in rows if date < r[2] <= ahead]
        for row in earlier + later:
            if need <= 0:
                break
            take = min(need, row[3])
            row[3] -= take
            need -= take
    return [tuple(r) for rows in left.values() for r in rows if r[3] > 0]  # type: ignore[misc]


_PRODUCT_COLUMNS = (
    "pk", "sku", "supply", "purchase_lead_days", "manufacturing_lead_days", "lot_sizing",
    "lot_size", "lot_multiple", "min_qty", "max_qty", "safety_stock", "uom__rounding",
)  # fmt: skip


def _product_rows(company: Company, product_ids: Iterable[int] | None = None) -> list[tuple]:
    """The planned products (active, not services) in id order: `_PRODUCT_COLUMNS`."""
    rows = Product.unscoped.filter(company=company, active=True).exclude(type=Product.Type.SERVICE)
    if product_ids is not None:
        rows = rows.filter(pk__in=list(product_ids))
    return list(rows.order_by("pk").values_list(*_PRODUCT_COLUMNS))


def _item_columns(
    products: list[tuple], on_hand: dict[int, Any], changes: dict[str, Any]
) -> dict[str, list[Any]]:
    """The engine's item columns (but phantom) of `_product_rows`, a what-if scenario's lead
    times applied."""
    lead_changes = {int(k): int(v) for k, v in changes.get("lead_time_days", {}).items()}
    make = [row[2] == Product.Supply.MAKE for row in products]
    return {
        "code": [row[1] for row in products],
        "make_or_buy": ["make" if m else "buy" for m in make],
        "lead_time_days": [
            lead_changes.get(row[0], row[4] if m else row[3])
            for row, m in zip(products, make, strict=True)
        ],
        "lot_rule": [LOT_RULES.get(row[5], "LFL") for row in products],
        "lot_qty": [float(row[6]) for row in products],
        # an order multiple, else the unit's rounding step (no 17.6 screws)
        "multiple": [float(row[7] or row[11]) for row in products],
        "min_qty": [float(row[8]) for row in products],
        "max_qty": [float(row[9]) for row in products],
        "safety_stock": [float(row[10]) for row in products],
        "on_hand": [float(on_hand.get(row[0]) or 0) for row in products],
    }


@dataclass
class _Lines:
    """Dated rows of the products read: receipts, demands and firm MPS production (engine
    columns: item, date, qty, reference) and the products with firm MPS entries."""

    receipts: dict[str, list[Any]]
    demands: dict[str, list[Any]]
    firm: dict[str, list[Any]]
    master_scheduled: set[int]


def _lines_read(
    *, company: Company, start: dt.date, settings: PlanningSettings, sku: dict[int, str],
    changes: dict[str, Any], product_ids: Iterable[int] | None = None, bucket: str | None = None,
) -> _Lines:  # fmt: skip
    """Receipts, demands and firm MPS production of the products `sku` names (all of the
    company's, or those of `product_ids`): open moves across the stock, open requisition
    lines, forecasts net of sales orders, firm MPS entries of made products from `start`."""
    wanted = None if product_ids is None else sorted(product_ids)
    columns = ("item", "date", "qty", "reference")
    receipts: dict[str, list[Any]] = {k: [] for k in columns}
    demands: dict[str, list[Any]] = {k: [] for k in columns}
    sales_orders: list[tuple[int, dt.date, Decimal]] = []
    for move in open_moves_across_stock(company=company, product_ids=wanted):
        if move.product_id not in sku:
            continue
        code = sku[move.product_id]
        if move.incoming:
            receipts["item"].append(code)
            receipts["date"].append(move.planned_date)
            receipts["qty"].append(float(move.quantity))
            receipts["reference"].append(_reference("move", move.pk, move.origin))
        else:
            sales = move.source_type == SALES_LINE
            demands["item"].append(code)
            demands["date"].append(move.planned_date)
            demands["qty"].append(float(move.quantity))
            demands["reference"].append(_reference(
                "sales" if sales else "other", move.source_id if sales else move.pk, move.origin))  # fmt: skip
            if sales:
                sales_orders.append((move.product_id, move.planned_date, move.quantity))
    for line_id, product_id, date, quantity, number in open_requisition_supply(
        company=company, product_ids=wanted
    ):
        if product_id in sku:
            receipts["item"].append(sku[product_id])
            receipts["date"].append(date)
            receipts["qty"].append(float(quantity))
            receipts["reference"].append(_reference("requisition", line_id, number))

    forecasts = Forecast.unscoped.filter(company=company)
    mps = MpsEntry.unscoped.filter(company=company, date__gte=start,
                                   product__supply=Product.Supply.MAKE)  # fmt: skip
    if wanted is not None:
        forecasts, mps = forecasts.filter(product_id__in=wanted), mps.filter(product_id__in=wanted)
    for pk, product_id, date, quantity in forecast_net(
        forecast_effective(forecasts.values_list("pk", "product_id", "date", "quantity", "source"),
                           bucket=bucket or settings.bucket),
        sales_orders,
        start=start, frozen_days=settings.frozen_days,
        backward_days=settings.consume_backward_days,
        forward_days=settings.consume_forward_days,
    ):  # fmt: skip
        if product_id in sku:
            demands["item"].append(sku[product_id])
            demands["date"].append(date)
            demands["qty"].append(float(quantity))
            demands["reference"].append(_reference("forecast", pk, f"{sku[product_id]} {date}"))
    factor = float(changes.get("demand_percent", 100)) / 100
    if factor != 1:
        demands["qty"] = [q * factor for q in demands["qty"]]

    firm: dict[str, list[Any]] = {k: [] for k in columns}
    master_scheduled: set[int] = set()
    for pk, product_id, date, quantity in mps.values_list("pk", "product_id", "date", "quantity"):
        if product_id in sku:
            master_scheduled.add(product_id)
            firm["item"].append(sku[product_id])
            firm["date"].append(date)
            firm["qty"].append(float(quantity))
            firm["reference"].append(_reference("mps", pk, f"{sku[product_id]} {date}"))
    return _Lines(receipts, demands, firm, master_scheduled)


def _fences(settings: PlanningSettings, bucket: str) -> tuple[int, int]:
    """The buckets of a master-scheduled product without new planned production (frozen) and
    without it where a firm entry is (slushy)."""
    days = engine.BUCKET_DAYS[bucket]
    return -(-settings.frozen_days // days), -(-settings.slushy_days // days)


def _settings_key(settings: PlanningSettings, changes: dict[str, Any]) -> tuple:
    """What the input depends on besides the company's data rows."""
    return (settings.frozen_days, settings.slushy_days, settings.consume_backward_days,
            settings.consume_forward_days, repr(sorted(changes.items())))  # fmt: skip


def plan_input_build(
    *, company: Company, start: dt.date, bucket: str, horizon: int,
    settings: PlanningSettings | None = None, changes: dict[str, Any] | None = None,
) -> PlanData:  # fmt: skip
    """The engine's input for the whole company, read in a handful of queries; a what-if
    scenario's `changes` (`scenarios.py`: demand in percent, lead times) applied. The firm MPS
    entries of made products from `start` on are firm planned production (exploded into
    their components); a product with entries gets no new planned production inside the
    frozen fence, nor in a slushy bucket holding an entry. The data are those of the journal
    watermark `PlanData.watermark` (taken first): a net change re-reads the products changed
    since (`plan_input_refresh`)."""
    settings = settings or planning_settings(company)
    changes = changes or {}
    watermark = product_changes.journal_mark()
    products = _product_rows(company)
    position = {row[0]: n for n, row in enumerate(products)}
    index = BomIndex.whole_company(company.pk)
    phantom = np.zeros(len(products), dtype=bool)
    parents: list[str] = []
    components: list[str] = []
    quantities: list[float] = []
    for product_id in position:
        bom = index.bom_on(product_id, start)
        if bom is None:
            continue
        phantom[position[product_id]] = bom.phantom
        for line in bom.lines:
            if line.component_id not in position:
                continue
            parents.append(products[position[product_id]][1])
            components.append(products[position[line.component_id]][1])
            quantities.append(float(index.quantity_per(bom, line)))  # scrap included

    sku = {row[0]: row[1] for row in products}
    lines = _lines_read(company=company, start=start, settings=settings, sku=sku,
                        changes=changes, bucket=bucket)  # fmt: skip
    no_plan_before = np.zeros(len(products), dtype=np.int64)
    firm_until = np.zeros(len(products), dtype=np.int64)
    if lines.master_scheduled:
        fenced = [position[product_id] for product_id in lines.master_scheduled]
        no_plan_before[fenced], firm_until[fenced] = _fences(settings, bucket)
    columns = _item_columns(products, on_hand_by_product(company=company), changes)
    at = {row[1]: n for n, row in enumerate(products)}
    tables = {name: _dated_grouped(getattr(lines, name), at)
              for name in ("receipts", "demands", "firm")}  # fmt: skip
    inp = engine.PlanInput(
        items=engine.ItemTable(**columns, phantom=phantom),
        bom=engine.BomTable(parent=parents, component=components, qty_per=quantities),
        receipts=tables["receipts"][0],
        demands=tables["demands"][0],
        start=start,
        bucket=bucket,
        horizon=horizon,
        firm=tables["firm"][0],
        no_plan_before=no_plan_before,
        firm_until=firm_until,
    )
    return PlanData(
        input=inp,
        product_ids=[row[0] for row in products],
        figures=_input_figures(inp, len(parents)),
        master_scheduled=sorted(lines.master_scheduled),
        watermark=watermark,
        key=_settings_key(settings, changes),
        rows_item={name: table[1] for name, table in tables.items()},
    )


def _input_figures(inp: engine.PlanInput, bom_lines: int) -> dict[str, int]:
    return {
        "items": len(inp.items),
        "bom_lines": bom_lines,
        "demands": len(inp.demands),
        "receipts": len(inp.receipts),
        "mps_entries": len(inp.firm) if inp.firm is not None else 0,
    }


def _dated_grouped(
    rows: dict[str, list[Any]], position: dict[str, int]
) -> tuple[engine.DatedTable, np.ndarray]:
    """The rows as a dated table grouped by item in item order (an item's rows in the order
    read), with the item position of each row."""
    item = np.asarray([position[code] for code in rows["item"]], dtype=np.int64)
    order = np.argsort(item, kind="stable")
    table = engine.DatedTable(**{k: [v[i] for i in order.tolist()] for k, v in rows.items()})
    return table, item[order]


def _dated_splice(
    old: engine.DatedTable, old_item: np.ndarray, drop: np.ndarray,
    new: dict[str, list[Any]], position: dict[str, int],
) -> tuple[engine.DatedTable, np.ndarray]:  # fmt: skip
    """`old`'s rows (grouped by item, `old_item`) with those of the items `drop` replaced by
    the rows `new`, still grouped by item."""
    fresh, fresh_item = _dated_grouped(new, position)
    keep = ~np.isin(old_item, drop)
    item = np.concatenate([old_item[keep], fresh_item])
    order = np.argsort(item, kind="stable")
    out = engine.DatedTable()
    for name in engine.DATED_COLUMNS:
        setattr(out, name, np.concatenate([getattr(old, name)[keep], getattr(fresh, name)])[order])
    return out, item[order]


def plan_input_refresh(
    previous: PlanData, *, company: Company, settings: PlanningSettings | None = None,
    changes: dict[str, Any] | None = None,
) -> PlanData | None:  # fmt: skip
    """`previous` input with the data of the products changed since it was read (the journal
    of `product.changes`) read again: a few queries on those products only. None when it cannot
    be done so (a BOM, a unit or a location changed, products added or no longer planned, other
    settings or what-if changes): the input must be read whole."""
    settings = settings or planning_settings(company)
    changes = changes or {}
    if previous.key != _settings_key(settings, changes):
        return None
    watermark = product_changes.journal_mark()
    changed = product_changes.products_changed(company_id=company.pk, since=previous.watermark)
    if changed is None:
        return None
    prev = previous.input
    position = {pk: n for n, pk in enumerate(previous.product_ids)}
    products = _product_rows(company, changed)
    found = {row[0] for row in products}
    if any(pk not in position for pk in found) or any(
        pk in position and pk not in found for pk in changed
    ):
        return None  # a product added, or no longer planned
    at = np.asarray([position[row[0]] for row in products], dtype=np.int64)
    columns = _item_columns(products, on_hand_by_product(company=company, product_ids=found),
                            changes)  # fmt: skip
    items = engine.ItemTable(code=prev.items.code.copy())
    for name in ("make_or_buy", *engine.ITEM_PARAMETERS, "phantom"):
        setattr(items, name, getattr(prev.items, name).copy())
    fresh = engine.ItemTable(**columns)
    if (fresh.code != prev.items.code[at]).any() or (
        fresh.make_or_buy != prev.items.make_or_buy[at]
    ).any():
        return None  # a new code or make-or-buy: the items change
    for name in engine.ITEM_PARAMETERS:
        getattr(items, name)[at] = getattr(fresh, name)

    sku = {row[0]: row[1] for row in products}
    lines = _lines_read(company=company, start=prev.start, settings=settings, sku=sku,
                        changes=changes, product_ids=found, bucket=prev.bucket)  # fmt: skip
    code_at = {code: n for n, code in enumerate(prev.items.code.tolist())} if len(at) else {}
    tables = {
        name: _dated_splice(getattr(prev, name), previous.rows_item[name], at,
                            getattr(lines, name), code_at)
        for name in ("receipts", "demands", "firm")
    }  # fmt: skip
    master = (set(previous.master_scheduled) - found) | lines.master_scheduled
    no_plan_before = np.asarray(prev.no_plan_before, dtype=np.int64).copy()
    firm_until = np.asarray(prev.firm_until, dtype=np.int64).copy()
    no_plan_before[at], firm_until[at] = 0, 0
    fenced = [position[pk] for pk in lines.master_scheduled]
    if fenced:
        no_plan_before[fenced], firm_until[fenced] = _fences(settings, prev.bucket)
    inp = engine.PlanInput(
        items=items,
        bom=prev.bom,
        receipts=tables["receipts"][0],
        demands=tables["demands"][0],
        start=prev.start,
        bucket=prev.bucket,
        horizon=prev.horizon,
        non_working_days=prev.non_working_days,
        firm=tables["firm"][0],
        no_plan_before=no_plan_before,
        firm_until=firm_until,
    )
    return PlanData(
        input=inp,
        product_ids=previous.product_ids,
        figures={
            **_input_figures(inp, previous.figures.get("bom_lines", 0)),
            "products_read": len(products),
        },  # fmt: skip
        master_scheduled=sorted(master),
        watermark=watermark,
        key=previous.key,
        rows_item={name: table[1] for name, table in tables.items()},
    )


# --- running ------------------------------------------------------------------------------------


def mrp_run_request(
    *, company: Company, actor: User | None, scenario: Scenario | None = None,
    start: dt.date | None = None, kind: str = PlanRun.Kind.REGENERATIVE,
) -> PlanRun:  # fmt: skip
    """Queue an MRP run of `scenario` (the live plan by default) as a background job; it
    starts when the transaction commits. `kind`: regenerative or net change (see
    `mrp_run_execute`)."""
    if kind not in PlanRun.Kind.values:
        raise PlanningError(_("Unknown kind of MRP run."))
    settings = planning_settings(company)
    scenario = scenario or live_scenario(company)
    if scenario.company_id != company.pk:
        raise PlanningError(_("The scenario belongs to another company."))
    if PlanRun.unscoped.filter(scenario=scenario, state__in=[PlanRun.State.QUEUED,
                                                            PlanRun.State.RUNNING]).exists():  # fmt: skip
        raise PlanningError(_("An MRP run of this plan is already queued or running."))
    with transaction.atomic():
        run = PlanRun.unscoped.create(
            company=company,
            scenario=scenario,
            kind=kind,
            start=start or plan_start(timezone.localdate(), settings.bucket),
            bucket=settings.bucket,
            horizon=settings.horizon,
            requested_by=actor,
        )
        run.job = jobs.job_start(
            company=company, actor=actor, kind="manufacturing.mrp_run",
            name=str(_("MRP run of %(plan)s") % {"plan": scenario.display_name}), run_id=run.pk,
        )  # fmt: skip
        run.save(update_fields=["job"])
    return run


def mrp_run_job(context: jobs.JobContext, *, run_id: int) -> dict[str, Any]:
    run = PlanRun.unscoped.select_related("scenario", "company").get(pk=run_id)
    try:
        run = mrp_run_execute(run=run, progress=context.progress)
    except Exception:
        # not left "running" for ever (which would refuse the next run): the job records it
        PlanRun.unscoped.filter(pk=run.pk).update(
            state=PlanRun.State.FAILED, error=str(_("The run failed unexpectedly.")),
            finished_at=timezone.now(),
        )  # fmt: skip
        raise
    if run.state == PlanRun.State.FAILED:
        raise jobs.JobError(run.error)
    figures = run.figures
    if figures.get("net_change") == "done":
        message = _(
            "Net change: %(items)s items replanned, %(orders)s planned orders and "
            "%(exceptions)s exception messages written."
        ) % {"items": figures.get("replanned_items", 0),
             "orders": figures.get("planned_orders", 0),
             "exceptions": figures.get("exceptions", 0)}  # fmt: skip
    else:
        message = _("%(orders)s planned orders, %(exceptions)s exception messages.") % {
            "orders": figures.get("planned_orders", 0),
            "exceptions": figures.get("exceptions", 0),
        }
        if run.kind == PlanRun.Kind.NET_CHANGE:
            message = f"{NET_CHANGE_FALLBACK.get(figures.get('net_change'), '')} {message}"
    return {"message": message, **figures}


@dataclass
class _Plan:
    """A scenario's plan as this process computed and stored it: what a net change starts
    from. ``first_id``: per item (row of the input's item table), the id of its first planned
    order; an item's orders have consecutive ids in the engine's order (see `_write`)."""

    run_id: int
    result: engine.PlanResult
    data: PlanData
    first_id: np.ndarray

    @property
    def product_ids(self) -> np.ndarray:
        return np.asarray(self.data.product_ids, dtype=np.int64)


# The latest plans computed by this process (a worker), by scenario id: a few, they are large
# (about 45 MB for 10,000 items). Another process, or a restart, has none: its net change is
# then regenerative.
_PLANS: OrderedDict[int, _Plan] = OrderedDict()
_PLANS_KEPT = 2
_PLANS_LOCK = threading.Lock()


def _plan_keep(scenario_id: int, plan: _Plan) -> None:
    with _PLANS_LOCK:
        _PLANS[scenario_id] = plan
        _PLANS.move_to_end(scenario_id)
        while len(_PLANS) > _PLANS_KEPT:
            _PLANS.popitem(last=False)


def _plan_kept(scenario_id: int) -> _Plan | None:
    """This process's plan of the scenario if it is the one in the database (that of the
    scenario's latest finished run), else None."""
    with _PLANS_LOCK:
        kept = _PLANS.get(scenario_id)
    if kept is None:
        return None
    latest = (
        PlanRun.unscoped.filter(scenario_id=scenario_id, state=PlanRun.State.DONE)
        .order_by("-pk").values_list("pk", flat=True).first()
    )  # fmt: skip
    return kept if kept.run_id == latest else None


def mrp_run_execute(*, run: PlanRun, progress: Any = None) -> PlanRun:
    """Compute the run's plan and replace the scenario's previous plan with it, in one
    transaction. Bad master data (a BOM loop, a unit that does not convert) fails the run with
    the reason and leaves the previous plan.

    A net-change run replans only the items whose data differ from those of the previous plan
    (parameters, on hand, demands, receipts) and their BOM descendants, and replaces only their
    planned orders, pegging and exception messages; the other items' rows stay as they are.
    It starts from the previous plan as this process computed it, compared with the data read
    now. It is regenerative (and says why in its figures, ``net_change``) when this process
    has no previous plan of the scenario, when products or BOMs changed, with firm MPS entries
    (the engine's net change does not keep firm production), or when every item changed."""
    report = progress or (lambda done, total=None, message="": None)
    PlanRun.unscoped.filter(pk=run.pk).update(state=PlanRun.State.RUNNING)
    clock = time.perf_counter()
    try:
        report(0, 4, _("Reading the data"))
        previous, why, data = None, "", None
        if run.kind == PlanRun.Kind.NET_CHANGE:
            previous = _plan_kept(run.scenario_id)
            if previous is None:
                why = "no_previous_plan"
            elif (previous.result.input.start, previous.result.input.bucket,
                  previous.result.input.horizon) == (run.start, run.bucket, run.horizon):  # fmt: skip
                # only the products changed since the previous plan's data were read
                data = plan_input_refresh(previous.data, company=run.company,
                                          changes=run.scenario.changes)  # fmt: skip
        if data is None:
            data = plan_input_build(company=run.company, start=run.start, bucket=run.bucket,
                                    horizon=run.horizon, changes=run.scenario.changes)  # fmt: skip
        loaded = time.perf_counter()
        report(1, 4, _("Planning"))
        product_ids = np.asarray(data.product_ids, dtype=np.int64)
        if previous is not None and not np.array_equal(previous.product_ids, product_ids):
            previous, why = None, "products_changed"
        if previous is not None:
            result = engine.net_change(data.input, previous.result, None, pegging="single")
            if not result.grouped:
                previous, why = None, "firm_production"
            elif len(result.replanned) == len(product_ids):
                previous, why = None, "regenerated"
        else:
            result = engine.plan(data.input, pegging="single")
        computed = time.perf_counter()
        report(2, 4, _("Writing the plan"))
        with transaction.atomic():
            if previous is not None:
                written, first_id = _write_changes(run, data, result, previous)
            else:
                written, first_id = _write(run, data, result)
            done = time.perf_counter()
            figures = {
                **data.figures,
                **written,
                "net_change": "done" if previous is not None else why,
                "seconds_read": round(loaded - clock, 3),
                "seconds_plan": round(computed - loaded, 3),
                "seconds_write": round(done - computed, 3),
            }
            # the run is done with its plan, in the same transaction
            PlanRun.unscoped.filter(pk=run.pk).update(
                state=PlanRun.State.DONE, figures=figures, finished_at=timezone.now()
            )
            if result.grouped:
                kept = _Plan(run.pk, result, data, first_id)
                transaction.on_commit(lambda: _plan_keep(run.scenario_id, kept))
        report(4, 4, _("Done"))
    except (engine.PlanError, BomError) as exc:
        PlanRun.unscoped.filter(pk=run.pk).update(
            state=PlanRun.State.FAILED, error=str(exc), finished_at=timezone.now()
        )
        run.refresh_from_db()
        return run
    run.refresh_from_db()
    return run


def _plan_delete(scenario: Scenario) -> None:
    """Delete the scenario's planned (not firmed) orders, its pegging and its exception
    messages: set-based DELETEs. (Django's `delete()` would load every order as a model
    instance first, to cascade in Python.)"""
    planned = PlannedOrder.unscoped.filter(scenario=scenario, state=PlannedOrder.State.PLANNED)
    planned._raw_delete(planned.db)
    for rows in (PlanPegging.objects.filter(scenario=scenario),
                 PlanException.unscoped.filter(scenario=scenario)):  # fmt: skip
        rows._raw_delete(rows.db)


def _write(
    run: PlanRun, data: PlanData, result: engine.PlanResult
) -> tuple[dict[str, int], np.ndarray]:
    """Replace the scenario's plan with the run's result: planned orders, single-level
    pegging and exception messages, written column by column (`core.bulkwrite`: binary COPY
    on PostgreSQL), without a model instance or a Python loop per row. The planned orders get
    a block of consecutive ids, so that their pegging refers to them by arithmetic. Returns
    the figures and, per item (row of the input's item table), the id of its first order."""
    scenario = run.scenario
    _plan_delete(scenario)
    orders = result.planned_orders
    count = len(orders)
    product_ids = np.asarray(data.product_ids, dtype=np.int64)
    first = bulkwrite.pk_block(PlannedOrder, count)
    engine_ids = np.asarray(orders.id, dtype=np.int64)
    pk_of = np.zeros(int(engine_ids.max()) + 1 if count else 1, dtype=np.int64)
    pk_of[engine_ids] = first + np.arange(count, dtype=np.int64)
    make = np.asarray(data.input.items.make_or_buy, dtype=object)[orders.item_index]
    bulkwrite.columns_insert(PlannedOrder, {
        "id": first + np.arange(count, dtype=np.int64),
        "company_id": run.company_id,
        "scenario_id": scenario.pk,
        "run_id": run.pk,
        "product_id": product_ids[orders.item_index],
        "supply": np.where(make == "make", PlannedOrder.Supply.MAKE.value,
                           PlannedOrder.Supply.BUY.value).astype(object),
        "release_date": orders.release_date,
        "due_date": orders.due_date,
        "quantity": np.asarray(orders.qty, dtype=float),
        "state": PlannedOrder.State.PLANNED.value,
        "past_due": np.asarray(orders.past_due, dtype=bool),
        "requisition_line_id": None,
        "production_order_id": None,
    }, count)  # fmt: skip

    order_id, parent_id, target, qty = single_level_pegging(result)
    known = order_id < len(pk_of)
    known[known] = pk_of[order_id[known]] > 0
    order_id, parent_id, target, qty = order_id[known], parent_id[known], target[known], qty[known]
    _pegging_store(run, pk_of[order_id], np.where(parent_id > 0, pk_of[parent_id], 0), target,
                   qty, result.single_pegging.targets)  # fmt: skip

    found = result.exceptions
    items = found.item
    if len(found) and isinstance(items[0], str):
        position = {code: n for n, code in enumerate(data.input.items.code)}
        items = np.asarray([position[code] for code in items.tolist()], dtype=np.int64)
    _exceptions_insert(run, product_ids[np.asarray(items, dtype=np.int64)], found.kind,
                       found.date, found.suggested_date, found.qty, found.reference)  # fmt: skip
    # each item's orders have consecutive ids in the plan's order: the id of its first
    base = np.zeros(len(product_ids), dtype=np.int64)
    item = np.asarray(orders.item_index, dtype=np.int64)
    if count:
        heads = np.flatnonzero(np.r_[True, item[1:] != item[:-1]])
        base[item[heads]] = pk_of[engine_ids[heads]]
    return {
        "planned_orders": count,
        "pegging_rows": len(order_id),
        "exceptions": len(found),
    }, base


def _target_codes(
    targets: engine.PegTargets, used: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """What the pegging targets `used` (rows of `targets`) stand for, worked out once per
    target (not per pegging line): `DEMANDS` index, demand row id (-1: none) and label."""
    kinds = np.empty(len(targets), dtype=object)
    demand_ids = np.full(len(targets), np.nan)
    labels = np.empty(len(targets), dtype=object)
    for t in used.tolist():
        kind = str(targets.kind[t])
        if kind in PEG_PSEUDO:
            kinds[t], labels[t] = PEG_PSEUDO[kind].value, ""
            continue
        source, pk, label = _parse_reference(str(targets.reference[t]))
        kinds[t] = source if source in DEMANDS else PegDemand.OTHER.value
        demand_ids[t] = np.nan if pk is None else pk
        labels[t] = label[:80]
    kind_code = {value: n for n, value in enumerate(DEMANDS)}
    codes = np.asarray([kind_code.get(k, 0) for k in kinds.tolist()], dtype=np.uint8)
    demand_rows = np.where(np.isnan(demand_ids), -1, demand_ids).astype(np.int64)
    return codes, demand_rows, [label or "" for label in labels.tolist()]


def _pegging_store(run: PlanRun, order: np.ndarray, parent: np.ndarray, target: np.ndarray,
                   qty: np.ndarray, targets: engine.PegTargets) -> None:  # fmt: skip
    """Write single-level pegging lines given in database terms: planned order id, parent
    order id (0: none) or else `targets` row."""
    to_order = parent > 0
    codes, demand_rows, labels = _target_codes(targets, np.unique(target[~to_order]))
    pick = np.where(to_order, 0, target)
    pegging_write(
        run,
        order=order,
        target=np.where(to_order, parent, demand_rows[pick] if len(targets) else -1),
        kind=np.where(
            to_order, DEMANDS.index(PegDemand.ORDER.value), codes[pick] if len(targets) else 0
        ).astype(np.uint8),  # fmt: skip
        reference=np.where(to_order, -1, pick),
        labels=labels,
        qty=np.asarray(qty, dtype=float),
    )


def _exceptions_insert(run: PlanRun, product_ids: np.ndarray, kind: np.ndarray, date: np.ndarray,
                       suggested: np.ndarray, qty: np.ndarray, reference: np.ndarray) -> None:  # fmt: skip
    """Write exception messages given as columns (`kind`: the engine's names or codes)."""
    kinds = np.asarray([
        EXCEPTION_KINDS[engine.EXCEPTION_KINDS[int(k)] if not isinstance(k, str) else str(k)]
        for k in kind.tolist()], dtype=object)  # fmt: skip
    dates = np.asarray(date, dtype="datetime64[D]")
    bulkwrite.columns_insert(PlanException, {
        "company_id": run.company_id,
        "scenario_id": run.scenario_id,
        "run_id": run.pk,
        "product_id": np.asarray(product_ids, dtype=np.int64),
        "kind": kinds,
        "date": np.where(np.isnat(dates), np.datetime64(run.start, "D"), dates),
        "suggested_date": np.asarray(suggested, dtype="datetime64[D]"),
        "quantity": np.asarray(qty, dtype=float),
        "reference": np.asarray([_parse_reference(str(r))[2][:80]
                                 for r in reference.tolist()], dtype=object),
    }, len(kinds))  # fmt: skip


def _write_changes(
    run: PlanRun, data: PlanData, result: engine.PlanResult, previous: _Plan
) -> tuple[dict[str, int], np.ndarray]:
    """After a net change, replace the planned (not firmed) orders, pegging and exception
    messages of the items the run replanned (`PlanResult.changes`), and only theirs. Their
    new orders get a block of consecutive ids, an item's in its plan order, as `_write` gives
    them; pegging to a parent order of an item not replanned names that order by the previous
    plan's ids. Chunks of pegging lines left without a live order are deleted. Returns the
    figures and each item's first order id (`_Plan.first_id`)."""
    scenario = run.scenario
    changes = result.changes()
    items = data.input.items
    phantom = np.asarray(items.phantom, dtype=bool)
    product_ids = previous.product_ids
    replanned = changes.items
    gone = product_ids[replanned].tolist()
    removed = 0
    for lo in range(0, len(gone), BATCH):
        part = gone[lo : lo + BATCH]
        planned = PlannedOrder.unscoped.filter(
            scenario=scenario, state=PlannedOrder.State.PLANNED, product_id__in=part
        )
        removed += planned._raw_delete(planned.db)
        messages = PlanException.unscoped.filter(scenario=scenario, product_id__in=part)
        messages._raw_delete(messages.db)

    # the replanned items' orders (pass-throughs of phantoms are not orders)
    real = ~phantom[changes.order_item]
    o_item, o_local = changes.order_item[real], changes.order_local[real]
    count = len(o_item)
    first = bulkwrite.pk_block(PlannedOrder, count) if count else 0
    ids = first + np.arange(count, dtype=np.int64)
    first_id = previous.first_id.copy()
    heads = o_local == 0
    first_id[o_item[heads]] = ids[heads]
    make = np.asarray(items.make_or_buy, dtype=object)[o_item] == "make"
    bulkwrite.columns_insert(PlannedOrder, {
        "id": ids,
        "company_id": run.company_id,
        "scenario_id": scenario.pk,
        "run_id": run.pk,
        "product_id": product_ids[o_item],
        "supply": np.where(make, PlannedOrder.Supply.MAKE.value,
                           PlannedOrder.Supply.BUY.value).astype(object),
        "release_date": changes.release_date[real],
        "due_date": changes.due_date[real],
        "quantity": np.asarray(changes.qty[real], dtype=float),
        "state": PlannedOrder.State.PLANNED.value,
        "past_due": np.asarray(changes.past_due[real], dtype=bool),
        "requisition_line_id": None,
        "production_order_id": None,
    }, count)  # fmt: skip

    line_item, line_local, parent_item, parent_local, target, qty = _through_phantoms(
        result, changes, phantom
    )
    parent = np.maximum(parent_item, 0)
    _pegging_store(
        run,
        first_id[line_item] + line_local,
        np.where(parent_item >= 0, first_id[parent] + parent_local, 0),
        target,
        qty,
        changes.targets,
    )
    stale = PlanPegging.objects.filter(scenario=scenario).exclude(
        Exists(PlannedOrder.unscoped.filter(
            scenario=scenario, pk__gte=OuterRef("first_order"), pk__lte=OuterRef("last_order")))
    )  # fmt: skip
    stale._raw_delete(stale.db)

    _exceptions_insert(run, product_ids[changes.exc_item], changes.exc_kind, changes.exc_date,
                       changes.exc_suggested_date, changes.exc_qty, changes.exc_reference)  # fmt: skip
    return {
        "replanned_items": len(replanned),
        "planned_orders": count,
        "planned_orders_removed": removed,
        "pegging_rows": len(line_item),
        "exceptions": len(changes.exc_item),
    }, first_id


def _through_phantoms(
    result: engine.PlanResult, changes: engine.PlanChanges, phantom: np.ndarray
) -> tuple[np.ndarray, ...]:
    """The single-level pegging lines of `changes` between orders only, as (item, local
    index) pairs: (order item, order local, parent item or -1, parent local, target, qty). A
    phantom's pass-through is not an order: a line to one is replaced by lines to what the
    pass-through serves, pro rata (phantoms inside phantoms too); the pass-through's own lines,
    when the phantom was not replanned, come from the plan's rows of that phantom."""
    shift = np.int64(1) << np.int64(32)
    own = phantom[changes.peg_item]
    keep = ~own
    line_item, line_local = changes.peg_item[keep], changes.peg_local[keep]
    parent_item, parent_local = changes.parent_item[keep], changes.parent_local[keep]
    target, qty = changes.peg_target[keep], changes.peg_qty[keep]
    # the pass-throughs known so far: their quantity and their own lines, by key
    through_o = [changes.order_item[phantom[changes.order_item]] * shift
                 + changes.order_local[phantom[changes.order_item]]]  # fmt: skip
    through_q = [changes.qty[phantom[changes.order_item]]]
    lines = [(changes.peg_item[own] * shift + changes.peg_local[own], changes.parent_item[own],
              changes.parent_local[own], changes.peg_target[own], changes.peg_qty[own])]  # fmt: skip
    known = set(changes.items[phantom[changes.items]].tolist())
    for _depth in range(32):
        via = parent_item >= 0
        via[via] = phantom[parent_item[via]]
        if not via.any():
            break
        missing = sorted(set(parent_item[via].tolist()) - known)
        if missing:
            extra = result.changes(items=np.asarray(missing, dtype=np.int64))
            through_o.append(extra.order_item * shift + extra.order_local)
            through_q.append(extra.qty)
            lines.append((extra.peg_item * shift + extra.peg_local, extra.parent_item,
                          extra.parent_local, extra.peg_target, extra.peg_qty))  # fmt: skip
            known.update(missing)
        o_key, o_qty = np.concatenate(through_o), np.concatenate(through_q)
        sort = np.argsort(o_key)
        o_key, o_qty = o_key[sort], o_qty[sort]
        key, p_item, p_local, p_target, p_qty = (
            np.concatenate(c) for c in zip(*lines, strict=True)
        )
        sort = np.argsort(key, kind="stable")
        key, p_item, p_local, p_target, p_qty = (
            key[sort],
            p_item[sort],
            p_local[sort],
            p_target[sort],
            p_qty[sort],
        )
        wanted = parent_item[via] * shift + parent_local[via]
        rows, (new_item, new_local, new_target), share = _spread_through(
            wanted, qty[via], key, (p_item, p_local, p_target), p_qty, o_key, o_qty
        )
        line_item = np.concatenate([line_item[~via], line_item[via][rows]])
        line_local = np.concatenate([line_local[~via], line_local[via][rows]])
        parent_item = np.concatenate([parent_item[~via], new_item])
        parent_local = np.concatenate([parent_local[~via], new_local])
        target = np.concatenate([target[~via], new_target])
        qty = np.concatenate([qty[~via], share])
    return line_item, line_local, parent_item, parent_local, target, qty


def _spread_through(
    wanted: np.ndarray,
    qty: np.ndarray,
    key: np.ndarray,
    columns: tuple[np.ndarray, ...],
    line_qty: np.ndarray,
    through_key: np.ndarray,
    through_qty: np.ndarray,
) -> tuple[np.ndarray, tuple[np.ndarray, ...], np.ndarray]:
    """Pegging lines of `qty` to pass-throughs (keys `wanted`), spread over what each
    pass-through serves, pro rata: the pass-throughs' own lines are `key` (sorted) with their
    `columns` and `line_qty`; a pass-through's quantity is `through_qty` at its key in
    `through_key` (sorted). Returns, for each new line, the index of the line it comes from,
    its `columns` and its quantity."""
    start = np.searchsorted(key, wanted, side="left")
    counts = np.searchsorted(key, wanted, side="right") - start
    rows = np.repeat(np.arange(len(wanted)), counts)
    picks = np.repeat(start - (np.cumsum(counts) - counts), counts) + np.arange(
        int(counts.sum()), dtype=np.int64
    )
    through = through_qty[np.searchsorted(through_key, wanted[rows])]
    return rows, tuple(c[picks] for c in columns), qty[rows] * line_qty[picks] / through


def single_level_pegging(
    result: engine.PlanResult,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The run's single-level pegging between planned orders only: (order id, parent id or 0,
    target row when the parent is 0, quantity). A phantom's pass-through is not an order: a
    child pegged to one is pegged instead to what the pass-through serves, pro rata (phantoms
    inside phantoms too)."""
    single = result.single_pegging
    n_real = len(result.planned_orders)
    through_qty = np.asarray(result.pass_through.qty, dtype=float)
    through_key = n_real + 1 + np.arange(len(through_qty), dtype=np.int64)  # their order ids
    order_id = np.asarray(single.order_id, dtype=np.int64)
    parent_id = np.asarray(single.parent_id, dtype=np.int64)
    target = np.asarray(single.target, dtype=np.int64)
    qty = np.asarray(single.qty, dtype=float)
    own = order_id > n_real  # the pass-throughs' own rows
    t_order, t_parent, t_target, t_qty = order_id[own], parent_id[own], target[own], qty[own]
    sort = np.argsort(t_order, kind="stable")
    t_order, t_parent, t_target, t_qty = t_order[sort], t_parent[sort], t_target[sort], t_qty[sort]
    keep = ~own
    order_id, parent_id, target, qty = order_id[keep], parent_id[keep], target[keep], qty[keep]
    for _depth in range(32):
        via = parent_id > n_real
        if not via.any():
            break
        rows, (new_parent, new_target), share = _spread_through(
            parent_id[via], qty[via], t_order, (t_parent, t_target), t_qty, through_key, through_qty
        )
        order_id = np.concatenate([order_id[~via], order_id[via][rows]])
        parent_id = np.concatenate([parent_id[~via], new_parent])
        target = np.concatenate([target[~via], new_target])
        qty = np.concatenate([qty[~via], share])
    return order_id, parent_id, target, qty


def pegging_write(run: PlanRun, *, order: np.ndarray, target: np.ndarray, kind: np.ndarray,
                  reference: np.ndarray, labels: list[str], qty: np.ndarray) -> int:  # fmt: skip
    """Store single-level pegging lines of the run's scenario (column arrays of one length:
    planned order id, parent order id or demand row id (-1: none), `DEMANDS` index, index of
    the line's reference in `labels` (-1: none), quantity) as `PlanPegging` chunks of about
    `PEG_CHUNK` lines sorted by order (an order's lines in one chunk). Returns the number of
    chunks."""
    count = len(order)
    if not count:
        return 0
    sort = np.argsort(order, kind="stable")
    records = np.empty(count, dtype=PEG_RECORD)
    records["order"], records["target"] = order[sort], target[sort]
    records["kind"], records["qty"] = kind[sort], np.round(qty[sort], 6)
    references = np.asarray(reference, dtype=np.int64)[sort]
    # cut every PEG_CHUNK lines, moved back to the start of the order it falls in
    new_order = np.flatnonzero(np.r_[True, records["order"][1:] != records["order"][:-1]])
    cuts = np.unique(new_order[np.searchsorted(new_order, np.arange(0, count, PEG_CHUNK),
                                               side="right") - 1])  # fmt: skip
    rows = []
    for lo, hi in itertools.pairwise([*cuts.tolist(), count]):
        chunk = records[lo:hi]
        used, chunk["ref"] = np.unique(references[lo:hi], return_inverse=True)
        texts = (labels[r].replace("\n", " ") if r >= 0 else "" for r in used.tolist())
        rows.append((run.scenario_id, run.pk, int(chunk["order"][0]), int(chunk["order"][-1]),
                     hi - lo, zlib.compress(chunk.tobytes(), 1), "\n".join(texts)))  # fmt: skip
    bulkwrite.rows_insert(
        PlanPegging,
        ["scenario", "run", "first_order", "last_order", "lines", "data", "references"],
        rows,
    )
    return len(rows)


@dataclass
class PegLine:
    """One line of pegging: what `quantity` of `order_id` serves — a parent planned order
    (`parent_id`) or a demand (`demand`, `demand_id`, `reference`)."""

    demand: str
    demand_id: int | None
    reference: str
    quantity: Decimal
    order_id: int = 0
    parent_id: int | None = None
    parent: PlannedOrder | None = None

    @property
    def label(self) -> str:
        return str(PegDemand(self.demand).label)

    def get_demand_display(self) -> str:
        return self.label


def _peg_quantity(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Q6)


def pegs_of(scenario_id: int, order_ids: Iterable[int]) -> dict[int, list[PegLine]]:
    """The single-level pegging of the scenario's planned orders `order_ids`, by order (an
    order without pegging is missing): two queries, whatever the number of orders."""
    wanted = np.unique(np.fromiter(order_ids, dtype=np.int64))
    if not len(wanted):
        return {}
    chunks = list(
        PlanPegging.objects.filter(scenario_id=scenario_id, first_order__lte=int(wanted[-1]),
                                   last_order__gte=int(wanted[0]))
        .values_list("pk", "first_order", "last_order").order_by("first_order")
    )  # fmt: skip
    if not chunks:
        return {}
    firsts = np.asarray([c[1] for c in chunks], dtype=np.int64)
    lasts = np.asarray([c[2] for c in chunks], dtype=np.int64)
    at = np.searchsorted(firsts, wanted, side="right") - 1
    inside = (at >= 0) & (wanted <= lasts[np.maximum(at, 0)])
    needed = sorted({chunks[i][0] for i in at[inside].tolist()})
    found: dict[int, list[PegLine]] = {}
    for data, references in PlanPegging.objects.filter(pk__in=needed).values_list(
        "data", "references"
    ):
        records = np.frombuffer(zlib.decompress(bytes(data)), dtype=PEG_RECORD)
        labels = references.split("\n")
        keep = np.isin(records["order"], wanted)
        for record in records[keep].tolist():
            order, target, kind, ref, qty = record
            demand = DEMANDS[kind]
            is_order = demand == PegDemand.ORDER
            found.setdefault(order, []).append(PegLine(
                demand=demand, demand_id=None if is_order or target < 0 else target,
                reference=labels[ref], quantity=_peg_quantity(qty), order_id=order,
                parent_id=target if is_order else None,
            ))  # fmt: skip
    return found


def pegging_full(order: PlannedOrder) -> list[PegLine]:
    """The demands `order` ultimately serves and how much of it each takes (in its unit),
    composed from the single-level lines level by level: what a planned order gives a parent
    order counts for the parent's own demands pro rata. A few queries per BOM level."""
    found: dict[tuple[str, int | None, str], Decimal] = defaultdict(lambda: ZERO)
    weights: dict[int, Decimal] = {order.pk: Decimal(1)}
    for _level in range(64):
        if not weights:
            break
        lines = pegs_of(order.scenario_id, weights)
        parents = {p.parent_id for rows in lines.values() for p in rows if p.parent_id}
        sizes = dict(
            PlannedOrder.unscoped.filter(pk__in=sorted(parents)).values_list("pk", "quantity")
        )
        following: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for pk, rows in lines.items():
            weight = weights[pk]
            for p in rows:
                if p.parent_id:
                    if p.parent_id in sizes:  # a parent replaced since: nothing to follow
                        following[p.parent_id] += weight * p.quantity / sizes[p.parent_id]
                else:
                    found[(p.demand, p.demand_id, p.reference)] += weight * p.quantity
        weights = dict(following)
    return [
        PegLine(demand, demand_id, reference, quantity.quantize(Q6))
        for (demand, demand_id, reference), quantity in sorted(
            found.items(), key=lambda item: (item[0][0], item[0][2])
        )
    ]


def register() -> None:
    jobs.register("manufacturing.mrp_run", mrp_run_job)


def forecast_statistical_replace(
    *, company: Company, actor: Any, rows: Iterable[tuple[int, dt.date, Decimal]],
    product_ids: Iterable[int] | None = None, note: str = "",
) -> int:  # fmt: skip
    """Replace the company's statistical forecast (source `statistical`) by `rows` (product id,
    date, quantity), in one transaction: every product's, or only that of `product_ids`. The
    manual and imported forecasts (the planner's overrides) are never touched. Refuses, with a
    ValidationError and nothing written, a product that is not a stockable one of the company
    (or outside `product_ids`), a negative quantity and two rows for one product and date.
    Returns the number of rows written."""
    rows = [(int(p), d, Decimal(q)) for p, d, q in rows]
    scope = None if product_ids is None else {int(p) for p in product_ids}
    allowed = set(
        Product.unscoped.filter(company=company, pk__in={p for p, _d, _q in rows})
        .exclude(type=Product.Type.SERVICE).values_list("pk", flat=True)
    )  # fmt: skip
    errors: dict[str, list[str]] = {}
    seen: set[tuple[int, dt.date]] = set()
    for product_id, date, quantity in rows:
        if product_id not in allowed or (scope is not None and product_id not in scope):
            errors.setdefault("product", [_("Choose a stockable product of this company.")])
        if quantity < 0:
            errors.setdefault("quantity", [_("Enter a quantity of zero or more.")])
        if (product_id, date) in seen:
            errors.setdefault("date", [_("One forecast per product and date.")])
        seen.add((product_id, date))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        old = Forecast.unscoped.filter(company=company, source=Forecast.Source.STATISTICAL)
        if scope is not None:
            old = old.filter(product_id__in=sorted(scope))
        old.delete()
        Forecast.unscoped.bulk_create(
            [Forecast(company=company, product_id=p, date=d, quantity=q, note=note[:200],
                      source=Forecast.Source.STATISTICAL) for p, d, q in rows],
            batch_size=2000,
        )  # fmt: skip
    return len(rows)
