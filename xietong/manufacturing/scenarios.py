"""What-if plans: a scenario is a copy of the live plan with changes — demand up or down in
percent, a work center's hours per day or parallel units (an extra shift, a machine down), a
product's lead time — run through MRP and CRP on its own, compared with the live plan on the
same key figures, and released: its capacity and lead-time changes are applied to the master
data and its plan becomes the live one (the old live plan is archived).

`changes` (JSON): {"demand_percent": 120, "work_centers": {"<id>": {"hours_per_day": 16,
"units": 2}}, "lead_time_days": {"<product id>": 10}}."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import scipy.sparse as sp
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.models import Company
from xietong.manufacturing import capacity
from xietong.manufacturing.models import PlanException, PlannedOrder, PlanRun, Scenario
from xietong.manufacturing.mrp import engine
from xietong.manufacturing.planning import (
    live_scenario,
    plan_input_build,
    plan_start,
    planning_settings,
)
from xietong.product.models import Product, WorkCenter

ZERO = Decimal(0)


def _clean_changes(company: Company, changes: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    percent = changes.get("demand_percent")
    if percent not in (None, ""):
        try:
            value = Decimal(str(percent))
        except ArithmeticError:
            value = Decimal(-1)
        if not value.is_finite() or value < 0 or value > 1000:
            errors["demand_percent"] = [_("Enter a percentage between 0 and 1000.")]
        else:
            clean["demand_percent"] = float(value)
    centers = {}
    for key, change in (changes.get("work_centers") or {}).items():
        if not WorkCenter.unscoped.filter(company=company, pk=int(key)).exists():
            errors["work_centers"] = [_("Choose a work center of this company.")]
            continue
        hours, units = change.get("hours_per_day"), change.get("units")
        entry: dict[str, Any] = {}
        if hours not in (None, ""):
            if not 0 <= float(hours) <= 24:
                errors["hours_per_day"] = [_("Hours per day are between 0 and 24.")]
            entry["hours_per_day"] = float(hours)
        if units not in (None, ""):
            if int(units) < 0:
                errors["units"] = [_("Enter zero or more units.")]
            entry["units"] = int(units)
        if entry:
            centers[str(int(key))] = entry
    if centers:
        clean["work_centers"] = centers
    leads = {}
    for key, days in (changes.get("lead_time_days") or {}).items():
        if not Product.unscoped.filter(company=company, pk=int(key)).exists():
            errors["lead_time_days"] = [_("Choose a product of this company.")]
        elif int(days) < 0:
            errors["lead_time_days"] = [_("Enter zero or more days.")]
        else:
            leads[str(int(key))] = int(days)
    if leads:
        clean["lead_time_days"] = leads
    if errors:
        raise ValidationError(errors)
    return clean


def scenario_create(*, company: Company, actor: Any, name: str,
                    changes: dict[str, Any]) -> Scenario:  # fmt: skip
    """A draft what-if copy of the live plan with `changes` (checked; ValidationError and
    nothing written when one is wrong)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Give the scenario a name.")]})
    clean = _clean_changes(company, changes)
    return Scenario.unscoped.create(
        company=company, name=name[:80], base=live_scenario(company), changes=clean,
        created_by=actor if getattr(actor, "pk", None) else None,
    )  # fmt: skip


