"""Screens of BOMs, work centers and routings: lists, records (with explosion, where-used, cost
roll-up and history), and the edit forms whose lines/operations are added and removed through
HTMX (the same buttons work as plain submits). Each view parses input, calls one service or
selector and renders; its permission is declared on it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import zip_longest
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.models import UnitOfMeasure
from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import ShellForm, apply_errors, form_response, history_for
from xietong.product import bom as services
from xietong.product.models import Bom, Product, Routing, RoutingOperation, WorkCenter

WEEKDAYS = [
    (1, gettext_lazy("Monday")),
    (2, gettext_lazy("Tuesday")),
    (3, gettext_lazy("Wednesday")),
    (4, gettext_lazy("Thursday")),
    (5, gettext_lazy("Friday")),
    (6, gettext_lazy("Saturday")),
    (7, gettext_lazy("Sunday")),
]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")  # what <input type=date> reads, any locale


def _plain_number(value: Decimal) -> str:
    """10.000000 → "10" for form fields (normalize() alone would give "1E+1")."""
    return f"{value.normalize():f}"


def _decimal_or_raw(value: str) -> Any:
    value = (value or "").strip().replace(",", "")
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return value


def _int_or_none(value: str) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


# --- editable rows (BOM lines, routing operations) ------------------------------------------


@dataclass
class Row:
    values: dict[str, str]
    errors: dict[str, list[str]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return self.values[name]  # KeyError for other names: templates then read attributes

    @property
    def blank(self) -> bool:
        return not any(v.strip() for k, v in self.values.items() if k != "sequence")


def rows_from_post(request: HttpRequest, prefix: str, names: list[str]) -> list[Row]:
    columns = [request.POST.getlist(f"{prefix}_{name}") for name in names]
    return [
        Row(dict(zip(names, (value or "" for value in values), strict=True)))
        for values in zip_longest(*columns, fillvalue="")
    ]


def rows_edit_action(request: HttpRequest, rows: list[Row], names: list[str]) -> bool:
    """Apply an "add row" / "remove row N" button; True when one was pressed (no saving)."""
    if request.POST.get("action") == "add":
        rows.append(Row(dict.fromkeys(names, "")))
        return True
    remove = _int_or_none(request.POST.get("remove", ""))
    if remove is not None:
        if 0 <= remove < len(rows):
            del rows[remove]
        return True
    return False


def rows_apply_errors(
    error: ValidationError, prefix: str, rows: list[Row], used: list[int], form: forms.Form
) -> None:
    """Put a service's `<prefix>.<i>.<field>` errors on the rows (`used` maps the service's
    index to the row's) and the others on the form."""
    header: dict[str, list[str]] = {}
    for key, messages_ in error.message_dict.items():
        parts = key.split(".")
        if parts[0] == prefix and len(parts) == 3 and parts[1].isdigit():
            index = used[int(parts[1])]
            rows[index].errors.setdefault(parts[2], []).extend(messages_)
        elif key == prefix:
            header.setdefault("__all__", []).extend(messages_)
        else:
            header.setdefault(key, []).extend(messages_)
    if header:
        apply_errors(form, ValidationError(header))


def _units() -> list[tuple[str, str]]:
    return list(
        UnitOfMeasure.objects.filter(active=True)
        .order_by("category__code", "factor")
        .values_list("code", "name")
    )


# --- BOMs ---------------------------------------------------------------------------------------

BOM_LIST = ListScreen(
    key="boms",
    title=gettext_lazy("Bills of materials"),
    columns=[
        Column(
            "product", gettext_lazy("Product"), accessor="product__sku", order_by="product__sku"
        ),
        Column("name", gettext_lazy("Name"), accessor="product__display_name"),
        Column("version", gettext_lazy("Version"), order_by="version"),
        Column("kind", gettext_lazy("Kind"), accessor="get_kind_display", order_by="kind"),
        Column("quantity", gettext_lazy("Quantity"), order_by="quantity"),
        Column("uom", gettext_lazy("Unit"), accessor="uom__code"),
        Column("lines", gettext_lazy("Lines"), accessor="line_count", order_by="line_count"),
        Column("effective_from", gettext_lazy("Effective from"), order_by="effective_from"),
        Column("effective_to", gettext_lazy("Effective until"), order_by="effective_to"),
        Column(
            "level",
            gettext_lazy("Low-level code"),
            accessor="product__low_level_code",
            order_by="product__low_level_code",
            default=False,
        ),
        Column("active", gettext_lazy("Active"), order_by="active"),
    ],
    search_fields=["product__sku", "product__name"],
    filters=[
        Filter("kind", gettext_lazy("Kind"), "kind", choices=lambda r: list(Bom.Kind.choices)),
        Filter(
            "active",
            gettext_lazy("Active"),
            "active",
            choices=lambda r: [("1", str(_("Yes"))), ("0", str(_("No")))],
        ),
    ],
    default_sort="product",
    detail_url=lambda b: reverse("product:bom_detail", args=[b.pk]),
)


