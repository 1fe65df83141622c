"""Inventory screens: count sheets (list, new count, the sheet with counted quantities entered
inline, found goods, posting the adjustments, cancelling, the printable sheet with a blind
option), cycle counts due by ABC class, the planner's replenishment view and the replenishment
rules."""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, F, Q, prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from xietong.core.pdf import pdf_render
from xietong.core.permissions import has_perm, requires
from xietong.core.ui import listing
from xietong.core.ui.listing import Column, Filter, ListScreen
from xietong.core.ui.records import apply_errors, record_response
from xietong.inventory import counts, replenishment
from xietong.inventory.forms_counts import CountCreateForm, CountLineAddForm, RuleForm
from xietong.inventory.models import (
    CountLine,
    InventoryCount,
    Location,
    Quant,
    ReplenishmentRule,
    Warehouse,
)
from xietong.inventory.warehouses import internal_locations_below
from xietong.product.models import Product

ZERO = Decimal(0)
State = InventoryCount.State
OPEN_STATES = (State.DRAFT, State.COUNTING)
STATE_STYLES = {
    State.DRAFT: "secondary",
    State.COUNTING: "info",
    State.DONE: "success",
    State.CANCELLED: "danger",
}
# Which form field a count service's refusal (its code) belongs to.
CREATE_FIELDS = {
    "foreign_record": "location",
    "not_stock": "location",
    "abc_class": "abc_class",
    "date": "date",
}
ADD_FIELDS = {
    "foreign_record": "product",
    "service": "product",
    "duplicate": "product",
    "lot": "lot",
    "location": "location",
}
PRODUCT_OPTIONS = 2000  # SKUs offered in a product field's suggestions


# --- small helpers ----------------------------------------------------------------------------