def scenario_kpis(*, scenario: Scenario) -> dict[str, Any]:
    """The key figures of a scenario's latest plan: planned orders and their value (at the
    products' cost), releases already past due, exception messages, overloaded work-center
    buckets and the worst load; the service level (sales order lines the plan covers on time,
    the late ones) and the projected inventory value (average and at the end of the horizon)
    — `plan_projection`."""
    orders = PlannedOrder.unscoped.filter(scenario=scenario, state=PlannedOrder.State.PLANNED)
    totals = orders.aggregate(
        n=Count("pk"), value=Sum(F("quantity") * F("product__standard_cost")),
        past_due=Count("pk", filter=Q(past_due=True)),
    )  # fmt: skip
    exceptions = PlanException.unscoped.filter(scenario=scenario).count()
    settings = planning_settings(scenario.company)
    plan = capacity.capacity_plan(
        company=scenario.company, scenario=scenario,
        start=plan_start(timezone.localdate(), settings.bucket), bucket=settings.bucket,
        horizon=min(settings.horizon, 26),
    )  # fmt: skip
    worst = max((plan.utilisation(c.pk, b) or 0 for c in plan.centers
                 for b in range(len(plan.dates))), default=0)  # fmt: skip
    last = PlanRun.unscoped.filter(scenario=scenario).order_by("-requested_at", "-pk").first()
    projection = plan_projection(scenario=scenario)
    return {
        "planned_orders": totals["n"] or 0,
        "planned_value": (totals["value"] or ZERO).quantize(Decimal("0.01")),
        "past_due": totals["past_due"] or 0,
        "exceptions": exceptions,
        "overloads": len(plan.overloads()),
        "worst_load_percent": round(worst * 100),
        "service_level_percent": projection.service_level_percent,
        "late_order_lines": projection.late_lines,
        "order_lines": projection.lines,
        "inventory_value_average": projection.value_average,
        "inventory_value_end": projection.value_end,
        "run": last,
    }


@dataclass
class PlanProjection:
    """What a scenario's plan promises: sales order lines inside the horizon (`lines`), those
    it cannot cover by their date (`late_lines`, with their line ids), and the projected stock
    value per bucket (at standard cost, else moving average cost)."""

    lines: int
    late_lines: int
    late_line_ids: list[int]
    value_per_bucket: list[Decimal]

    @property
    def service_level_percent(self) -> Decimal | None:
        if not self.lines:
            return None
        return (Decimal(100) * (self.lines - self.late_lines) / self.lines).quantize(Decimal("0.1"))

    @property
    def value_average(self) -> Decimal:
        values = self.value_per_bucket
        return (sum(values, ZERO) / len(values)).quantize(Decimal("0.01")) if values else ZERO

    @property
    def value_end(self) -> Decimal:
        return (
            self.value_per_bucket[-1].quantize(Decimal("0.01")) if self.value_per_bucket else ZERO
        )


def _days(values: list[Any]) -> np.ndarray:
    if not values:
        return np.zeros(0, np.int64)
    return np.asarray(values, dtype="datetime64[D]").astype(np.int64)


def _group_cumsum(item: np.ndarray, qty: np.ndarray) -> np.ndarray:
    """Running totals of `qty` restarting at each item (`item` sorted)."""
    if len(qty) == 0:
        return np.zeros(0)
    total = np.cumsum(qty)
    first = np.ones(len(item), dtype=bool)
    first[1:] = item[1:] != item[:-1]
    starts = np.flatnonzero(first)
    return total - (total[starts] - qty[starts])[np.cumsum(first) - 1]