@requires("product.view")
def bom_list(request: HttpRequest) -> HttpResponse:
    actions = (
        [(_("New BOM"), reverse("product:bom_create"))] if has_perm(request, "product.bom") else []
    )
    if has_perm(request, "product.import"):
        actions.append((_("Import / export"), reverse("core:import_boms")))
    queryset = Bom.objects.select_related("product", "uom").annotate(line_count=Count("lines"))
    return list_response(request, BOM_LIST, queryset, extra={"actions": actions})


@requires("product.view")
def bom_detail(request: HttpRequest, pk: int) -> HttpResponse:
    bom = get_object_or_404(Bom.objects.select_related("product__uom", "uom"), pk=pk)
    lines = bom.lines.select_related("component", "uom").order_by("sequence", "id")
    actions = []
    if has_perm(request, "product.bom"):
        actions = [
            {"label": _("Edit"), "url": reverse("product:bom_edit", args=[pk])},
            {
                "label": _("New version"),
                "url": reverse("product:bom_create") + f"?copy={pk}",
                "style": "outline-primary",
            },
        ]
        if bom.active:
            actions.append(
                {
                    "label": _("Archive"),
                    "url": reverse("product:bom_archive", args=[pk]),
                    "post": True,
                }
            )
    versions = services.boms_of_product(product=bom.product)
    context = {
        "bom": bom,
        "obj": bom,
        "title": _("BOM of %(product)s, version %(version)s")
        % {"product": bom.product, "version": bom.version},
        "lines": lines,
        "versions": versions,
        "range": services.date_range_text(bom),
        "actions": actions,
        "history": history_for(bom),
        "today": timezone.localdate(),
        "date": _explosion_date(bom),
    }
    return render(request, "product/bom/detail.html", context)


def _explosion_date(bom: Bom) -> dt.date:
    """A date on which this BOM is effective (today when it is)."""
    today = timezone.localdate()
    if bom.effective_from and today < bom.effective_from:
        return bom.effective_from
    if bom.effective_to and today > bom.effective_to:
        return bom.effective_to
    return today


class ExplosionForm(ShellForm):
    quantity = forms.DecimalField(
        label=gettext_lazy("Quantity"),
        min_value=Decimal("0.000001"),
        max_digits=18,
        decimal_places=6,
    )
    date = forms.DateField(label=gettext_lazy("Date"), widget=DateInput)


def _fragment_input(request: HttpRequest, bom: Bom) -> tuple[ExplosionForm, Decimal, dt.date]:
    initial = {"quantity": _plain_number(bom.quantity), "date": _explosion_date(bom)}
    form = ExplosionForm(request.GET or None, initial=initial)
    if request.GET and form.is_valid():
        return form, form.cleaned_data["quantity"], form.cleaned_data["date"]
    return form, bom.quantity, initial["date"]


@requires("product.view")
def bom_explosion(request: HttpRequest, pk: int) -> HttpResponse:
    """The multi-level explosion of the BOM's product (HTMX fragment of the record page)."""
    bom = get_object_or_404(Bom.objects.select_related("product"), pk=pk)
    form, quantity, date = _fragment_input(request, bom)
    explosion, error = None, None
    try:
        explosion = services.bom_explode(product=bom.product, quantity=quantity, date=date)
    except services.BomError as exc:
        error = str(exc)
    return render(
        request,
        "product/bom/_explosion.html",
        {"bom": bom, "form": form, "explosion": explosion, "error": error},
    )


@requires("product.view")
def bom_where_used(request: HttpRequest, pk: int) -> HttpResponse:
    """Where the BOM's product is used, multi-level (HTMX fragment of the record page)."""
    bom = get_object_or_404(Bom.objects.select_related("product"), pk=pk)
    rows = services.bom_where_used(product=bom.product)
    return render(request, "product/bom/_where_used.html", {"bom": bom, "rows": rows})