def link(name: str, *args: Any) -> str:
    """The URL of `name`, or "" while that screen does not exist (being written elsewhere)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def product_url(product_id: int) -> str:
    return link("inventory:product_stock", product_id)


def move_url(move_id: int) -> str:
    return link("inventory:move_detail", move_id)


def qty_text(value: Decimal | None, *, signed: bool = False) -> str:
    """A quantity as people write it: 10, 2.5, +3 (never 1E+1 or 2.500000)."""
    if value is None:
        return ""
    value = Decimal(value).normalize()
    if not value:
        return "0"
    return f"{value:+f}" if signed else f"{value:f}"


class Shown(SafeString):
    """HTML of a list cell that exports as a plain value (a Decimal for quantities)."""

    export_value: Any

    def __new__(cls, html: str, export_value: Any) -> Shown:
        obj = super().__new__(cls, html)
        obj.export_value = export_value
        return obj


def Qty(value: Decimal | int | None, *, strong: bool = False) -> Shown:  # noqa: N802
    """A right-aligned quantity (bold when `strong`)."""
    text = qty_text(Decimal(value)) if value is not None else ""
    css = "d-block text-end text-nowrap" + (" fw-semibold" if strong else "")
    return Shown(
        format_html('<span class="{}">{}</span>', css, text), Decimal(text) if text else None
    )


def Badge(label: Any, style: str = "secondary") -> Shown:  # noqa: N802
    return Shown(format_html('<span class="badge text-bg-{}">{}</span>', style, label), str(label))


def state_badge(count: InventoryCount) -> Shown:
    return Badge(count.get_state_display(), STATE_STYLES.get(count.state, "secondary"))


def user_name(user: Any) -> str:
    return (user.get_full_name() or user.username) if user else ""


def parse_quantity(raw: str) -> Decimal | None:
    """A typed quantity (thousands commas allowed); None when blank. Raises ValueError."""
    raw = (raw or "").replace(",", "").strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise ValueError(raw) from exc
    if not value.is_finite():
        raise ValueError(raw)
    return value


def errors_to_form(form: forms.BaseForm, error: ValidationError, fields: Mapping[str, str]) -> None:
    """Put a service's refusal on the form: a field error by the refusal's code where `fields`
    names the field, else on the form."""
    if hasattr(error, "error_dict"):
        apply_errors(form, error)
        return
    for item in error.error_list:
        field = fields.get(item.code or "")
        form.add_error(field if field in form.fields else None, item.messages)


def product_options() -> Any:
    return (
        Product.objects.filter(active=True)
        .exclude(type=Product.Type.SERVICE)
        .order_by("sku")
        .values_list("sku", "name")[:PRODUCT_OPTIONS]
    )


# --- count list -------------------------------------------------------------------------------


def _state_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(value), str(label)) for value, label in State.choices]


def _warehouse_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(w.pk), f"{w.code} {w.name}") for w in Warehouse.objects.order_by("code")]


def _class_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(cls, cls) for cls in counts.CLASSES]


def _yes_no(request: HttpRequest) -> list[tuple[str, str]]:
    return [("1", _("Yes")), ("0", _("No"))]


COUNT_LIST = ListScreen(
    key="inventory-counts",
    title=gettext_lazy("Inventory counts"),
    columns=[
        Column("number", gettext_lazy("Number"), accessor=str, order_by="number", link=True),
        Column(
            "location",
            gettext_lazy("Location"),
            accessor="location__full_name",
            order_by="location__full_name",
        ),
        Column("abc_class", gettext_lazy("ABC class"), order_by="abc_class"),
        Column("date", gettext_lazy("Date"), order_by="date"),
        Column("state", gettext_lazy("State"), accessor=state_badge, order_by="state"),
        Column(
            "lines",
            gettext_lazy("Lines"),
            accessor=lambda c: Qty(c.line_count),
            order_by="line_count",
        ),
        Column(
            "counted",
            gettext_lazy("Counted lines"),
            accessor=lambda c: Qty(c.counted_count),
            order_by="counted_count",
        ),
        Column(
            "counted_by",
            gettext_lazy("Counted by"),
            accessor=lambda c: user_name(c.counted_by),
            order_by="counted_by__username",
        ),
        Column("done_at", gettext_lazy("Posted at"), order_by="done_at", default=False),
    ],
    search_fields=["number", "location__full_name"],
    filters=[
        Filter("state", gettext_lazy("State"), "state", choices=_state_choices),
        Filter(
            "warehouse",
            gettext_lazy("Warehouse"),
            "location__warehouse_id",
            choices=_warehouse_choices,
        ),
        Filter("abc_class", gettext_lazy("ABC class"), "abc_class", choices=_class_choices),
        Filter("date_from", gettext_lazy("From"), "date__gte", kind="date"),
        Filter("date_to", gettext_lazy("To"), "date__lte", kind="date"),
    ],
    default_sort="-date",
    detail_url=lambda c: reverse("inventory:count_detail", args=[c.pk]),
)


@requires("inventory.view")
def count_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "inventory.count"):
        actions.append((_("New count"), reverse("inventory:count_create")))
    actions.append((_("Cycle counts"), reverse("inventory:cycle_counts")))
    rows = InventoryCount.objects.select_related("location", "counted_by").annotate(
        line_count=Count("lines"),
        counted_count=Count("lines", filter=Q(lines__counted__isnull=False)),
    )
    return listing.list_response(request, COUNT_LIST, rows, extra={"actions": actions})


# --- new count --------------------------------------------------------------------------------


@requires("inventory.count")
def count_create(request: HttpRequest) -> HttpResponse:
    """A new count sheet (also the target of the cycle-count buttons, which post the location,
    the date and the ABC class)."""
    initial = {"date": timezone.localdate(), "abc_class": request.GET.get("abc_class", "")}
    form = CountCreateForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            count = counts.count_create(
                company=request.company,
                location=data["location"],
                date=data["date"],
                abc_class=data["abc_class"],
                actor=request.user,
            )
        except ValidationError as exc:
            errors_to_form(form, exc, CREATE_FIELDS)
        else:
            lines = CountLine.objects.filter(count=count).count()
            if lines:
                messages.success(
                    request,
                    ngettext(
                        "Count %(number)s created with %(lines)s line.",
                        "Count %(number)s created with %(lines)s lines.",
                        lines,
                    )
                    % {"number": count.number, "lines": lines},
                )
            else:
                messages.warning(
                    request,
                    _("Count %(number)s created; the books hold nothing there to count.")
                    % {"number": count.number},
                )
            return redirect("inventory:count_detail", pk=count.pk)
    return render(
        request,
        "inventory/count_form.html",
        {
            "form": form,
            "title": _("New inventory count"),
            "cancel_url": reverse("inventory:count_list"),
            "submit_label": _("Create the count sheet"),
        },
        status=400 if form.errors else 200,
    )


# --- the count sheet --------------------------------------------------------------------------


def _count(pk: int) -> InventoryCount:
    return get_object_or_404(
        InventoryCount.objects.select_related("location", "counted_by", "company"), pk=pk
    )


def _lines(count: InventoryCount, pks: Iterable[int] | None = None) -> list[CountLine]:
    lines = CountLine.objects.filter(count=count).select_related(
        "product", "product__uom", "location", "lot", "move"
    )
    if pks is not None:
        lines = lines.filter(pk__in=list(pks))
    return sorted(
        lines,
        key=lambda x: (x.location.full_name, x.product.sku, x.lot.name if x.lot else "", x.pk),
    )


def _row(line: CountLine, *, value: str | None = None, error: str = "") -> dict[str, Any]:
    difference = None if line.counted is None else line.counted - line.expected
    style = ""
    if difference:
        style = "gain" if difference > 0 else "loss"
    return {
        "line": line,
        "expected": qty_text(line.expected),
        "counted": qty_text(line.counted),
        "value": qty_text(line.counted) if value is None else value,
        "difference": difference,
        "difference_text": qty_text(difference, signed=True) if difference is not None else "",
        "style": style,
        "error": error,
        "product_url": product_url(line.product_id),
        "move_url": move_url(line.move_id) if line.move_id else "",
    }


def _groups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sheet's rows by location (the rows are sorted by location)."""
    return [
        {"location": location, "rows": list(items)}
        for location, items in itertools.groupby(rows, key=lambda r: r["line"].location)
    ]