def plan_projection(*, scenario: Scenario, today: dt.date | None = None) -> PlanProjection:
    """Project the stock of every item under the scenario's plan, set-based (numpy over items ×
    buckets; a handful of queries, none per item), on the scenario's own input (its demand
    and lead-time changes; `plan_input_build`) and its planned orders.

    Supply: on hand, scheduled receipts, firm MPS entries, and the planned orders — each
    available on its due date, or, when its release is already late, the plan's start plus its
    lead time (it cannot come sooner). Demand: the independent demand lines and the dependent
    demand of the planned make orders and firm MPS entries at their release (through phantoms).

    Service level: per item, the demand lines and the supplies in date order (supplies first on
    a day); a sales order line is late when the balance after it is below zero, i.e. on hand +
    supply available by its date − the demand up to it does not cover it. A line split over
    several deliveries is late when one of them is. Inventory value: the projected on hand per
    bucket end (negative: none) × unit cost, summed over the items."""
    company = scenario.company
    settings = planning_settings(company)
    last = (PlanRun.unscoped.filter(scenario=scenario, state=PlanRun.State.DONE)
            .order_by("-requested_at", "-pk").first())  # fmt: skip
    if last is not None:
        start, bucket, horizon = last.start, last.bucket, last.horizon
    else:
        bucket, horizon = settings.bucket, settings.horizon
        start = plan_start(today or timezone.localdate(), bucket)
    data = plan_input_build(company=company, start=start, bucket=bucket, horizon=horizon,
                            settings=settings, changes=scenario.changes)  # fmt: skip
    inp = data.input
    n, T, blen = len(inp.items), int(horizon), engine.BUCKET_DAYS[bucket]
    day0 = int(np.datetime64(start, "D").astype(np.int64))
    end = day0 + blen * T
    item_of = {pk: k for k, pk in enumerate(data.product_ids)}
    codes = inp.items.code
    order = np.argsort(codes, kind="stable")

    def index(values: Any) -> np.ndarray:
        values = np.asarray(values, dtype=codes.dtype if len(codes) else str)
        if len(values) == 0 or n == 0:
            return np.zeros(0, np.int64)
        return order[np.searchsorted(codes[order], values)]

    def clamp(days: np.ndarray) -> np.ndarray:
        return np.maximum(days, day0)

    def bucket_of(days: np.ndarray) -> np.ndarray:
        return (clamp(days) - day0) // blen

    # planned orders of the scenario: arrival date, release bucket (make orders explode)
    rows = list(PlannedOrder.unscoped.filter(scenario=scenario, state=PlannedOrder.State.PLANNED)
                .values_list("product_id", "supply", "release_date", "due_date", "quantity"))  # fmt: skip
    rows = [r for r in rows if r[0] in item_of]
    p_item = np.asarray([item_of[r[0]] for r in rows], dtype=np.int64)
    p_make = np.asarray([r[1] == PlannedOrder.Supply.MAKE for r in rows], dtype=bool)
    p_release, p_due = _days([r[2] for r in rows]), _days([r[3] for r in rows])
    p_qty = np.asarray([float(r[4]) for r in rows], dtype=np.float64)
    lead = inp.items.lead_time_days
    p_arrival = np.maximum(p_due, clamp(p_release) + lead[p_item])

    # firm MPS entries: supply on their date; they explode at due − lead time
    firm = inp.firm if inp.firm is not None else engine.DatedTable()
    f_item, f_day, f_qty = index(firm.item), firm.date, firm.qty

    # dependent demand (items × buckets) of the make orders and firm entries at their release
    make_or_phantom = (inp.items.make_or_buy == "make") | inp.items.phantom
    parent, child = index(inp.bom.parent), index(inp.bom.component)
    keep = make_or_phantom[parent] if len(parent) else np.zeros(0, bool)
    A = sp.csr_matrix((inp.bom.qty_per[keep], (parent[keep], child[keep])), shape=(n, n))
    rel_item = np.concatenate([p_item[p_make], f_item])
    rel_day = np.concatenate([clamp(p_release[p_make]), f_day - lead[f_item]])
    rel_qty = np.concatenate([p_qty[p_make], f_qty])
    inside = (bucket_of(rel_day) < T) & (np.concatenate([p_due[p_make], f_day]) < end)
    R = sp.csr_matrix((rel_qty[inside], (rel_item[inside], bucket_of(rel_day)[inside])),
                      shape=(n, T))  # fmt: skip
    dependent = sp.csr_matrix((n, T))
    phantom = inp.items.phantom
    step = (A.T @ R).tocsr()
    for _level in range(64):  # a phantom passes its requirement on to its components
        if step.nnz == 0:
            break
        through = sp.diags(phantom.astype(np.float64)) @ step
        dependent = dependent + (step - through)
        step = (A.T @ through).tocsr()
    dependent = dependent.tocoo()

    # events per item: supplies (kind 0) then demands (kind 1) on a day; in the horizon only
    dem = inp.demands
    d_item = index(dem.item)
    d_in = dem.date < end
    is_sales = np.asarray([ref.startswith("sales:") for ref in dem.reference.tolist()], dtype=bool)
    rec = inp.receipts
    r_item = index(rec.item)
    s_item = np.concatenate([r_item, f_item, p_item])
    s_day = clamp(np.concatenate([rec.date, f_day, p_arrival]))
    s_qty = np.concatenate([rec.qty, f_qty, p_qty])
    s_in = s_day < end
    dep_day = day0 + blen * dependent.col.astype(np.int64)
    e_item = np.concatenate([s_item[s_in], d_item[d_in], dependent.row.astype(np.int64)])
    e_day = np.concatenate([s_day[s_in], clamp(dem.date[d_in]), dep_day])
    e_kind = np.concatenate([np.zeros(int(s_in.sum()), np.int64),
                             np.ones(int(d_in.sum()) + dependent.nnz, np.int64)])  # fmt: skip
    e_qty = np.concatenate([s_qty[s_in], -dem.qty[d_in], -dependent.data])
    e_line = np.concatenate([np.full(int(s_in.sum()), -1), np.flatnonzero(d_in),
                             np.full(dependent.nnz, -1)])  # fmt: skip
    o = np.lexsort((e_kind, e_day, e_item))
    e_item, e_day, e_qty, e_line = e_item[o], e_day[o], e_qty[o], e_line[o]
    balance = inp.items.on_hand[e_item] + _group_cumsum(e_item, e_qty)
    late_rows = e_line[(e_line >= 0) & (balance < -1e-9)]
    late_rows = late_rows[is_sales[late_rows]]

    def line_ids(found: np.ndarray) -> set[int]:
        return {int(str(ref).split(":")[1] or 0) for ref in dem.reference[found]}

    all_lines = line_ids(np.flatnonzero(d_in & is_sales))
    late = line_ids(late_rows)

    # projected on hand at each bucket's end × unit cost
    def cell(item: np.ndarray, day: np.ndarray) -> np.ndarray:
        return item * T + bucket_of(day)

    flow = np.zeros(n * T)
    np.add.at(flow, cell(s_item[s_in], s_day[s_in]), s_qty[s_in])
    np.add.at(flow, cell(d_item[d_in], dem.date[d_in]), -dem.qty[d_in])
    flow = flow.reshape(n, T) - dependent.toarray()
    projected = np.maximum(inp.items.on_hand[:, None] + np.cumsum(flow, axis=1), 0.0)
    costs = {pk: standard or average for pk, standard, average in Product.unscoped.filter(
        pk__in=data.product_ids).values_list("pk", "standard_cost", "average_cost")}  # fmt: skip
    unit_cost = np.asarray([float(costs[pk] or 0) for pk in data.product_ids], dtype=np.float64)
    values = unit_cost @ projected if n else np.zeros(T)
    return PlanProjection(
        lines=len(all_lines),
        late_lines=len(late),
        late_line_ids=sorted(late),
        value_per_bucket=[Decimal(repr(round(float(v), 2))) for v in values],
    )


