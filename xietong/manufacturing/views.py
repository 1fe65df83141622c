"""Screens of manufacturing: the planner's workspace (run MRP as a job, the planned orders to
firm, the exception messages), a planned order with its pegging, forecasts, production orders
with their materials and operations, and the planning settings. Each view parses input, calls
one service or selector and renders; its permission is declared on it (`@requires`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_POST

from xietong.core.documents import quantity_text
from xietong.core.forms import DateInput
from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import (
    ShellForm,
    apply_errors,
    form_response,
    get_or_404,
    history_for,
)
from xietong.finance.views.common import Badge
from xietong.manufacturing import capacity, execution, mps, planning, scenarios
from xietong.manufacturing.firming import planned_orders_firm
from xietong.manufacturing.models import (
    Forecast,
    PlanException,
    PlannedOrder,
    PlanningSettings,
    PlanRun,
    ProductionOperation,
    ProductionOrder,
    Scenario,
)
from xietong.manufacturing.production import production_order_release
from xietong.product.models import Product, WorkCenter

SHOWN = 100
STYLES = {
    "planned": "info", "firmed": "success", "draft": "secondary", "released": "primary",
    "in_progress": "warning", "done": "success", "closed": "dark", "cancelled": "danger",
    "queued": "secondary", "running": "warning", "failed": "danger",
    "expedite": "danger", "defer": "info", "cancel": "warning", "past_due": "danger",
    "below_safety": "warning",
}  # fmt: skip


def _badge(obj: Any, field_name: str = "state") -> Badge:
    value = getattr(obj, field_name)
    return Badge(getattr(obj, f"get_{field_name}_display")(), STYLES.get(value, "secondary"))


def _quantity(value: Any) -> str:
    return "" if value is None else quantity_text(value)


# --- the planner's workspace --------------------------------------------------------------------


@requires("manufacturing.view")
def workspace(request: HttpRequest) -> HttpResponse:
    scenario = planning.live_scenario(request.company)
    last = PlanRun.objects.filter(scenario=scenario).select_related("job").first()
    supply = request.GET.get("supply", "")
    planned = PlannedOrder.objects.filter(scenario=scenario, state=PlannedOrder.State.PLANNED)
    counts = dict(planned.values("supply").annotate(n=Count("pk")).values_list("supply", "n"))
    if supply in PlannedOrder.Supply.values:
        planned = planned.filter(supply=supply)
    rows = list(planned.select_related("product__uom").order_by("release_date", "product__sku")
                [:SHOWN])  # fmt: skip
    exceptions = PlanException.objects.filter(scenario=scenario)
    context = {
        "title": _("Production planning"),
        "scenario": scenario,
        "last": last,
        "last_badge": _badge(last) if last else None,
        "running": bool(last and last.state in (PlanRun.State.QUEUED, PlanRun.State.RUNNING)),
        "last_fallback": last
        and last.kind == PlanRun.Kind.NET_CHANGE
        and planning.NET_CHANGE_FALLBACK.get(last.figures.get("net_change", "")),
        "can_plan": has_perm(request, "manufacturing.plan"),
        "supply": supply,
        "counts": {"buy": counts.get("buy", 0), "make": counts.get("make", 0)},
        "planned": [{"row": r, "quantity": _quantity(r.quantity)} for r in rows],
        "more": planned.count() - len(rows),
        "exception_counts": list(
            exceptions.values("kind").annotate(n=Count("pk")).order_by("kind")
        ),
        "exceptions": [
            {"row": e, "badge": _badge(e, "kind"), "quantity": _quantity(e.quantity)}
            for e in exceptions.select_related("product").order_by("date")[:50]
        ],
    }
    for entry in context["exception_counts"]:
        entry["label"] = PlanException.Kind(entry["kind"]).label
    return render(request, "manufacturing/workspace.html", context)


@require_POST
@requires("manufacturing.plan")
def run(request: HttpRequest) -> HttpResponse:
    try:
        made = planning.mrp_run_request(
            company=request.company, actor=request.user,
            kind=request.POST.get("kind") or PlanRun.Kind.REGENERATIVE,
        )  # fmt: skip
    except planning.PlanningError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("MRP is running in the background; the plan is replaced "
                                    "when it finishes."))  # fmt: skip
        if made.job_id:
            return redirect("core:job_detail", made.job_id)
    return redirect("manufacturing:workspace")


@require_POST
@requires("manufacturing.plan")
def firm(request: HttpRequest) -> HttpResponse:
    ids = [int(pk) for pk in request.POST.getlist("order") if pk.isdigit()]
    orders = list(PlannedOrder.objects.filter(pk__in=ids))
    if len(orders) != len(ids):
        raise Http404
    try:
        firmed = planned_orders_firm(company=request.company, actor=request.user, orders=orders)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("manufacturing:workspace")
    parts = []
    if firmed.requisition:
        parts.append(_("requisition %(number)s") % {"number": firmed.requisition.number})
    if firmed.production_orders:
        parts.append(_("%(count)s production orders") % {"count": len(firmed.production_orders)})
    messages.success(request, _("Firmed into %(what)s.") % {"what": ", ".join(parts)})
    return redirect("manufacturing:workspace")


@requires("manufacturing.view")
def planned_detail(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_or_404(PlannedOrder.objects.select_related("product__uom", "run", "production_order",
                                                   "requisition_line__requisition"), pk)  # fmt: skip
    direct = sorted(planning.pegs_of(row.scenario_id, [row.pk]).get(row.pk, []),
                    key=lambda p: (p.demand, p.reference))  # fmt: skip
    parents = PlannedOrder.objects.select_related("product").in_bulk(
        [p.parent_id for p in direct if p.parent_id]
    )
    for peg in direct:
        peg.parent = parents.get(peg.parent_id) if peg.parent_id else None
    full = planning.pegging_full(row)
    return render(request, "manufacturing/planned_detail.html", {
        "title": _("Planned order: %(product)s") % {"product": row.product},
        "row": row, "badge": _badge(row), "quantity": _quantity(row.quantity),
        "direct": [{"peg": p, "quantity": _quantity(p.quantity)} for p in direct],
        "pegs": [{"peg": p, "quantity": _quantity(p.quantity)} for p in full],
        "pegged": _quantity(sum((p.quantity for p in full), start=0)),
    })  # fmt: skip


# --- forecasts ----------------------------------------------------------------------------------

FORECAST_LIST = ListScreen(
    key="manufacturing-forecasts",
    title=gettext_lazy("Forecasts"),
    columns=[
        Column(
            "product",
            gettext_lazy("Product"),
            accessor=lambda f: str(f.product),
            order_by="product__sku",
        ),
        Column("date", gettext_lazy("From"), order_by="date"),
        Column(
            "quantity",
            gettext_lazy("Quantity"),
            accessor=lambda f: _quantity(f.quantity),
            order_by="quantity",
        ),
        Column("source", gettext_lazy("Source"), accessor=lambda f: f.get_source_display()),
        Column("note", gettext_lazy("Note")),
    ],  # fmt: skip
    search_fields=["product__sku", "product__name", "note"],
    filters=[
        Filter(
            "source",
            gettext_lazy("Source"),
            "source",
            choices=lambda r: [(str(v), str(lb)) for v, lb in Forecast.Source.choices],
        ),
    ],  # fmt: skip
    default_sort="date",
)


@requires("manufacturing.view")
def forecast_list(request: HttpRequest) -> HttpResponse:
    rows = Forecast.objects.select_related("product")
    actions = []
    if has_perm(request, "manufacturing.plan"):
        actions = [(_("New forecast"), reverse("manufacturing:forecast_create"))]
    return list_response(request, FORECAST_LIST, rows, extra={"actions": actions})


class ForecastForm(ShellForm):
    product = forms.ModelChoiceField(
        label=gettext_lazy("Product"), queryset=Product.unscoped.none()
    )
    date = forms.DateField(label=gettext_lazy("From"), widget=DateInput)
    quantity = forms.DecimalField(label=gettext_lazy("Quantity"), min_value=0, max_digits=18,
                                  decimal_places=6)  # fmt: skip
    note = forms.CharField(label=gettext_lazy("Note"), max_length=200, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = (
            Product.objects.filter(active=True).exclude(type=Product.Type.SERVICE).order_by("sku")
        )


@requires("manufacturing.plan")
def forecast_create(request: HttpRequest) -> HttpResponse:
    form = ForecastForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            planning.forecast_set(company=request.company, actor=request.user,
                                  **form.cleaned_data)  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Forecast saved."))
            return redirect("manufacturing:forecast_list")
    return form_response(request, form=form, title=_("New forecast"),
                         cancel_url=reverse("manufacturing:forecast_list"),
                         status=400 if form.errors else 200)  # fmt: skip


# --- production orders --------------------------------------------------------------------------

ORDER_LIST = ListScreen(
    key="manufacturing-orders",
    title=gettext_lazy("Production orders"),
    columns=[
        Column("number", gettext_lazy("Number"), order_by="number", link=True),
        Column(
            "product",
            gettext_lazy("Product"),
            accessor=lambda o: str(o.product),
            order_by="product__sku",
        ),
        Column("quantity", gettext_lazy("Quantity"), accessor=lambda o: _quantity(o.quantity)),
        Column("start_date", gettext_lazy("Start"), order_by="start_date"),
        Column("due_date", gettext_lazy("Due"), order_by="due_date"),
        Column("state", gettext_lazy("State"), accessor=_badge, order_by="state"),
        Column("origin", gettext_lazy("Source document")),
    ],  # fmt: skip
    search_fields=["number", "product__sku", "product__name", "origin"],
    filters=[
        Filter(
            "state",
            gettext_lazy("State"),
            "state",
            choices=lambda r: [(str(v), str(lb)) for v, lb in ProductionOrder.State.choices],
        ),
    ],  # fmt: skip
    default_sort="-start_date",
    detail_url=lambda o: reverse("manufacturing:order_detail", args=[o.pk]),
)


@requires("manufacturing.view")
def order_list(request: HttpRequest) -> HttpResponse:
    rows = ProductionOrder.objects.select_related("product")
    return list_response(request, ORDER_LIST, rows)


@requires("manufacturing.view")
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_or_404(
        ProductionOrder.objects.select_related("product", "uom", "warehouse", "bom"), pk
    )
    actions = []
    produce = has_perm(request, "manufacturing.produce")
    if row.state == ProductionOrder.State.DRAFT and produce:
        actions.append({"label": pgettext("production order", "Release"), "post": True, "style": "success", "id": "release",
                        "url": reverse("manufacturing:order_release", args=[pk])})  # fmt: skip
    if row.state in ProductionOrder.RUNNING_STATES and produce:
        actions.append({"label": _("Finish"), "style": "success", "id": "finish",
                        "url": reverse("manufacturing:order_finish", args=[pk])})  # fmt: skip
    if row.state == ProductionOrder.State.DONE and has_perm(request, "manufacturing.plan"):
        actions.append({"label": _("Close and post variances"), "post": True, "id": "close",
                        "style": "primary",
                        "url": reverse("manufacturing:order_close", args=[pk])})  # fmt: skip
    costs = None
    if row.state in (ProductionOrder.State.DONE, ProductionOrder.State.CLOSED):
        found = execution.variances(row)
        costs = [
            {"label": _("Material"), "actual": row.material_cost, "variance": found["material"]},
            {"label": _("Labour"), "actual": row.labour_cost, "variance": found["labour"]},
            {"label": _("Overhead"), "actual": row.overhead_cost, "variance": found["overhead"]},
        ]
    operations = list(row.operations.select_related("work_center"))
    return render(request, "manufacturing/order_detail.html", {
        "title": _("Production order %(number)s") % {"number": row.number},
        "row": row, "badge": _badge(row), "actions": actions,
        "quantity": _quantity(row.quantity),
        "materials": [{"m": m, "required": _quantity(m.required_qty),
                       "issued": _quantity(m.issued_qty)}
                      for m in row.materials.select_related("product", "uom")],
        "operations": [{"op": op, "badge": _badge(op), "planned": _quantity(op.planned_minutes),
                        "actual": _quantity(op.actual_minutes)} for op in operations],
        "minutes": _quantity(sum((op.planned_minutes for op in operations), start=0)),
        "costs": costs, "planned_cost": execution.planned_cost(row),
        "history": history_for(row),
    })  # fmt: skip


@require_POST
@requires("manufacturing.produce")
def order_release(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_or_404(ProductionOrder.objects.all(), pk)
    try:
        production_order_release(order=row, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("%(number)s released: materials reserved as far as stock "
                                    "allows.") % {"number": row.number})  # fmt: skip
    return redirect("manufacturing:order_detail", pk)


# --- settings -----------------------------------------------------------------------------------


class SettingsForm(forms.ModelForm):
    class Meta:
        model = PlanningSettings
        fields = ["bucket", "horizon", "frozen_days", "slushy_days", "consume_backward_days",
                  "consume_forward_days", "warehouse", "absorption_account",
                  "variance_account"]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from xietong.finance.models import Account
        from xietong.inventory.models import Warehouse

        self.fields["warehouse"].queryset = Warehouse.objects.filter(active=True)
        for name in ("absorption_account", "variance_account"):
            self.fields[name].queryset = Account.objects.filter(is_group=False).order_by("code")
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)


@requires("manufacturing.configure")
def settings_edit(request: HttpRequest) -> HttpResponse:
    settings = planning.planning_settings(request.company)
    form = SettingsForm(request.POST or None, instance=settings)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Planning settings saved."))
        return redirect("manufacturing:settings_edit")
    return form_response(request, form=form, title=_("Planning settings"),
                         cancel_url=reverse("manufacturing:workspace"),
                         status=400 if form.errors else 200)  # fmt: skip


urlpatterns = [
    path("", workspace, name="workspace"),
    path("run/", run, name="run"),
    path("firm/", firm, name="firm"),
    path("planned/<int:pk>/", planned_detail, name="planned_detail"),
    path("forecasts/", forecast_list, name="forecast_list"),
    path("forecasts/new/", forecast_create, name="forecast_create"),
    path("orders/", order_list, name="order_list"),
    path("orders/<int:pk>/", order_detail, name="order_detail"),
    path("orders/<int:pk>/release/", order_release, name="order_release"),
    path("settings/", settings_edit, name="settings_edit"),
]


# --- capacity and the schedule ------------------------------------------------------------------


@requires("manufacturing.view")
def capacity_view(request: HttpRequest) -> HttpResponse:
    settings = planning.planning_settings(request.company)
    start = planning.plan_start(timezone.localdate(), settings.bucket)
    plan = capacity.capacity_plan(company=request.company,
                                  scenario=planning.live_scenario(request.company), start=start,
                                  bucket=settings.bucket, horizon=min(settings.horizon, 26))  # fmt: skip
    centers = {c.pk: c for c in plan.centers}
    chosen = request.GET.get("center", "")
    center = centers.get(int(chosen)) if chosen.isdigit() else None
    overloads = plan.overloads()
    if center is None and overloads:
        center = overloads[0][0]
    center = center or (plan.centers[0] if plan.centers else None)
    rows = []
    for c in plan.centers:
        cells = []
        for b in range(len(plan.dates)):
            share = plan.utilisation(c.pk, b)
            cells.append({"bucket": b, "load": plan.load[c.pk][b], "percent": None if share is None
                          else round(share * 100), "over": share is not None and share > 1
                          or (share is None and plan.load[c.pk][b] > 0)})  # fmt: skip
        rows.append({"center": c, "cells": cells})
    drill = None
    bucket = request.GET.get("bucket", "")
    if center is not None and bucket.isdigit() and int(bucket) < len(plan.dates):
        b = int(bucket)
        drill = {"date": plan.dates[b], "center": center,
                 "sources": [{"s": s, "time": capacity.minutes_text(s.minutes)}
                             for s in sorted(plan.sources.get((center.pk, b), ()),
                                             key=lambda s: -s.minutes)]}  # fmt: skip
    chart = None
    if center is not None:
        labels = [d.isoformat() for d in plan.dates]
        chart = {
            "tooltip": {"trigger": "axis"},
            "legend": {"data": [str(_("Load (h)")), str(_("Capacity (h)"))]},
            "xAxis": {"type": "category", "data": labels},
            "yAxis": {"type": "value", "name": str(_("hours"))},
            "series": [
                {"name": str(_("Load (h)")), "type": "bar",
                 "data": [round(v / 60, 1) for v in plan.load[center.pk]]},
                {"name": str(_("Capacity (h)")), "type": "line", "step": "middle",
                 "data": [round(v / 60, 1) for v in plan.capacity[center.pk]]},
            ],
        }  # fmt: skip
    return render(request, "manufacturing/capacity.html", {
        "title": _("Capacity"), "plan": plan, "rows": rows, "center": center, "chart": chart,
        "drill": drill, "overloads": len(overloads),
        "can_plan": has_perm(request, "manufacturing.plan"),
    })  # fmt: skip


@requires("manufacturing.view")
def schedule_view(request: HttpRequest) -> HttpResponse:
    operations = list(
        ProductionOperation.objects.filter(scheduled_start__isnull=False,
                                           order__state__in=ProductionOrder.OPEN_STATES)
        .select_related("order__product", "work_center")
        .order_by("work_center__code", "scheduled_start")
    )  # fmt: skip
    lanes: dict[int, dict[str, Any]] = {}
    if operations:
        first = min(op.scheduled_start for op in operations)
        last = max(op.scheduled_end for op in operations)
        span = max((last - first).total_seconds(), 1)
        for op in operations:
            lane = lanes.setdefault(op.work_center_id, {"center": op.work_center, "bars": []})
            lane["bars"].append({
                "op": op,
                "left": round((op.scheduled_start - first).total_seconds() / span * 100, 2),
                "width": max(round((op.scheduled_end - op.scheduled_start).total_seconds()
                                   / span * 100, 2), 0.3),
                "late": op.scheduled_end.date() > op.order.due_date,
            })  # fmt: skip
        window = (first, last)
    else:
        window = None
    late = [o for o in ProductionOrder.objects.filter(state__in=ProductionOrder.OPEN_STATES,
                                                      scheduled_end__isnull=False)
            .select_related("product") if o.scheduled_end.date() > o.due_date]  # fmt: skip
    return render(request, "manufacturing/schedule.html", {
        "title": _("Production schedule"), "lanes": list(lanes.values()), "window": window,
        "late": late, "can_plan": has_perm(request, "manufacturing.plan"),
    })  # fmt: skip


@require_POST
@requires("manufacturing.plan")
def schedule_run(request: HttpRequest) -> HttpResponse:
    job = capacity.production_schedule_request(company=request.company, actor=request.user)
    messages.success(request, _("Scheduling in the background."))
    return redirect("core:job_detail", job.pk)


urlpatterns += [
    path("capacity/", capacity_view, name="capacity"),
    path("schedule/", schedule_view, name="schedule"),
    path("schedule/run/", schedule_run, name="schedule_run"),
]


# --- execution ----------------------------------------------------------------------------------


class ReportForm(ShellForm):
    minutes = forms.DecimalField(
        label=gettext_lazy("Minutes worked"), max_digits=14, decimal_places=3
    )
    quantity = forms.DecimalField(label=gettext_lazy("Quantity done"), max_digits=18, decimal_places=6,
                                  required=False)  # fmt: skip
    scrap = forms.DecimalField(label=gettext_lazy("Scrapped"), max_digits=18, decimal_places=6,
                               required=False)  # fmt: skip
    finished = forms.BooleanField(label=gettext_lazy("Operation finished"), required=False)


def _form_refused(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict") and not set(exc.error_dict) <= set(form.fields):
        form.add_error(None, exc.messages)
    else:
        apply_errors(form, exc)


@requires("manufacturing.produce")
def operation_report(request: HttpRequest, pk: int) -> HttpResponse:
    op = get_or_404(ProductionOperation.objects.filter(order__company=request.company)
              .select_related("order", "work_center"), pk)  # fmt: skip
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            execution.operation_report(
                operation=op, actor=request.user, minutes=data["minutes"],
                quantity=data["quantity"] or 0, scrap=data["scrap"] or 0,
                finished=data["finished"],
            )  # fmt: skip
        except ValidationError as exc:
            _form_refused(form, exc)
        else:
            messages.success(request, _("Time reported on %(operation)s.") % {
                "operation": op.name})  # fmt: skip
            return redirect(reverse("manufacturing:shop_floor") + f"?center={op.work_center_id}")
    return form_response(request, form=form,
                         title=_("Report %(operation)s of %(order)s") % {
                             "operation": op.name, "order": op.order.number},
                         cancel_url=reverse("manufacturing:order_detail", args=[op.order_id]),
                         status=400 if form.errors else 200)  # fmt: skip


@requires("manufacturing.view")
def shop_floor(request: HttpRequest) -> HttpResponse:
    centers = list(WorkCenter.objects.filter(active=True).order_by("code"))
    chosen = request.GET.get("center", "")
    center = next((c for c in centers if str(c.pk) == chosen), centers[0] if centers else None)
    queue = []
    if center is not None:
        queue = list(
            ProductionOperation.objects.filter(work_center=center,
                                               order__state__in=ProductionOrder.RUNNING_STATES)
            .exclude(state=ProductionOperation.State.DONE)
            .select_related("order__product")
            .order_by("scheduled_start", "order__start_date", "order_id", "sequence")
        )  # fmt: skip
    return render(request, "manufacturing/shop_floor.html", {
        "title": _("Shop floor"), "centers": centers, "center": center,
        "queue": [{"op": op, "badge": _badge(op), "planned": _quantity(op.planned_minutes),
                   "done": _quantity(op.done_qty), "quantity": _quantity(op.order.quantity)}
                  for op in queue],
        "can_report": has_perm(request, "manufacturing.produce"),
    })  # fmt: skip


class FinishForm(ShellForm):
    quantity = forms.DecimalField(
        label=gettext_lazy("Good quantity"), max_digits=18, decimal_places=6
    )
    scrap = forms.DecimalField(label=gettext_lazy("Scrapped"), max_digits=18, decimal_places=6,
                               required=False)  # fmt: skip
    final = forms.BooleanField(
        label=gettext_lazy("Final: nothing more will be made"), required=False,
        help_text=gettext_lazy("Otherwise the order stays in progress until produced and scrapped reach "
                    "its quantity."),
    )  # fmt: skip
    lot = forms.CharField(label=gettext_lazy("Lot"), max_length=80, required=False,
                          help_text=gettext_lazy("Left empty: <order number>-<n>."))  # fmt: skip
    serials = forms.CharField(label=gettext_lazy("Serial numbers"), required=False,
                              widget=forms.Textarea(attrs={"rows": 3}),
                              help_text=gettext_lazy("One per unit, a line or a comma each."))  # fmt: skip

    def __init__(self, *args: Any, tracking: str = Product.Tracking.NONE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if tracking != Product.Tracking.LOT:
            del self.fields["lot"]
        if tracking != Product.Tracking.SERIAL:
            del self.fields["serials"]


@requires("manufacturing.produce")
def order_finish(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_or_404(ProductionOrder.objects.select_related("product", "uom"), pk)
    left = max(row.quantity - row.produced_qty - row.scrapped_qty, 0)
    form = FinishForm(request.POST or None, initial={"quantity": left},
                      tracking=row.product.tracking)  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        serials = (data.get("serials") or "").replace(",", " ").replace(";", " ").split()
        try:
            done = execution.production_order_finish(
                order=row, actor=request.user, quantity=data["quantity"],
                scrap=data["scrap"] or 0, final=data["final"], lot=data.get("lot") or None,
                serials=serials or None,
            )  # fmt: skip
        except ValidationError as exc:
            _form_refused(form, exc)
        else:
            if done.state == ProductionOrder.State.DONE:
                messages.success(request, _("%(number)s finished: materials issued and goods "
                                            "received.") % {"number": row.number})  # fmt: skip
            else:
                messages.success(request, _("%(quantity)s reported on %(number)s; it stays in "
                                            "progress.") % {"number": row.number,
                                                            "quantity": _quantity(data["quantity"])})  # fmt: skip
            return redirect("manufacturing:order_detail", pk)
    return render(request, "manufacturing/production_order_finish.html", {
        "form": form, "title": _("Finish %(number)s") % {"number": row.number}, "row": row,
        "cancel_url": reverse("manufacturing:order_detail", args=[pk]),
        "submit_label": _("Report"),
        "summary": {"quantity": _quantity(row.quantity), "produced": _quantity(row.produced_qty),
                    "scrapped": _quantity(row.scrapped_qty), "left": _quantity(left)},
    }, status=400 if form.errors else 200)  # fmt: skip


class IssueForm(ShellForm):
    """One quantity per material of the order (negative: returned to stock)."""

    def __init__(self, *args: Any, materials: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.materials = {f"qty_{m.pk}": m for m in materials}
        for name, m in self.materials.items():
            self.fields[name] = forms.DecimalField(
                label=f"{m.product} ({m.uom.code})", max_digits=18, decimal_places=6,
                required=False,
                help_text=_("Required %(required)s, issued %(issued)s.") % {
                    "required": _quantity(m.required_qty), "issued": _quantity(m.issued_qty)},
            )  # fmt: skip

    def lines(self) -> list[tuple[Any, Any]]:
        return [(m, self.cleaned_data[name]) for name, m in self.materials.items()
                if self.cleaned_data.get(name)]  # fmt: skip


@requires("manufacturing.produce")
def order_issue(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_or_404(ProductionOrder.objects.all(), pk)
    materials = list(row.materials.select_related("product", "uom"))
    form = IssueForm(request.POST if request.method == "POST" else None, materials=materials)
    if request.method == "POST" and form.is_valid():
        try:
            execution.material_issue(order=row, lines=form.lines(), actor=request.user)
        except ValidationError as exc:
            _form_refused(form, exc)
        else:
            messages.success(request, _("Materials issued to %(number)s.") % {
                "number": row.number})  # fmt: skip
            return redirect("manufacturing:order_detail", pk)
    return form_response(request, form=form,
                         title=_("Issue materials to %(number)s") % {"number": row.number},
                         cancel_url=reverse("manufacturing:order_detail", args=[pk]),
                         submit_label=_("Issue"),
                         status=400 if form.errors else 200)  # fmt: skip


@requires("manufacturing.view")
def wip_view(request: HttpRequest) -> HttpResponse:
    report = execution.wip_report(request.company)
    return render(request, "manufacturing/wip.html", {
        "title": _("Work in progress"), "report": report,
        "rows": [{"r": r, "badge": _badge(r.order), "quantity": _quantity(r.order.quantity),
                  "produced": _quantity(r.order.produced_qty)} for r in report.rows],
    })  # fmt: skip


@require_POST
@requires("manufacturing.plan")
def order_close(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_or_404(ProductionOrder.objects.all(), pk)
    try:
        execution.production_order_close(order=row, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("%(number)s closed; its variances are posted.") % {
            "number": row.number})  # fmt: skip
    return redirect("manufacturing:order_detail", pk)


urlpatterns += [
    path("operations/<int:pk>/report/", operation_report, name="operation_report"),
    path("shop-floor/", shop_floor, name="shop_floor"),
    path("orders/<int:pk>/finish/", order_finish, name="order_finish"),
    path("orders/<int:pk>/close/", order_close, name="order_close"),
    path("orders/<int:pk>/issue/", order_issue, name="order_issue"),
    path("wip/", wip_view, name="wip"),
]


# --- what-if scenarios --------------------------------------------------------------------------


class ScenarioForm(ShellForm):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=80)
    demand_percent = forms.DecimalField(label=gettext_lazy("Demand (percent of today's)"), required=False,
                                        max_digits=7, decimal_places=2)  # fmt: skip
    work_center = forms.ModelChoiceField(label=gettext_lazy("Work center"), required=False,
                                         queryset=WorkCenter.unscoped.none())  # fmt: skip
    hours_per_day = forms.DecimalField(label=gettext_lazy("Hours per working day"), required=False,
                                       max_digits=5, decimal_places=2)  # fmt: skip
    units = forms.IntegerField(label=gettext_lazy("Parallel units"), required=False)
    product = forms.ModelChoiceField(label=gettext_lazy("Product"), required=False,
                                     queryset=Product.unscoped.none())  # fmt: skip
    lead_time_days = forms.IntegerField(label=gettext_lazy("Lead time (days)"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["work_center"].queryset = WorkCenter.objects.filter(active=True)
        self.fields["product"].queryset = Product.objects.filter(active=True).exclude(
            type=Product.Type.SERVICE).order_by("sku")  # fmt: skip

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        changes: dict[str, Any] = {}
        if data.get("demand_percent") is not None:
            changes["demand_percent"] = data["demand_percent"]
        center = data.get("work_center")
        if center is not None:
            changes["work_centers"] = {
                str(center.pk): {
                    k: data[k] for k in ("hours_per_day", "units") if data.get(k) is not None
                }
            }
        if data.get("product") is not None and data.get("lead_time_days") is not None:
            changes["lead_time_days"] = {str(data["product"].pk): data["lead_time_days"]}
        return changes


@requires("manufacturing.view")
def scenario_list(request: HttpRequest) -> HttpResponse:
    form = ScenarioForm(request.POST or None)
    if request.method == "POST":
        if not has_perm(request, "manufacturing.plan"):
            raise PermissionDenied
        if form.is_valid():
            try:
                made = scenarios.scenario_create(company=request.company, actor=request.user,
                                                 name=form.cleaned_data["name"],
                                                 changes=form.changes())  # fmt: skip
            except ValidationError as exc:
                _form_refused(form, exc)
            else:
                return redirect("manufacturing:scenario_detail", made.pk)
    rows = list(Scenario.objects.order_by("-live", "state", "-created_at"))
    return render(request, "manufacturing/scenario_list.html", {
        "title": _("What-if scenarios"), "rows": rows, "form": form,
        "can_plan": has_perm(request, "manufacturing.plan"),
    }, status=400 if form.errors else 200)  # fmt: skip


@requires("manufacturing.view")
def scenario_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scenario = get_or_404(Scenario.objects.all(), pk)
    live = planning.live_scenario(request.company)
    figures = scenarios.scenario_kpis(scenario=scenario)
    base = scenarios.scenario_kpis(scenario=live) if live.pk != scenario.pk else None
    labels = [
        ("planned_orders", _("Planned orders")), ("planned_value", _("Planned value at cost")),
        ("past_due", _("Releases past due")), ("exceptions", _("Exception messages")),
        ("overloads", _("Overloaded buckets")), ("worst_load_percent", _("Highest load (%)")),
        ("service_level_percent", _("Service level (share of sales order lines on time, percent)")),
        ("late_order_lines", _("Late sales order lines")),
        ("inventory_value_average", _("Projected inventory value, average")),
        ("inventory_value_end", _("Projected inventory value, end of the horizon")),
    ]  # fmt: skip

    def shown(value: Any) -> Any:
        return "—" if value is None else value

    rows = [{"key": key, "label": label, "value": shown(figures[key]),
             "live": shown(base[key]) if base else None}
            for key, label in labels]  # fmt: skip
    can_plan = has_perm(request, "manufacturing.plan")
    actions = []
    if can_plan and scenario.state == Scenario.State.DRAFT:
        actions = [
            {"label": _("Run MRP"), "post": True, "style": "primary", "id": "run",
             "url": reverse("manufacturing:scenario_run", args=[pk])},
            {"label": _("Release as the live plan"), "post": True, "style": "success",
             "id": "release", "url": reverse("manufacturing:scenario_release", args=[pk])},
        ]  # fmt: skip
    return render(request, "manufacturing/scenario_detail.html", {
        "title": scenario.display_name, "scenario": scenario, "rows": rows, "live": live,
        "run": figures["run"], "actions": actions,
        "changes": _describe(scenario.changes.get("applied", scenario.changes)),
    })  # fmt: skip


def _describe(changes: dict[str, Any]) -> list[str]:
    lines = []
    if "demand_percent" in changes:
        lines.append(_("Demand at %(percent)s %% of today's.") % {
            "percent": changes["demand_percent"]})  # fmt: skip
    for key, change in changes.get("work_centers", {}).items():
        center = WorkCenter.objects.filter(pk=int(key)).first()
        lines.append(_("%(center)s: %(hours)s hours a day, %(units)s units.") % {
            "center": center, "hours": change.get("hours_per_day", center.hours_per_day
                                                  if center else "?"),
            "units": change.get("units", center.units if center else "?")})  # fmt: skip
    for key, days in changes.get("lead_time_days", {}).items():
        product = Product.objects.filter(pk=int(key)).first()
        lines.append(_("%(product)s: lead time %(days)s days.") % {"product": product,
                                                                   "days": days})  # fmt: skip
    return lines


@require_POST
@requires("manufacturing.plan")
def scenario_run(request: HttpRequest, pk: int) -> HttpResponse:
    scenario = get_or_404(Scenario.objects.all(), pk)
    try:
        made = planning.mrp_run_request(
            company=request.company, actor=request.user, scenario=scenario,
            kind=request.POST.get("kind") or PlanRun.Kind.REGENERATIVE,
        )  # fmt: skip
    except planning.PlanningError as exc:
        messages.error(request, str(exc))
        return redirect("manufacturing:scenario_detail", pk)
    return redirect("core:job_detail", made.job_id)


@require_POST
@requires("manufacturing.plan")
def scenario_release(request: HttpRequest, pk: int) -> HttpResponse:
    scenario = get_or_404(Scenario.objects.all(), pk)
    try:
        scenarios.scenario_release(scenario=scenario, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("manufacturing:scenario_detail", pk)
    messages.success(request, _("%(name)s is now the live plan.") % {"name": scenario.display_name})
    return redirect("manufacturing:workspace")


urlpatterns += [
    path("scenarios/", scenario_list, name="scenario_list"),
    path("scenarios/<int:pk>/", scenario_detail, name="scenario_detail"),
    path("scenarios/<int:pk>/run/", scenario_run, name="scenario_run"),
    path("scenarios/<int:pk>/release/", scenario_release, name="scenario_release"),
]


# --- the master production schedule -------------------------------------------------------------


@requires("manufacturing.view")
def master_schedule_view(request: HttpRequest) -> HttpResponse:
    """The MPS of one made product; a planner edits its firm entries (one input per bucket,
    one save: all or nothing)."""

    settings = planning.planning_settings(request.company)
    can_plan = has_perm(request, "manufacturing.plan")
    if request.method == "POST" and not can_plan:
        raise PermissionDenied
    products = list(
        Product.objects.filter(active=True, supply=Product.Supply.MAKE, is_configurable=False)
        .order_by("sku")
        .only("pk", "sku", "name", "name_i18n")
    )
    chosen = request.POST.get("product", "") or request.GET.get("product", "")
    product = next((p for p in products if str(p.pk) == chosen), None)
    if request.method == "POST" and product is None:
        raise Http404
    if product is None and products:
        # the first with a forecast, else with planned production
        wanted = (
            Forecast.objects.filter(product__in=products).order_by("product__sku")
            .values_list("product_id", flat=True).first()
            or PlannedOrder.objects.filter(supply="make", product__in=products)
            .values_list("product_id", flat=True).first()
        )  # fmt: skip
        product = next((p for p in products if p.pk == wanted), products[0])
    errors: dict[str, list[str]] = {}
    submitted: dict[str, str] = {}
    if request.method == "POST" and product is not None:
        submitted = {key[5:]: value for key, value in request.POST.items()
                     if key.startswith("firm-")}  # fmt: skip
        quantities: dict[dt.date, Any] = {}
        for key, value in submitted.items():
            try:
                quantities[dt.date.fromisoformat(key)] = value
            except ValueError:
                errors[key] = [_("Not a date.")]
        if not errors:
            try:
                mps.mps_entries_save(company=request.company, product=product,
                                     quantities=quantities, actor=request.user)  # fmt: skip
            except ValidationError as exc:
                errors = exc.message_dict
            else:
                messages.success(request, _("The firm MPS of %(product)s is saved.")
                                 % {"product": product})  # fmt: skip
                return redirect(reverse("manufacturing:mps") + f"?product={product.pk}")
    table = None
    if product is not None:
        table = mps.master_schedule(
            company=request.company, product=product,
            start=planning.plan_start(timezone.localdate(), settings.bucket),
            bucket=settings.bucket, horizon=min(settings.horizon, 26),
        )  # fmt: skip
    rows, firm_cells = [], []
    if table is not None:
        for label, values in (
            (_("Forecast"), table.forecast), (_("Customer orders"), table.orders),
            (_("Demand planned"), table.demand), (_("Firm MPS"), table.firm),
            (_("Scheduled production"), table.supply),
            (_("Projected available"), table.projected), (_("Available to promise"), table.atp),
        ):  # fmt: skip
            rows.append({"label": label, "firm": values is table.firm,
                         "cells": [{"text": _quantity(v), "negative": v is not None and v < 0}
                                   for v in values]})  # fmt: skip
        for date, value, fence in zip(table.dates, table.firm, table.fences, strict=True):
            key = date.isoformat()
            firm_cells.append({
                "name": f"firm-{key}", "date": date, "errors": errors.get(key, []),
                "frozen": fence == "frozen",
                "value": submitted[key] if key in submitted else
                ("" if value is None else _quantity(value)),
            })  # fmt: skip
    shown = {cell["name"][5:] for cell in firm_cells}
    for key, found in errors.items():  # not in a cell of the screen: say it on top
        for message in found if key not in shown else []:
            messages.error(request, f"{key}: {message}" if key != "product" else message)
    return render(request, "manufacturing/mps.html", {
        "title": _("Master production schedule"), "products": products, "product": product,
        "table": table, "rows": rows, "firm_cells": firm_cells, "can_plan": can_plan,
        "columns": list(zip(table.dates, table.fences, strict=True)) if table else [],
    }, status=400 if errors else 200)  # fmt: skip


urlpatterns += [path("mps/", master_schedule_view, name="mps")]