def _summary(count: InventoryCount) -> dict[str, Any]:
    """How far the count is: lines, lines counted, lines counted differing from the books."""
    counted = Q(counted__isnull=False)
    figures = CountLine.objects.filter(count=count).aggregate(
        n_lines=Count("pk"),
        n_counted=Count("pk", filter=counted),
        n_differences=Count("pk", filter=counted & ~Q(counted=F("expected"))),
    )
    return {
        "lines": figures["n_lines"],
        "counted": figures["n_counted"],
        "differences": figures["n_differences"],
        "state": state_badge(count),
    }


def _differences(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["difference"]]


def _add_form(count: InventoryCount, data: Any = None) -> CountLineAddForm:
    locations = Location.objects.filter(pk__in=internal_locations_below(count.location)).order_by(
        "full_name"
    )
    return CountLineAddForm(data, locations=locations)


def _sheet_response(
    request: HttpRequest,
    count: InventoryCount,
    *,
    add_form: CountLineAddForm | None = None,
    entered: Mapping[int, str] | None = None,
    line_errors: Mapping[int, str] | None = None,
    sheet_errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    entered, line_errors = entered or {}, line_errors or {}
    rows = [
        _row(line, value=entered.get(line.pk), error=line_errors.get(line.pk, ""))
        for line in _lines(count)
    ]
    can_count = has_perm(request, "inventory.count")
    editable = can_count and count.state in OPEN_STATES
    actions = [
        {
            "label": _("Print"),
            "url": reverse("inventory:count_pdf", args=[count.pk]),
            "style": "outline-secondary",
        },
        {
            "label": _("Print a blind sheet"),
            "url": reverse("inventory:count_pdf", args=[count.pk]) + "?blind=1",
            "style": "outline-secondary",
        },
    ]
    response = record_response(
        request,
        obj=count,
        title=_("Inventory count %(number)s") % {"number": count},
        fields=[],
        actions=actions,
        template="inventory/count_detail.html",
        extra={
            "count": count,
            "state_badge": state_badge(count),
            "groups": _groups(rows),
            "summary": _summary(count),
            "differences": _differences(rows),
            "adjustments": [r for r in rows if r["line"].move_id],
            "editable": editable,
            "add_form": (add_form or _add_form(count)) if editable else None,
            "products": product_options() if editable else [],
            "sheet_errors": sheet_errors or [],
        },
    )
    response.status_code = status
    return response


@requires("inventory.view")
def count_detail(request: HttpRequest, pk: int) -> HttpResponse:
    count = _count(pk)
    if request.GET.get("part") == "differences":  # the confirmation, fresh when it opens
        rows = [_row(line) for line in _lines(count)]
        return render(
            request,
            "inventory/count_differences.html",
            {"count": count, "differences": _differences(rows), "summary": _summary(count)},
        )
    return _sheet_response(request, count)


def _posted_quantities(request: HttpRequest) -> dict[int, str]:
    """The `line-<id>` fields of the post: line id → what was typed."""
    return {
        int(key[5:]): value
        for key, value in request.POST.items()
        if key.startswith("line-") and key[5:].isdigit()
    }


@require_POST
@requires("inventory.count")
def count_set(request: HttpRequest, pk: int) -> HttpResponse:
    """Counted quantities: from HTMX one field at a time (the answer is the line's row), from
    the plain form every line whose quantity changed (then back to the sheet)."""
    count = _count(pk)
    posted = _posted_quantities(request)
    if request.htmx:
        trigger = request.htmx.trigger_name or ""
        if trigger.startswith("line-") and trigger[5:].isdigit() and int(trigger[5:]) in posted:
            posted = {int(trigger[5:]): posted[int(trigger[5:])]}
        if len(posted) != 1:
            raise Http404
        return _set_one(request, count, *next(iter(posted.items())))
    lines = {line.pk: line for line in CountLine.objects.filter(count=count)}
    line_errors: dict[int, str] = {}
    changes: dict[int, Decimal | None] = {}
    for line_id, raw in posted.items():
        try:
            value = parse_quantity(raw)
        except ValueError:
            line_errors[line_id] = _("Enter a number.")
            continue
        line = lines.get(line_id)
        if line is None or line.counted != value:
            changes[line_id] = value
    if line_errors:
        return _sheet_response(
            request, count, entered=posted, line_errors=line_errors, status=400,
            sheet_errors=[_("Some quantities are not numbers; nothing was saved.")],
        )  # fmt: skip
    if not changes:
        messages.info(request, _("No counted quantity changed."))
        return redirect("inventory:count_detail", pk=count.pk)
    try:
        counts.count_set(count=count, counts=changes, actor=request.user)
    except ValidationError as exc:
        return _sheet_response(
            request, count, entered=posted, sheet_errors=exc.messages, status=400
        )
    messages.success(request, _("Counted quantities saved."))
    return redirect("inventory:count_detail", pk=count.pk)


def _set_one(request: HttpRequest, count: InventoryCount, line_id: int, raw: str) -> HttpResponse:
    """Save one counted quantity and answer with its row (errors shown in the row; HTMX swaps
    only 2xx answers, so they come with 200)."""
    found = _lines(count, [line_id])
    if not found:
        raise Http404
    line, error = found[0], ""
    try:
        value = parse_quantity(raw)
    except ValueError:
        error = _("Enter a number.")
    else:
        if value != line.counted:
            try:
                count = counts.count_set(count=count, counts={line.pk: value}, actor=request.user)
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                line = _lines(count, [line_id])[0]
    context = {
        "row": _row(line, value=raw if error else None, error=error),
        "count": count,
        "editable": count.state in OPEN_STATES,
        "summary": _summary(count),
        "oob": True,
    }
    return render(request, "inventory/count_sheet_row.html", context)


@require_POST
@requires("inventory.count")
def count_line_add(request: HttpRequest, pk: int) -> HttpResponse:
    """A line for goods found on the shelf that the sheet does not list."""
    count = _count(pk)
    if count.state not in OPEN_STATES:
        messages.error(request, _("The count %(count)s is closed.") % {"count": count})
        return redirect("inventory:count_detail", pk=pk)
    form = _add_form(count, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            line = counts.count_line_add(
                count=count,
                product=data["product"],
                location=data["location"],
                lot=data["lot"],
                actor=request.user,
            )
        except ValidationError as exc:
            errors_to_form(form, exc, ADD_FIELDS)
        else:
            messages.success(
                request, _("%(product)s added to the sheet.") % {"product": line.product}
            )
            return redirect(reverse("inventory:count_detail", args=[pk]) + f"#count-line-{line.pk}")
    return _sheet_response(request, count, add_form=form, status=400)


@require_POST
@requires("inventory.count")
def count_done(request: HttpRequest, pk: int) -> HttpResponse:
    count = _count(pk)
    try:
        count = counts.count_done(count=count, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        moves = CountLine.objects.filter(count=count, move__isnull=False).count()
        messages.success(
            request,
            ngettext(
                "Count %(number)s posted: %(moves)s adjustment.",
                "Count %(number)s posted: %(moves)s adjustments.",
                moves,
            )
            % {"number": count.number, "moves": moves},
        )
    return redirect("inventory:count_detail", pk=pk)


@require_POST
@requires("inventory.count")
def count_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    count = _count(pk)
    try:
        count = counts.count_cancel(count=count, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Count %(number)s cancelled.") % {"number": count.number})
    return redirect("inventory:count_detail", pk=pk)


@requires("inventory.view")
def count_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The printable count sheet; `?blind=1` leaves out the expected quantities (and what was
    counted already), so that counters count what they see."""
    count = _count(pk)
    blind = request.GET.get("blind") == "1"
    rows = [_row(line) for line in _lines(count)]
    title = (_("Blind count sheet %(number)s") if blind else _("Count sheet %(number)s")) % {
        "number": count
    }
    pdf = pdf_render(
        template="inventory/pdf/count_sheet.html",
        context={
            "company": count.company,
            "count": count,
            "title": title,
            "groups": _groups(rows),
            "blind": blind,
            "lines": len(rows),
            "printed_at": timezone.localtime(),
            "blank_rows": range(6),
        },
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    name = str(count).replace("/", "-").replace(" ", "-")
    response["Content-Disposition"] = f'inline; filename="{name}{"-blind" if blind else ""}.pdf"'
    return response


# --- cycle counts -----------------------------------------------------------------------------

DUE_SHOWN = 100  # products listed per class (all of them are counted)


@requires("inventory.view")
def cycle_counts(request: HttpRequest) -> HttpResponse:
    """What ABC cycle counting says is due today, per class, with a button per warehouse (or
    stock location outside a warehouse) holding due products to create that class's count."""
    today = timezone.localdate()
    due = counts.cycle_count_due(company=request.company, today=today)
    due_ids = {item.product.pk for items in due.values() for item in items}
    held = (
        Quant.objects.filter(product_id__in=due_ids, location__usage__in=counts.STOCK_USAGES)
        .exclude(quantity=0)
        .values_list("product_id", "location__warehouse_id", "location_id")
        .order_by()
        .distinct()
    )
    places: dict[tuple[str, int], set[int]] = defaultdict(set)  # ("w"|"l", id) → products
    for product_id, warehouse_id, location_id in held:
        key = ("w", warehouse_id) if warehouse_id else ("l", location_id)
        places[key].add(product_id)
    warehouses = Warehouse.objects.select_related("view_location").in_bulk(
        [pk for kind, pk in places if kind == "w"]
    )
    locations = Location.objects.in_bulk([pk for kind, pk in places if kind == "l"])
    can_count = has_perm(request, "inventory.count")
    classes = []
    for cls in counts.CLASSES:
        items = due[cls]
        ids = {item.product.pk for item in items}
        targets = []
        for (kind, pk), products in sorted(places.items()):
            n = len(products & ids)
            if not n:
                continue
            if kind == "w":
                warehouse = warehouses[pk]
                location, label = warehouse.view_location, f"{warehouse.code} {warehouse.name}"
            else:
                location = locations[pk]
                label = location.full_name
            targets.append({"location": location, "label": label, "products": n})
        classes.append(
            {
                "cls": cls,
                "days": counts.CYCLE_DAYS[cls],
                "items": [
                    {"due": item, "url": product_url(item.product.pk)} for item in items[:DUE_SHOWN]
                ],
                "more": max(0, len(items) - DUE_SHOWN),
                "total": len(items),
                "targets": targets,
            }
        )
    return render(
        request,
        "inventory/count_cycle.html",
        {
            "classes": classes,
            "today": today,
            "can_count": can_count,
            "create_url": reverse("inventory:count_create"),
            "list_url": reverse("inventory:count_list"),
        },
    )


# --- replenishment view -----------------------------------------------------------------------


def _flag(raw: str) -> bool:
    if raw not in ("0", "1"):
        raise ValueError(raw)
    return raw == "1"


def _product_matches(row: replenishment.ReplenishmentRow, raw: str) -> bool:
    text = raw.strip().lower()
    return text in row.product.sku.lower() or text in row.product.display_name.lower()


ROW_TESTS: dict[str, Callable[[Any, str], bool]] = {
    "warehouse": lambda row, raw: row.warehouse.pk == int(raw),
    "needs": lambda row, raw: (row.to_order > 0) == _flag(raw),
    "supply": lambda row, raw: row.supply == raw,
    "late": lambda row, raw: row.late == _flag(raw),
    "product": _product_matches,
}


class Rows:
    """The replenishment rows (computed, not a queryset) as the shell's list pattern uses
    them: filtered by the declared filters (`ROW_TESTS`), sorted by an attribute path, sliced
    and counted."""

    ordered = True

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def filter(self, **lookups: str) -> Rows:
        rows = self.rows
        for lookup, raw in lookups.items():
            test = ROW_TESTS[lookup]
            rows = [row for row in rows if test(row, raw)]
        return Rows(rows)

    def order_by(self, *keys: str) -> Rows:
        key = keys[0]
        names = key.lstrip("-").split("__")

        def value(row: Any) -> Any:
            for name in names:
                row = getattr(row, name, None)
            return row

        present = [row for row in self.rows if value(row) is not None]
        missing = [row for row in self.rows if value(row) is None]
        present.sort(key=value, reverse=key.startswith("-"))
        return Rows(present + missing)

    def count(self) -> int:
        return len(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __getitem__(self, index: Any) -> Any:
        return self.rows[index]


def _supply_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(value), str(label)) for value, label in Product.Supply.choices]


def _note(row: replenishment.ReplenishmentRow) -> Any:
    if not row.to_order:
        return ""
    if row.late:
        return Badge(_("Late: order today"), "danger")
    return _("Order by %(date)s") % {"date": row.order_date.isoformat() if row.order_date else ""}


def _supply_label(row: Any) -> str:
    return str(Product.Supply(row.supply).label) if row.supply else ""


REPLENISHMENT = ListScreen(
    key="inventory-replenishment",
    title=gettext_lazy("Replenishment"),
    columns=[
        Column("sku", gettext_lazy("SKU"), accessor="product__sku", order_by="product__sku"),
        Column("product", gettext_lazy("Product"), accessor="product__display_name"),
        Column(
            "warehouse",
            gettext_lazy("Warehouse"),
            accessor="warehouse__code",
            order_by="warehouse__code",
        ),
        Column("unit", gettext_lazy("Unit"), accessor="product__uom__code", default=False),
        Column(
            "on_hand",
            gettext_lazy("On hand"),
            accessor=lambda r: Qty(r.on_hand),
            order_by="on_hand",
        ),
        Column(
            "incoming",
            gettext_lazy("Incoming"),
            accessor=lambda r: Qty(r.incoming),
            order_by="incoming",
        ),
        Column(
            "outgoing",
            gettext_lazy("Outgoing"),
            accessor=lambda r: Qty(r.outgoing),
            order_by="outgoing",
        ),
        Column(
            "forecast",
            gettext_lazy("Forecast"),
            accessor=lambda r: Qty(r.forecast),
            order_by="forecast",
        ),
        Column("min_qty", gettext_lazy("Reorder point"), accessor=lambda r: Qty(r.min_qty)),
        Column("max_qty", gettext_lazy("Maximum"), accessor=lambda r: Qty(r.max_qty)),
        Column("multiple", gettext_lazy("Multiple"), accessor=lambda r: Qty(r.multiple)),
        Column(
            "to_order",
            gettext_lazy("To order"),
            accessor=lambda r: Qty(r.to_order, strong=r.to_order > 0),
            order_by="to_order",
        ),
        Column("need_date", gettext_lazy("Needed on"), order_by="need_date"),
        Column("order_date", gettext_lazy("Order by"), order_by="order_date", default=False),
        Column("supply", gettext_lazy("Buy or make"), accessor=_supply_label, order_by="supply"),
        Column("lead_days", gettext_lazy("Lead time (days)"), order_by="lead_days", default=False),
        Column("note", gettext_lazy("Note"), accessor=_note),
    ],
    filters=[
        Filter("warehouse", gettext_lazy("Warehouse"), "warehouse", choices=_warehouse_choices),
        Filter("needs", gettext_lazy("Needs ordering"), "needs", choices=_yes_no),
        Filter("supply", gettext_lazy("Buy or make"), "supply", choices=_supply_choices),
        Filter("late", gettext_lazy("Late"), "late", choices=_yes_no),
        Filter("product", gettext_lazy("Product (SKU or name)"), "product", kind="text"),
    ],
    detail_url=lambda r: product_url(r.product.pk) or None,
)


@requires("inventory.view")
def replenishment_view(request: HttpRequest) -> HttpResponse:
    """The planner's view: every active rule's stock situation and what to order."""
    raw = request.GET.get("warehouse", "").strip()
    warehouse = Warehouse.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
    rows = replenishment.replenishment_view(
        company=request.company, warehouse=warehouse, today=timezone.localdate()
    )
    prefetch_related_objects([row.product for row in rows], "uom")
    actions = [(_("Replenishment rules"), reverse("inventory:rule_list"))]
    return listing.list_response(request, REPLENISHMENT, Rows(rows), extra={"actions": actions})  # type: ignore[arg-type]


# --- replenishment rules ----------------------------------------------------------------------


RULE_LIST = ListScreen(
    key="inventory-rules",
    title=gettext_lazy("Replenishment rules"),
    columns=[
        Column(
            "sku", gettext_lazy("SKU"), accessor="product__sku", order_by="product__sku", link=True
        ),
        Column(
            "product",
            gettext_lazy("Product"),
            accessor="product__display_name",
            order_by="product__name",
        ),
        Column(
            "warehouse",
            gettext_lazy("Warehouse"),
            accessor="warehouse__code",
            order_by="warehouse__code",
        ),
        Column(
            "min_qty",
            gettext_lazy("Reorder point"),
            accessor=lambda r: Qty(r.min_qty),
            order_by="min_qty",
        ),
        Column(
            "max_qty",
            gettext_lazy("Maximum"),
            accessor=lambda r: Qty(r.max_qty),
            order_by="max_qty",
        ),
        Column(
            "multiple",
            gettext_lazy("Order multiple"),
            accessor=lambda r: Qty(r.multiple),
            order_by="multiple",
        ),
        Column("unit", gettext_lazy("Unit"), accessor="product__uom__code"),
        Column(
            "supply",
            gettext_lazy("Buy or make"),
            accessor="product__get_supply_display",
            order_by="product__supply",
        ),
        Column("active", gettext_lazy("Active"), order_by="active"),
    ],
    search_fields=["product__sku", "product__name"],
    filters=[
        Filter("warehouse", gettext_lazy("Warehouse"), "warehouse_id", choices=_warehouse_choices),
        Filter("active", gettext_lazy("Active"), "active", choices=_yes_no),
        Filter("supply", gettext_lazy("Buy or make"), "product__supply", choices=_supply_choices),
    ],
    default_sort="sku",
)


@requires("inventory.view")
def rule_list(request: HttpRequest) -> HttpResponse:
    actions = [(_("Replenishment"), reverse("inventory:replenishment"))]
    if has_perm(request, "inventory.configure"):
        actions.insert(0, (_("New rule"), reverse("inventory:rule_create")))
        screen = dataclasses.replace(
            RULE_LIST, detail_url=lambda r: reverse("inventory:rule_edit", args=[r.pk])
        )
    else:
        screen = dataclasses.replace(
            RULE_LIST, detail_url=lambda r: product_url(r.product_id) or None
        )
    rules = ReplenishmentRule.objects.select_related("product", "product__uom", "warehouse")
    return listing.list_response(request, screen, rules, extra={"actions": actions})


def _rule_form(
    request: HttpRequest, form: RuleForm, rule: ReplenishmentRule | None
) -> HttpResponse:
    """The create/edit round trip: `rule_set` on a valid post; its refusals go back onto the
    fields, nothing written."""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        exists = (
            rule is None
            and ReplenishmentRule.objects.filter(
                product=data["product"], warehouse=data["warehouse"]
            ).exists()
        )
        if exists:  # rule_set would update it: say so instead of overwriting silently
            form.add_error(
                "product",
                _("%(product)s has a rule in %(warehouse)s already; edit that rule.")
                % {"product": data["product"].sku, "warehouse": data["warehouse"].code},
            )
        else:
            try:
                saved = replenishment.rule_set(
                    company=request.company,
                    product=data["product"],
                    warehouse=data["warehouse"],
                    min_qty=data["min_qty"],
                    max_qty=data["max_qty"],
                    multiple=data["multiple"],
                    active=data["active"],
                    actor=request.user,
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("Replenishment rule of %(product)s in %(warehouse)s saved.")
                    % {"product": saved.product.sku, "warehouse": saved.warehouse.code},
                )
                return redirect("inventory:rule_list")
    title = (
        _("New replenishment rule")
        if rule is None
        else _("Replenishment rule of %(product)s in %(warehouse)s")
        % {"product": rule.product.sku, "warehouse": rule.warehouse.code}
    )
    return render(
        request,
        "inventory/replenishment_rule_form.html",
        {
            "form": form,
            "title": title,
            "cancel_url": reverse("inventory:rule_list"),
            "products": product_options() if rule is None else [],
        },
        status=400 if form.errors else 200,
    )


@requires("inventory.configure")
def rule_create(request: HttpRequest) -> HttpResponse:
    form = RuleForm(
        request.POST if request.method == "POST" else None,
        initial={"active": True, "multiple": "0"},
    )
    return _rule_form(request, form, None)


@requires("inventory.configure")
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(
        ReplenishmentRule.objects.select_related("product", "warehouse"), pk=pk
    )
    initial = {
        "product": rule.product.sku,
        "warehouse": rule.warehouse_id,
        "min_qty": qty_text(rule.min_qty),
        "max_qty": qty_text(rule.max_qty),
        "multiple": qty_text(rule.multiple),
        "active": rule.active,
    }
    form = RuleForm(request.POST if request.method == "POST" else None, initial=initial, fixed=True)
    return _rule_form(request, form, rule)


urlpatterns = [
    path("counts/", count_list, name="count_list"),
    path("counts/new/", count_create, name="count_create"),
    path("counts/cycle/", cycle_counts, name="cycle_counts"),
    path("counts/<int:pk>/", count_detail, name="count_detail"),
    path("counts/<int:pk>/set/", count_set, name="count_set"),
    path("counts/<int:pk>/lines/add/", count_line_add, name="count_line_add"),
    path("counts/<int:pk>/post/", count_done, name="count_done"),
    path("counts/<int:pk>/cancel/", count_cancel, name="count_cancel"),
    path("counts/<int:pk>/pdf/", count_pdf, name="count_pdf"),
    path("replenishment/", replenishment_view, name="replenishment"),
    path("replenishment/rules/", rule_list, name="rule_list"),
    path("replenishment/rules/new/", rule_create, name="rule_create"),
    path("replenishment/rules/<int:pk>/edit/", rule_edit, name="rule_edit"),
]
