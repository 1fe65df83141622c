"""What-if plans: a scenario is a copy of the live plan with changes — demand up or down in
percent, a work center's hours per day or parallel units (an extra shift, a machine down), a
product's lead time — run through MRP and CRP on its own, compared with the live plan on the
same key figures, and released: its capacity and lead-time changes are applied to the master
data and its plan becomes the live one (the old live plan is archived).

`changes` (JSON): {"demand_percent": 120, "work_centers": {"<id>": {"hours_per_day": 16,
"units": 2}}, "lead_time_days": {"<product id>": 10}}."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.models import Company
from xietong.manufacturing import capacity
from xietong.manufacturing.models import PlanException, PlannedOrder, PlanRun, Scenario
from xietong.manufacturing.planning import live_scenario, plan_start, planning_settings
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
    buckets and the worst load."""
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
    return {
        "planned_orders": totals["n"] or 0,
        "planned_value": (totals["value"] or ZERO).quantize(Decimal("0.01")),
        "past_due": totals["past_due"] or 0,
        "exceptions": exceptions,
        "overloads": len(plan.overloads()),
        "worst_load_percent": round(worst * 100),
        "run": last,
    }


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