@requires("product.view")
def bom_cost(request: HttpRequest, pk: int) -> HttpResponse:
    """The cost roll-up of the BOM's product with its breakdown (HTMX fragment)."""
    bom = get_object_or_404(Bom.objects.select_related("product"), pk=pk)
    form, _quantity, date = _fragment_input(request, bom)
    rollup, error = None, None
    try:
        rollup = services.bom_cost_rollup(product=bom.product, date=date)
    except services.BomError as exc:
        error = str(exc)
    return render(
        request,
        "product/bom/_cost.html",
        {
            "bom": bom,
            "rollup": rollup,
            "error": error,
            "date": date,
            "can_apply": has_perm(request, "product.cost"),
        },
    )


@require_POST
@requires("product.cost")
def bom_rollup_apply(request: HttpRequest, pk: int) -> HttpResponse:
    """Write the rolled-up costs of the BOM's product and its made components as standard
    costs."""
    bom = get_object_or_404(Bom.objects.select_related("product"), pk=pk)
    try:
        changes = services.bom_cost_rollup_apply(
            company=request.company, actor=request.user, product=bom.product
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Standard costs updated for %(count)d products.") % {"count": len(changes)}
            if changes
            else _("The standard costs were up to date."),
        )
    return redirect(reverse("product:bom_detail", args=[pk]) + "#cost")


@require_POST
@requires("product.bom")
def bom_archive(request: HttpRequest, pk: int) -> HttpResponse:
    bom = get_object_or_404(Bom.objects, pk=pk)
    services.bom_archive(bom=bom, actor=request.user)
    messages.success(request, _("BOM archived."))
    return redirect("product:bom_detail", pk=pk)


LINE_FIELDS = ["component", "quantity", "uom", "scrap_percent", "sequence"]


def sku_search_attrs() -> dict[str, str]:
    """HTMX attributes of a SKU input: suggestions into the page's shared datalist."""
    return {
        "list": "component-choices",
        "autocomplete": "off",
        "hx-get": reverse("product:bom_components"),
        "hx-trigger": "input changed delay:300ms",
        "hx-target": "#component-choices",
        "hx-swap": "innerHTML",
    }


class BomForm(ShellForm):
    product = forms.CharField(
        label=gettext_lazy("Product (SKU)"),
        max_length=40,
        widget=forms.TextInput(attrs={"list": "component-choices", "autocomplete": "off"}),
    )
    version = forms.IntegerField(
        label=gettext_lazy("Version"),
        min_value=1,
        required=False,
        help_text=gettext_lazy("Empty: the next free number."),
    )
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Bom.Kind.choices)
    quantity = forms.DecimalField(
        label=gettext_lazy("Quantity produced"),
        max_digits=18,
        decimal_places=6,
        initial=Decimal(1),
        help_text=gettext_lazy("The lines are what this quantity of the product needs."),
    )
    uom = forms.ChoiceField(label=gettext_lazy("Unit"), required=False)
    effective_from = forms.DateField(
        label=gettext_lazy("Effective from"), required=False, widget=DateInput
    )
    effective_to = forms.DateField(
        label=gettext_lazy("Effective until"), required=False, widget=DateInput
    )
    active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["uom"].choices = [("", _("Stock unit of the product")), *_units()]
        if editing:
            del self.fields["product"]
        else:
            self.fields["product"].widget.attrs.update(sku_search_attrs())


def _bom_rows(bom: Bom) -> list[Row]:
    return [
        Row(
            {
                "component": line.component.sku,
                "quantity": f"{line.quantity.normalize():f}",
                "uom": line.uom.code,
                "scrap_percent": f"{line.scrap_percent.normalize():f}",
                "sequence": str(line.sequence),
            }
        )
        for line in bom.lines.select_related("component", "uom").order_by("sequence", "id")
    ]