def scenario_release(*, scenario: Scenario, actor: Any) -> Scenario:
    """Make a run what-if scenario the live plan: its work-center and lead-time changes are
    written to the master data, the old live plan is archived. Refuses a scenario that is not
    a draft or has not been run."""
    with transaction.atomic():
        scenario = Scenario.unscoped.select_for_update().get(pk=scenario.pk)
        if scenario.live or scenario.state != Scenario.State.DRAFT:
            raise ValidationError({"state": [_("Only a draft what-if scenario can be released.")]})
        if not PlanRun.unscoped.filter(scenario=scenario, state=PlanRun.State.DONE).exists():
            raise ValidationError({"state": [_("Run MRP in the scenario before releasing it.")]})
        company = scenario.company
        for key, change in scenario.changes.get("work_centers", {}).items():
            center = WorkCenter.unscoped.get(company=company, pk=int(key))
            if "hours_per_day" in change:
                center.hours_per_day = Decimal(str(change["hours_per_day"]))
            if "units" in change:
                center.units = int(change["units"])
            center.save(update_fields=["hours_per_day", "units"])
        for key, days in scenario.changes.get("lead_time_days", {}).items():
            product = Product.unscoped.get(company=company, pk=int(key))
            field = ("manufacturing_lead_days" if product.supply == Product.Supply.MAKE
                     else "purchase_lead_days")  # fmt: skip
            setattr(product, field, int(days))
            product.save(update_fields=[field])
        Scenario.unscoped.filter(company=company, live=True).update(
            live=False, state=Scenario.State.ARCHIVED
        )
        # applied (or, for demand, only ever hypothetical): later runs plan the real data
        scenario.changes = {"applied": scenario.changes}
        scenario.live, scenario.state = True, Scenario.State.RELEASED
        scenario.save(update_fields=["live", "state", "changes"])
    return scenario