def _service_lines(rows: list[Row]) -> tuple[list[dict[str, Any]], list[int], dict[int, str]]:
    """The non-blank rows as the service's line dicts, the row index of each, and the SKUs that
    name no product of the company (by service index)."""
    skus = {row["component"].strip() for row in rows if not row.blank}
    products = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk"))
    lines, used, unknown = [], [], {}
    for index, row in enumerate(rows):
        if row.blank:
            continue
        sku = row["component"].strip()
        if sku and sku not in products:
            unknown[len(lines)] = sku
        lines.append(
            {
                "component": products.get(sku),
                "quantity": _decimal_or_raw(row["quantity"]),
                "uom": row["uom"] or None,
                "scrap_percent": _decimal_or_raw(row["scrap_percent"]) or Decimal(0),
                "sequence": _int_or_none(row["sequence"]),
            }
        )
        used.append(index)
    return lines, used, unknown


def _bom_edit(
    request: HttpRequest, *, bom: Bom | None, initial: dict[str, Any], rows: list[Row]
) -> HttpResponse:
    editing = bom is not None
    form = BomForm(request.POST or None, initial=initial, editing=editing)
    if request.method == "POST":
        rows = rows_from_post(request, "line", LINE_FIELDS)
        pressed = rows_edit_action(request, rows, LINE_FIELDS)
        if not pressed and form.is_valid():
            data = form.cleaned_data
            lines, used, unknown = _service_lines(rows)
            try:
                if editing:
                    assert bom is not None
                    saved = services.bom_update(
                        bom=bom,
                        actor=request.user,
                        lines=lines,
                        version=data["version"] or bom.version,
                        kind=data["kind"],
                        quantity=data["quantity"],
                        uom=data["uom"] or bom.product.uom.code,
                        effective_from=data["effective_from"],
                        effective_to=data["effective_to"],
                        active=data["active"],
                    )
                else:
                    product = Product.objects.filter(sku=data["product"].strip()).first()
                    if product is None:
                        raise ValidationError(
                            {"product": [_("No product has this SKU in your company.")]}
                        )
                    saved = services.bom_create(
                        company=request.company,
                        actor=request.user,
                        product=product,
                        lines=lines,
                        version=data["version"],
                        kind=data["kind"],
                        quantity=data["quantity"],
                        uom=data["uom"] or None,
                        effective_from=data["effective_from"],
                        effective_to=data["effective_to"],
                        active=data["active"],
                    )
            except ValidationError as exc:
                for index, sku in unknown.items():
                    key = f"lines.{index}.component"
                    if key in getattr(exc, "error_dict", {}):
                        exc.error_dict[key] = [
                            ValidationError(
                                _("No product has the SKU “%(sku)s” in your company.")
                                % {"sku": sku}
                            )
                        ]
                rows_apply_errors(exc, "lines", rows, used, form)
            else:
                messages.success(request, _("BOM saved."))
                return redirect("product:bom_detail", pk=saved.pk)
    if not rows:
        rows = [Row(dict.fromkeys(LINE_FIELDS, ""))]
    has_errors = bool(form.errors) or any(row.errors for row in rows)
    title = (
        _("Edit BOM of %(product)s, version %(version)s")
        % {"product": bom.product, "version": bom.version}
        if bom
        else _("New BOM")
    )
    context = {
        "form": form,
        "rows": rows,
        "units": _units(),
        "title": title,
        "bom": bom,
        "cancel_url": reverse("product:bom_detail", args=[bom.pk])
        if bom
        else reverse("product:bom_list"),
    }
    status = 400 if request.method == "POST" and has_errors else 200
    return render(request, "product/bom/edit.html", context, status=status)


@requires("product.bom")
def bom_create(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {"kind": Bom.Kind.NORMAL, "quantity": Decimal(1), "active": True}
    rows: list[Row] = []
    copy = _int_or_none(request.GET.get("copy", ""))
    if copy is not None:
        source = get_object_or_404(Bom.objects.select_related("product", "uom"), pk=copy)
        initial.update(
            product=source.product.sku,
            kind=source.kind,
            quantity=_plain_number(source.quantity),
            uom=source.uom.code,
            active=False,
        )
        rows = _bom_rows(source)
    product_pk = _int_or_none(request.GET.get("product", ""))
    if product_pk is not None:
        product = get_object_or_404(Product.objects, pk=product_pk)
        initial["product"] = product.sku
    return _bom_edit(request, bom=None, initial=initial, rows=rows)


@requires("product.bom")
def bom_edit(request: HttpRequest, pk: int) -> HttpResponse:
    bom = get_object_or_404(Bom.objects.select_related("product__uom", "uom"), pk=pk)
    initial = {
        "version": bom.version,
        "kind": bom.kind,
        "quantity": _plain_number(bom.quantity),
        "uom": bom.uom.code,
        "effective_from": bom.effective_from,
        "effective_to": bom.effective_to,
        "active": bom.active,
    }
    return _bom_edit(request, bom=bom, initial=initial, rows=_bom_rows(bom))


@requires("product.view")
def component_choices(request: HttpRequest) -> HttpResponse:
    """`<option>`s for the SKU inputs' datalist: products whose SKU or name matches."""
    q = next(
        (request.GET[key] for key in ("q", "line_component", "product") if request.GET.get(key)),
        "",
    ).strip()[:60]
    products = (
        Product.objects.filter(Q(sku__icontains=q) | Q(name__icontains=q), active=True)
        .order_by("sku")
        .only("sku", "name", "name_i18n")[:20]
        if q
        else []
    )
    return render(request, "product/bom/_component_choices.html", {"products": products})


# --- work centers -------------------------------------------------------------------------------

WORK_CENTER_LIST = ListScreen(
    key="work-centers",
    title=gettext_lazy("Work centers"),
    columns=[
        Column("code", gettext_lazy("Code"), order_by="code"),
        Column("name", gettext_lazy("Name"), order_by="name"),
        Column(
            "capacity",
            gettext_lazy("Hours per working day"),
            accessor=lambda c: services.q6(services.work_center_daily_hours(c)).normalize(),
        ),
        Column(
            "days",
            gettext_lazy("Working days"),
            accessor=lambda c: ", ".join(str(dict(WEEKDAYS)[d])[:3] for d in c.working_days),
        ),
        Column("cost_per_hour", gettext_lazy("Cost per hour"), order_by="cost_per_hour"),
        Column(
            "overhead_per_hour", gettext_lazy("Overhead per hour"), order_by="overhead_per_hour"
        ),
        Column("active", gettext_lazy("Active"), order_by="active"),
    ],
    search_fields=["code", "name"],
    filters=[
        Filter(
            "active",
            gettext_lazy("Active"),
            "active",
            choices=lambda r: [("1", str(_("Yes"))), ("0", str(_("No")))],
        ),
    ],
    default_sort="code",
    detail_url=lambda c: reverse("product:work_center_detail", args=[c.pk]),
)


@requires("product.view")
def work_center_list(request: HttpRequest) -> HttpResponse:
    actions = (
        [(_("New work center"), reverse("product:work_center_create"))]
        if has_perm(request, "product.bom")
        else []
    )
    return list_response(
        request, WORK_CENTER_LIST, WorkCenter.objects.all(), extra={"actions": actions}
    )


class CapacityForm(ShellForm):
    date_from = forms.DateField(label=gettext_lazy("From"), widget=DateInput)
    date_to = forms.DateField(label=gettext_lazy("To"), widget=DateInput)


@requires("product.view")
def work_center_detail(request: HttpRequest, pk: int) -> HttpResponse:
    center = get_object_or_404(WorkCenter.objects, pk=pk)
    today = timezone.localdate()
    start = today - dt.timedelta(days=today.weekday())
    initial = {"date_from": start, "date_to": start + dt.timedelta(days=27)}
    form = CapacityForm(request.GET or None, initial=initial)
    date_from, date_to = initial["date_from"], initial["date_to"]
    capacity, error = None, None
    if request.GET and form.is_valid():
        date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    try:
        capacity = services.work_center_capacity(
            work_center=center, date_from=date_from, date_to=date_to
        )
    except ValidationError as exc:
        error = " ".join(exc.messages)
    weeks: list[tuple[dt.date, list[services.CapacityDay | None]]] = []
    for day in capacity.days if capacity else []:
        if not weeks or day.date.isoweekday() == 1:
            weeks.append((day.date - dt.timedelta(days=day.date.weekday()), [None] * 7))
        weeks[-1][1][day.date.weekday()] = day
    operations = (
        RoutingOperation.objects.filter(work_center=center, routing__company_id=center.company_id)
        .select_related("routing__product")
        .order_by("routing__product__sku", "sequence")
    )
    actions = []
    if has_perm(request, "product.bom"):
        actions.append({"label": _("Edit"), "url": reverse("product:work_center_edit", args=[pk])})
        if center.active:
            actions.append(
                {
                    "label": _("Archive"),
                    "url": reverse("product:work_center_archive", args=[pk]),
                    "post": True,
                }
            )
    context = {
        "obj": center,
        "center": center,
        "title": f"{center.code} {center.name}",
        "fields": [
            (_("Code"), center.code),
            (_("Name"), center.name),
            (_("Working days"), ", ".join(str(dict(WEEKDAYS)[d]) for d in center.working_days)),
            (_("Hours per working day"), center.hours_per_day),
            (_("Parallel units"), center.units),
            (_("Efficiency (%)"), center.efficiency_percent),
            (
                _("Capacity per working day (h)"),
                services.q6(services.work_center_daily_hours(center)).normalize(),
            ),
            (_("Cost per hour"), center.cost_per_hour),
            (_("Overhead per hour"), center.overhead_per_hour),
            (_("Closed dates"), ", ".join(center.holidays)),
            (_("Active"), center.active),
        ],
        "actions": actions,
        "history": history_for(center),
        "form": form,
        "capacity": capacity,
        "weeks": weeks,
        "weekdays": WEEKDAYS,
        "error": error,
        "operations": operations,
    }
    return render(request, "product/bom/work_center_detail.html", context)


class WorkCenterForm(ShellForm):
    code = forms.CharField(label=gettext_lazy("Code"), max_length=20)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=80)
    working_days = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Working days"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 7}),
    )
    hours_per_day = forms.DecimalField(
        label=gettext_lazy("Hours per working day"), max_digits=5, decimal_places=2
    )
    units = forms.IntegerField(label=gettext_lazy("Parallel units"), min_value=1)
    efficiency_percent = forms.DecimalField(
        label=gettext_lazy("Efficiency (%)"), max_digits=6, decimal_places=2
    )
    cost_per_hour = forms.DecimalField(
        label=gettext_lazy("Cost per hour"), max_digits=18, decimal_places=6
    )
    overhead_per_hour = forms.DecimalField(
        label=gettext_lazy("Overhead per hour"), max_digits=18, decimal_places=6
    )
    holidays = forms.CharField(
        label=gettext_lazy("Closed dates"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("One date (YYYY-MM-DD) per line or separated by commas."),
    )

    def clean_holidays(self) -> list[str]:
        text = self.cleaned_data["holidays"]
        return [part for part in text.replace(",", " ").split() if part]


def _work_center_edit(request: HttpRequest, *, center: WorkCenter | None) -> HttpResponse:
    initial: dict[str, Any] = {
        "working_days": [1, 2, 3, 4, 5],
        "hours_per_day": Decimal(8),
        "units": 1,
        "efficiency_percent": Decimal(100),
        "cost_per_hour": Decimal(0),
        "overhead_per_hour": Decimal(0),
    }
    if center is not None:
        initial = {name: getattr(center, name) for name in WorkCenterForm.base_fields}
        for name, value in initial.items():
            if isinstance(value, Decimal):
                initial[name] = _plain_number(value)
        initial["holidays"] = "\n".join(center.holidays)
    form = WorkCenterForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if center is None:
                saved = services.work_center_create(
                    company=request.company, actor=request.user, **form.cleaned_data
                )
            else:
                saved = services.work_center_update(
                    work_center=center, actor=request.user, **form.cleaned_data
                )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Work center saved."))
            return redirect("product:work_center_detail", pk=saved.pk)
    return form_response(
        request,
        form=form,
        title=_("Edit work center %(code)s") % {"code": center.code}
        if center
        else _("New work center"),
        cancel_url=reverse("product:work_center_detail", args=[center.pk])
        if center
        else reverse("product:work_center_list"),
        status=400 if form.errors else 200,
    )


@requires("product.bom")
def work_center_create(request: HttpRequest) -> HttpResponse:
    return _work_center_edit(request, center=None)


@requires("product.bom")
def work_center_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _work_center_edit(request, center=get_object_or_404(WorkCenter.objects, pk=pk))


@require_POST
@requires("product.bom")
def work_center_archive(request: HttpRequest, pk: int) -> HttpResponse:
    center = get_object_or_404(WorkCenter.objects, pk=pk)
    try:
        services.work_center_archive(work_center=center, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Work center archived."))
    return redirect("product:work_center_detail", pk=pk)


# --- routings -----------------------------------------------------------------------------------

ROUTING_LIST = ListScreen(
    key="routings",
    title=gettext_lazy("Routings"),
    columns=[
        Column("name", gettext_lazy("Routing"), order_by="name"),
        Column(
            "product", gettext_lazy("Product"), accessor="product__sku", order_by="product__sku"
        ),
        Column("product_name", gettext_lazy("Product name"), accessor="product__display_name"),
        Column(
            "operations",
            gettext_lazy("Operations"),
            accessor="operation_count",
            order_by="operation_count",
        ),
        Column("active", gettext_lazy("Active"), order_by="active"),
    ],
    search_fields=["name", "product__sku", "product__name"],
    filters=[
        Filter(
            "active",
            gettext_lazy("Active"),
            "active",
            choices=lambda r: [("1", str(_("Yes"))), ("0", str(_("No")))],
        ),
        Filter(
            "work_center",
            gettext_lazy("Work center"),
            "operations__work_center__code",
            choices=lambda r: list(WorkCenter.objects.values_list("code", "code")),
        ),
    ],
    default_sort="product",
    detail_url=lambda r: reverse("product:routing_detail", args=[r.pk]),
)


@requires("product.view")
def routing_list(request: HttpRequest) -> HttpResponse:
    actions = (
        [(_("New routing"), reverse("product:routing_create"))]
        if has_perm(request, "product.bom")
        else []
    )
    if has_perm(request, "product.import"):
        actions.append((_("Import / export"), reverse("core:import_routings")))
    queryset = (
        Routing.objects.select_related("product")
        .annotate(operation_count=Count("operations", distinct=True))
        .distinct()
    )
    return list_response(request, ROUTING_LIST, queryset, extra={"actions": actions})


@requires("product.view")
def routing_detail(request: HttpRequest, pk: int) -> HttpResponse:
    routing = get_object_or_404(Routing.objects.select_related("product__uom"), pk=pk)
    operations = list(routing.operations.select_related("work_center").order_by("sequence", "id"))
    for op in operations:
        center = op.work_center
        op.cost_per_unit = services.q6(
            op.run_minutes / 60 * (center.cost_per_hour + center.overhead_per_hour)
        ).normalize()
    bom = services.bom_effective(product=routing.product)
    actions = []
    if has_perm(request, "product.bom"):
        actions.append({"label": _("Edit"), "url": reverse("product:routing_edit", args=[pk])})
        if routing.active:
            actions.append(
                {
                    "label": _("Archive"),
                    "url": reverse("product:routing_archive", args=[pk]),
                    "post": True,
                }
            )
    context = {
        "obj": routing,
        "routing": routing,
        "title": _("Routing %(name)s of %(product)s")
        % {"name": routing.name, "product": routing.product},
        "operations": operations,
        "bom": bom,
        "actions": actions,
        "history": history_for(routing),
    }
    return render(request, "product/bom/routing_detail.html", context)


OPERATION_FIELDS = ["sequence", "name", "work_center", "setup_minutes", "run_minutes"]


class RoutingForm(ShellForm):
    product = forms.CharField(
        label=gettext_lazy("Product (SKU)"),
        max_length=40,
        widget=forms.TextInput(attrs={"list": "component-choices", "autocomplete": "off"}),
    )
    name = forms.CharField(label=gettext_lazy("Name"), max_length=80)
    active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["product"]
        else:
            self.fields["product"].widget.attrs.update(sku_search_attrs())


def _routing_edit(
    request: HttpRequest, *, routing: Routing | None, initial: dict[str, Any], rows: list[Row]
) -> HttpResponse:
    form = RoutingForm(request.POST or None, initial=initial, editing=routing is not None)
    if request.method == "POST":
        rows = rows_from_post(request, "op", OPERATION_FIELDS)
        pressed = rows_edit_action(request, rows, OPERATION_FIELDS)
        if not pressed and form.is_valid():
            data = form.cleaned_data
            used = [i for i, row in enumerate(rows) if not row.blank]
            operations = [
                {
                    "sequence": _int_or_none(rows[i]["sequence"]),
                    "name": rows[i]["name"],
                    "work_center": _int_or_none(rows[i]["work_center"]),
                    "setup_minutes": _decimal_or_raw(rows[i]["setup_minutes"]),
                    "run_minutes": _decimal_or_raw(rows[i]["run_minutes"]),
                }
                for i in used
            ]
            try:
                if routing is None:
                    product = Product.objects.filter(sku=data["product"].strip()).first()
                    if product is None:
                        raise ValidationError(
                            {"product": [_("No product has this SKU in your company.")]}
                        )
                    saved = services.routing_create(
                        company=request.company,
                        actor=request.user,
                        product=product,
                        name=data["name"],
                        operations=operations,
                        active=data["active"],
                    )
                else:
                    saved = services.routing_update(
                        routing=routing,
                        actor=request.user,
                        name=data["name"],
                        active=data["active"],
                        operations=operations,
                    )
            except ValidationError as exc:
                rows_apply_errors(exc, "operations", rows, used, form)
            else:
                messages.success(request, _("Routing saved."))
                return redirect("product:routing_detail", pk=saved.pk)
    if not rows:
        rows = [Row(dict.fromkeys(OPERATION_FIELDS, ""))]
    has_errors = bool(form.errors) or any(row.errors for row in rows)
    context = {
        "form": form,
        "rows": rows,
        "work_centers": list(
            WorkCenter.objects.filter(active=True)
            .order_by("code")
            .values_list("pk", "code", "name")
        ),
        "title": _("Edit routing %(name)s") % {"name": routing.name}
        if routing
        else _("New routing"),
        "cancel_url": reverse("product:routing_detail", args=[routing.pk])
        if routing
        else reverse("product:routing_list"),
    }
    status = 400 if request.method == "POST" and has_errors else 200
    return render(request, "product/bom/routing_edit.html", context, status=status)


def _operation_rows(routing: Routing) -> list[Row]:
    return [
        Row(
            {
                "sequence": str(op.sequence),
                "name": op.name,
                "work_center": str(op.work_center_id),
                "setup_minutes": f"{op.setup_minutes.normalize():f}",
                "run_minutes": f"{op.run_minutes.normalize():f}",
            }
        )
        for op in routing.operations.order_by("sequence", "id")
    ]


@requires("product.bom")
def routing_create(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {"active": True}
    product_pk = _int_or_none(request.GET.get("product", ""))
    if product_pk is not None:
        product = get_object_or_404(Product.objects, pk=product_pk)
        initial.update(product=product.sku, name=_("Routing of %(sku)s") % {"sku": product.sku})
    return _routing_edit(request, routing=None, initial=initial, rows=[])


@requires("product.bom")
def routing_edit(request: HttpRequest, pk: int) -> HttpResponse:
    routing = get_object_or_404(Routing.objects.select_related("product"), pk=pk)
    initial = {"name": routing.name, "active": routing.active}
    return _routing_edit(request, routing=routing, initial=initial, rows=_operation_rows(routing))


@require_POST
@requires("product.bom")
def routing_archive(request: HttpRequest, pk: int) -> HttpResponse:
    routing = get_object_or_404(Routing.objects, pk=pk)
    services.routing_archive(routing=routing, actor=request.user)
    messages.success(request, _("Routing archived."))
    return redirect("product:routing_detail", pk=pk)


urlpatterns = [
    path("boms/", bom_list, name="bom_list"),
    path("boms/new/", bom_create, name="bom_create"),
    path("boms/components/", component_choices, name="bom_components"),
    path("boms/<int:pk>/", bom_detail, name="bom_detail"),
    path("boms/<int:pk>/edit/", bom_edit, name="bom_edit"),
    path("boms/<int:pk>/archive/", bom_archive, name="bom_archive"),
    path("boms/<int:pk>/explosion/", bom_explosion, name="bom_explosion"),
    path("boms/<int:pk>/where-used/", bom_where_used, name="bom_where_used"),
    path("boms/<int:pk>/cost/", bom_cost, name="bom_cost"),
    path("boms/<int:pk>/cost/apply/", bom_rollup_apply, name="bom_rollup_apply"),
    path("work-centers/", work_center_list, name="work_center_list"),
    path("work-centers/new/", work_center_create, name="work_center_create"),
    path("work-centers/<int:pk>/", work_center_detail, name="work_center_detail"),
    path("work-centers/<int:pk>/edit/", work_center_edit, name="work_center_edit"),
    path("work-centers/<int:pk>/archive/", work_center_archive, name="work_center_archive"),
    path("routings/", routing_list, name="routing_list"),
    path("routings/new/", routing_create, name="routing_create"),
    path("routings/<int:pk>/", routing_detail, name="routing_detail"),
    path("routings/<int:pk>/edit/", routing_edit, name="routing_edit"),
    path("routings/<int:pk>/archive/", routing_archive, name="routing_archive"),
]
