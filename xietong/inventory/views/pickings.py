"""Inventory screens: pickings. The list (filters, presets, exports), the picking page (moves,
the steps of its route, backorders, actions by state), the new picking form, the confirm /
reserve / cancel actions, validation (quantities done, lots and serial numbers, the backorder
question) and the barcode screen of a handheld, plus the pick list / delivery slip PDF.

The scan screen keeps what was scanned in the user's session (move → quantity, lot or serial
numbers) until the picking is validated: nothing is written before `picking_done`, so a wrong
scan never changes stock, and leaving the screen loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Case, Q, Sum, Value, When
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import record_response
from xietong.inventory import pickings as services
from xietong.inventory.forms_pickings import (
    LineFormSet,
    PickingForm,
    ValidateForm,
    incoming,
    unit_choices,
)
from xietong.inventory.models import Lot, Move, Picking, Warehouse
from xietong.party.models import Party
from xietong.product.models import Product

Kind = Picking.Kind
PState = Picking.State
MState = Move.State
Tracking = Product.Tracking
ZERO = Decimal(0)
OPEN_MOVES = (MState.DRAFT, MState.WAITING, MState.ASSIGNED)
TO_DO = (PState.WAITING, PState.READY)
NOT_OVER = (PState.DRAFT, PState.WAITING, PState.READY)
LINE_FIELDS = ("product", "quantity", "uom", "lot")
STEPS = {
    "receive": gettext_lazy("Receive"),
    "quality": gettext_lazy("Quality control"),
    "store": gettext_lazy("Put away"),
    "pick": gettext_lazy("Pick"),
    "pack": gettext_lazy("Pack"),
    "ship": gettext_lazy("Ship"),
}
STATE_STYLES = {
    PState.DRAFT: "secondary",
    PState.WAITING: "warning",
    PState.READY: "primary",
    PState.DONE: "success",
    PState.CANCELLED: "danger",
    MState.ASSIGNED: "primary",
}


# --- small helpers -----------------------------------------------------------------------------


def link(name: str, *args: Any) -> str:
    """The URL of the screen `name`, or "" while it does not exist (screens being built)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def qty(value: Decimal | None) -> str:
    """A quantity as people write it: 10, 2.5."""
    if value is None:
        return ""
    return f"{Decimal(value).normalize():f}"


class Display(SafeString):
    """HTML of a list cell that exports as plain text (`export_value`)."""

    export_value: Any

    def __new__(cls, html: str, export_value: Any) -> Display:
        obj = super().__new__(cls, html)
        obj.export_value = export_value
        return obj


def badge(obj: Any) -> Display:
    label = obj.get_state_display()
    style = STATE_STYLES.get(obj.state, "secondary")
    return Display(format_html('<span class="badge text-bg-{}">{}</span>', style, label), label)


def number_of(picking: Picking) -> str:
    return picking.number or _("Draft picking %(id)s") % {"id": picking.pk}


def step_label(picking: Picking) -> str:
    return str(STEPS.get(picking.step, picking.step))


def _route(picking: Picking) -> str:
    return f"{picking.from_location} → {picking.to_location}"


def _partner(picking: Picking) -> str:
    return picking.party.name if picking.party_id else ""


def _title(picking: Picking) -> str:
    return f"{picking.get_kind_display()} {number_of(picking)}"


# --- the list ----------------------------------------------------------------------------------


def _kind_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(v), str(label)) for v, label in Kind.choices]


def _state_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(v), str(label)) for v, label in PState.choices]


def _warehouse_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(w.pk), str(w)) for w in Warehouse.objects.order_by("code")]


def _partner_choices(request: HttpRequest) -> list[tuple[str, str]]:
    used = Picking.objects.exclude(party=None).values("party_id")
    return [(str(p.pk), p.name) for p in Party.objects.filter(pk__in=used).order_by("name")]


def _todo_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(key, str(label)) for key, label, _query in PRESETS if key != "late"]


def _yes_no(request: HttpRequest) -> list[tuple[str, str]]:
    return [("1", _("Yes")), ("0", _("No"))]


# key, label, query string
PRESETS = (
    ("receive", gettext_lazy("To receive"), "todo=receive"),
    ("pickpack", gettext_lazy("To pick/pack"), "todo=pickpack"),
    ("ship", gettext_lazy("To ship"), "todo=ship"),
    ("late", gettext_lazy("Late"), "late=1"),
)

PICKING_LIST = ListScreen(
    key="inventory-pickings",
    title=gettext_lazy("Pickings"),
    columns=[
        Column("number", gettext_lazy("Number"), accessor=number_of, order_by="number", link=True),
        Column("kind", gettext_lazy("Kind"), accessor="get_kind_display", order_by="kind"),
        Column("step", gettext_lazy("Step"), accessor=step_label, order_by="step"),
        Column("partner", gettext_lazy("Partner"), accessor=_partner, order_by="party__name"),
        Column("route", gettext_lazy("From → to"), accessor=_route),
        Column("scheduled_date", gettext_lazy("Scheduled"), order_by="scheduled_date"),
        Column("origin", gettext_lazy("Source document"), order_by="origin"),
        Column("state", gettext_lazy("State"), accessor=badge, order_by="state"),
        Column(
            "warehouse",
            gettext_lazy("Warehouse"),
            accessor="warehouse__code",
            order_by="warehouse__code",
            default=False,
        ),
        Column("done_at", gettext_lazy("Done at"), order_by="done_at", default=False),
    ],
    search_fields=["number", "origin", "party__name"],
    filters=[
        Filter("kind", gettext_lazy("Kind"), "kind", choices=_kind_choices),
        Filter("state", gettext_lazy("State"), "state", choices=_state_choices),
        Filter("warehouse", gettext_lazy("Warehouse"), "warehouse_id", choices=_warehouse_choices),
        Filter("partner", gettext_lazy("Partner"), "party_id", choices=_partner_choices),
        Filter("todo", gettext_lazy("To do"), "todo", choices=_todo_choices),
        Filter("late", gettext_lazy("Late"), "is_late", choices=_yes_no),
        Filter("date_from", gettext_lazy("Scheduled from"), "scheduled_date__gte", kind="date"),
        Filter("date_to", gettext_lazy("Scheduled until"), "scheduled_date__lte", kind="date"),
    ],
    default_sort="-scheduled_date",
    detail_url=lambda p: reverse("inventory:picking_detail", args=[p.pk]),
)


def pickings_listed() -> models.QuerySet[Picking]:
    """The company's pickings with what the list filters on: `todo` (receive, pickpack, ship
    for confirmed work) and `is_late` (scheduled before today and not done or cancelled)."""
    today = timezone.localdate()
    return Picking.objects.select_related(
        "warehouse", "from_location", "to_location", "party"
    ).annotate(
        todo=Case(
            When(kind=Kind.RECEIPT, state__in=TO_DO, then=Value("receive")),
            When(
                kind=Kind.INTERNAL,
                step__in=("pick", "pack"),
                state__in=TO_DO,
                then=Value("pickpack"),
            ),
            When(kind=Kind.DELIVERY, state__in=TO_DO, then=Value("ship")),
            default=Value(""),
            output_field=models.CharField(),
        ),
        is_late=Case(
            When(Q(scheduled_date__lt=today, state__in=NOT_OVER), then=Value(True)),
            default=Value(False),
            output_field=models.BooleanField(),
        ),
    )


@requires("inventory.view")
def picking_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "inventory.move"):
        actions.append((_("New picking"), reverse("inventory:picking_create")))
    presets = [
        {
            "key": key,
            "label": label,
            "url": f"{request.path}?{query}",
            "active": request.GET.get(query.split("=")[0]) == query.split("=")[1],
        }
        for key, label, query in PRESETS
    ]
    return list_response(
        request,
        PICKING_LIST,
        pickings_listed(),
        template="inventory/picking_list.html",
        extra={"actions": actions, "presets": presets},
    )


# --- the picking page --------------------------------------------------------------------------


def _moves(picking: Picking, *states: str) -> list[Move]:
    """The picking's moves (in `states`) with their product, unit, lot, places and `reserved`
    (in the stock unit)."""
    moves = Move.objects.filter(picking=picking)
    if states:
        moves = moves.filter(state__in=states)
    return list(
        moves.select_related(
            "product", "product__uom", "uom", "lot", "from_location", "to_location"
        )
        .annotate(reserved=Sum("reservations__quantity"))
        .order_by("pk")
    )


def _in_move_unit(move: Move, base: Decimal | None) -> Decimal:
    if not base:
        return ZERO
    return (move.quantity * base / move.quantity_base).quantize(Decimal("0.000001"))


def _button(label: str, name: str, pk: int, style: str, *, post: bool = False) -> dict[str, Any]:
    url = reverse(f"inventory:{name}", args=[pk])
    return {"label": label, "url": url, "style": style, "post": post}


def _actions(request: HttpRequest, picking: Picking) -> list[dict[str, Any]]:
    """The buttons of the picking page, by its state and the user's permissions."""
    pk = picking.pk
    actions: list[dict[str, Any]] = []
    if has_perm(request, "inventory.move") and picking.state in NOT_OVER:
        if picking.state == PState.DRAFT:
            actions.append(_button(_("Confirm"), "picking_confirm", pk, "primary", post=True))
        if picking.state == PState.WAITING:
            actions.append(
                _button(_("Check availability"), "picking_assign", pk, "primary", post=True)
            )
        actions.append(_button(_("Validate"), "picking_validate", pk, "success"))
        actions.append(_button(_("Scan"), "picking_scan", pk, "outline-primary"))
        actions.append(_button(_("Cancel"), "picking_cancel", pk, "outline-danger", post=True))
    actions.append(_button(_("Print"), "picking_pdf", pk, "outline-secondary"))
    return actions


@requires("inventory.view")
def picking_detail(request: HttpRequest, pk: int) -> HttpResponse:
    picking = get_object_or_404(
        Picking.objects.select_related(
            "warehouse", "from_location", "to_location", "party", "previous", "backorder_of"
        ),
        pk=pk,
    )
    sheet = ScanSheet.peek(request, picking)
    rows = []
    for move in _moves(picking):
        scanned = sheet.get(str(move.pk)) if move.state in OPEN_MOVES else None
        rows.append(
            {
                "move": move,
                "url": link("inventory:move_detail", move.pk),
                "product_url": link("inventory:product_stock", move.product_id),
                "lot_url": link("inventory:lot_detail", move.lot_id) if move.lot_id else "",
                "demand": qty(move.quantity),
                "reserved": qty(move.reserved) if move.reserved else "",
                "done": qty(move.quantity) if move.state == MState.DONE else "",
                "scanned": qty(Decimal(scanned)) if scanned else "",
                "other_place": move.from_location_id != picking.from_location_id
                or move.to_location_id != picking.to_location_id,
                "state": Display(
                    format_html(
                        '<span class="badge text-bg-{}">{}</span>',
                        STATE_STYLES.get(move.state, "secondary"),
                        move.get_state_display(),
                    ),
                    move.get_state_display(),
                ),
            }
        )
    chain = {
        "previous": picking.previous,
        "next_steps": list(Picking.objects.filter(previous=picking).order_by("pk")),
        "backorder_of": picking.backorder_of,
        "backorders": list(Picking.objects.filter(backorder_of=picking).order_by("pk")),
    }
    return record_response(
        request,
        obj=picking,
        title=_title(picking),
        fields=[],
        actions=_actions(request, picking),
        template="inventory/picking_detail.html",
        extra={
            "picking": picking,
            "number": number_of(picking),
            "step": step_label(picking),
            "state_badge": badge(picking),
            "rows": rows,
            "chain": chain,
            "has_chain": any(chain.values()),
            "partner_url": link("party:party_detail", picking.party_id) if picking.party_id else "",
        },
    )


# --- creating ----------------------------------------------------------------------------------


def _line_rows(data: Any) -> list[dict[str, str]]:
    try:
        count = max(0, min(int(data.get("lines-TOTAL_FORMS", "0")), 500))
    except ValueError:
        count = 0
    return [{n: data.get(f"lines-{i}-{n}", "") for n in LINE_FIELDS} for i in range(count)]


def _formset_data(rows: list[dict[str, str]]) -> QueryDict:
    data = QueryDict(mutable=True)
    management = {"TOTAL_FORMS": len(rows), "INITIAL_FORMS": 0, "MIN_NUM_FORMS": 0}
    data.update({f"lines-{key}": str(value) for key, value in management.items()})
    data["lines-MAX_NUM_FORMS"] = "1000"
    for i, row in enumerate(rows):
        for name in LINE_FIELDS:
            data[f"lines-{i}-{name}"] = row.get(name, "") or ""
    return data


def _lines_action(rows: list[dict[str, str]], action: str) -> list[dict[str, str]]:
    if action == "add":
        rows = [*rows, {}]
    elif action.startswith("remove-") and action[7:].isdigit():
        rows = [row for i, row in enumerate(rows) if i != int(action[7:])]
    return rows or [{}]


def _create(request: HttpRequest, data: dict[str, Any], lines: list[dict[str, Any]]) -> Picking:
    """Call the create service of the kind; returns the (first) picking."""
    common = {
        "company": request.company,
        "lines": lines,
        "scheduled_date": data["scheduled_date"],
        "party": data["partner"],
        "origin": data["origin"] or "",
        "actor": request.user,
    }
    if data["kind"] == Kind.INTERNAL:
        return services.internal_transfer_create(
            from_location=data["from_location"],
            to_location=data["to_location"],
            warehouse=data["warehouse"],
            **common,
        )
    create = services.receipt_create if data["kind"] == Kind.RECEIPT else services.delivery_create
    return create(warehouse=data["warehouse"], **common)[0]


@requires("inventory.move")
def picking_create(request: HttpRequest) -> HttpResponse:
    """A new receipt, delivery or internal transfer; "add a line" / "remove" rebuild the lines
    (HTMX swaps only them), saving nothing."""
    units = unit_choices()
    action = request.POST.get("lines_action", "") if request.method == "POST" else ""
    service_errors: list[str] = []
    submitted = request.method == "POST" and not action
    if submitted:
        form = PickingForm(request.POST)
        formset = LineFormSet(request.POST, prefix="lines", form_kwargs={"units": units})
        if form.is_valid() & formset.is_valid():
            lines = [f.line() for f in formset if not f.is_blank]
            try:
                picking = _create(request, form.cleaned_data, lines)
            except ValidationError as exc:
                service_errors = exc.messages
            else:
                messages.success(
                    request,
                    _("%(picking)s created as a draft: confirm it to reserve the stock.")
                    % {"picking": _title(picking)},
                )
                return redirect("inventory:picking_detail", pk=picking.pk)
    else:
        if action:
            rows = _lines_action(_line_rows(request.POST), action)
            form = PickingForm(request.POST)
        else:
            rows = [{}]
            kind = request.GET.get("kind", "")
            form = PickingForm(
                initial={
                    "kind": kind if kind in Kind.values else Kind.RECEIPT,
                    "scheduled_date": timezone.localdate(),
                    "warehouse": Warehouse.objects.filter(active=True).order_by("code").first(),
                }
            )
        formset = LineFormSet(_formset_data(rows), prefix="lines", form_kwargs={"units": units})
    has_errors = submitted and bool(service_errors or form.errors or formset.total_error_count())
    parties = Party.objects.filter(merged_into__isnull=True, active=True).order_by("name")
    context = {
        "form": form,
        "formset": formset,
        "show_errors": submitted,
        "service_errors": service_errors,
        "title": _("New picking"),
        "cancel_url": reverse("inventory:picking_list"),
        "parties": parties.values_list("code", "name")[:2000],
        "products": Product.objects.filter(active=True)
        .exclude(type=Product.Type.SERVICE)
        .order_by("sku")
        .values_list("sku", "name")[:2000],
    }
    return render(
        request, "inventory/picking_form.html", context, status=400 if has_errors else 200
    )


# --- confirm, reserve, cancel ------------------------------------------------------------------


def _act(request: HttpRequest, pk: int, service: Any, success: Any) -> HttpResponse:
    picking = get_object_or_404(Picking.objects, pk=pk)
    try:
        picking = service(picking=picking, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, success(picking))
    return redirect("inventory:picking_detail", pk=pk)


@require_POST
@requires("inventory.move")
def picking_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        services.picking_confirm,
        lambda p: (
            _("%(picking)s confirmed: it is %(state)s.")
            % {"picking": number_of(p), "state": p.get_state_display().lower()}
        ),
    )


@require_POST
@requires("inventory.move")
def picking_assign(request: HttpRequest, pk: int) -> HttpResponse:
    def success(picking: Picking) -> str:
        if picking.state == PState.READY:
            return _("Everything is reserved: %(picking)s is ready.") % {
                "picking": number_of(picking)
            }
        return _("%(picking)s still waits: not everything could be reserved.") % {
            "picking": number_of(picking)
        }

    return _act(request, pk, services.picking_assign, success)


@require_POST
@requires("inventory.move")
def picking_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        services.picking_cancel,
        lambda p: _("%(picking)s cancelled.") % {"picking": number_of(p)},
    )


# --- validating --------------------------------------------------------------------------------


def _open_or_back(request: HttpRequest, picking: Picking) -> HttpResponse | None:
    if picking.state in NOT_OVER:
        return None
    messages.error(
        request,
        _("%(picking)s is %(state)s: there is nothing left to do.")
        % {"picking": number_of(picking), "state": picking.get_state_display().lower()},
    )
    return redirect("inventory:picking_detail", pk=picking.pk)


def _validate_defaults(request: HttpRequest, picking: Picking, moves: list[Move]) -> dict:
    """The quantities and lots shown first: what was scanned, else the reserved quantity of a
    move leaving stock (all of it before it is confirmed), else the planned quantity."""
    sheet = ScanSheet(request, picking, moves)
    defaults: dict[int, dict[str, Any]] = {}
    for move in moves:
        line = sheet.lines[move.pk]
        if sheet.started:
            defaults[move.pk] = {"quantity": line.done, "lot": line.lot, "serials": line.serials}
            continue
        if move.from_location.is_stock and move.state != MState.DRAFT:
            quantity = _in_move_unit(move, move.reserved)
        else:
            quantity = move.quantity
        defaults[move.pk] = {
            "quantity": quantity,
            "lot": move.lot.name if move.lot_id else "",
            "serials": [move.lot.name] if move.lot_id else [],
        }
    return defaults


@requires("inventory.move")
def picking_validate(request: HttpRequest, pk: int) -> HttpResponse:
    """Record what was done: a quantity per move (less than planned asks whether the rest
    goes to a backorder, as Odoo does), and the lot or serial numbers of tracked products."""
    picking = get_object_or_404(
        Picking.objects.select_related("from_location", "to_location", "party"), pk=pk
    )
    back = _open_or_back(request, picking)
    if back is not None:
        return back
    moves = _moves(picking, *OPEN_MOVES)
    defaults = _validate_defaults(request, picking, moves)
    post = request.method == "POST"
    form = ValidateForm(request.POST if post else None, moves=moves, defaults=defaults)
    errors: list[str] = []
    ask_backorder = False
    if post and form.is_valid():
        choice = request.POST.get("backorder", "")
        if form.partial() and choice not in ("yes", "no"):
            ask_backorder = True
        else:
            before = set(Picking.objects.filter(backorder_of=picking).values_list("pk", flat=True))
            try:
                services.picking_done(
                    picking=picking,
                    actor=request.user,
                    quantities=form.quantities(),
                    lots=form.lots(),
                    backorder=choice != "no",
                )
            except ValidationError as exc:
                errors = exc.messages
            else:
                ScanSheet.clear(request, picking)
                _done_messages(request, picking, before)
                return redirect("inventory:picking_detail", pk=picking.pk)
    lots = {
        m.product_id: Lot.objects.filter(product_id=m.product_id).order_by("name")[:200]
        for m in moves
        if m.product.tracking != Tracking.NONE and not incoming(m)
    }
    context = {
        "picking": picking,
        "number": number_of(picking),
        "title": _("Validate %(picking)s") % {"picking": _title(picking)},
        "form": form,
        "rows": [
            {**row, "reserved": qty(row["move"].reserved), "demand": qty(row["move"].quantity)}
            for row in form.rows()
        ],
        "errors": errors,
        "ask_backorder": ask_backorder,
        "lot_options": {pid: [lot.name for lot in found] for pid, found in lots.items()},
        "cancel_url": reverse("inventory:picking_detail", args=[pk]),
    }
    status = 400 if post and (errors or form.errors) else 200
    return render(request, "inventory/picking_validate.html", context, status=status)


def _done_messages(request: HttpRequest, picking: Picking, before: set[int]) -> None:
    picking.refresh_from_db()
    messages.success(
        request,
        _("%(picking)s validated: it is %(state)s.")
        % {"picking": number_of(picking), "state": picking.get_state_display().lower()},
    )
    created = Picking.objects.filter(backorder_of=picking).exclude(pk__in=before).order_by("pk")
    for backorder in created:
        messages.info(
            request,
            _("The rest goes to the backorder %(backorder)s.")
            % {"backorder": number_of(backorder)},
        )


# --- the scan screen ---------------------------------------------------------------------------

SESSION_PREFIX = "inventory-scan:"


@dataclass
class ScanLine:
    """One open move on the scan screen: what is planned and what was scanned."""

    move: Move
    done: Decimal = ZERO
    lot: str = ""
    serials: list[str] = field(default_factory=list)

    @property
    def demand(self) -> Decimal:
        return self.move.quantity

    @property
    def tracking(self) -> str:
        return self.move.product.tracking

    @property
    def complete(self) -> bool:
        return self.done >= self.demand

    @property
    def percent(self) -> int:
        return int(min(self.done / self.demand, 1) * 100) if self.demand else 100

    @property
    def done_text(self) -> str:
        return qty(self.done)

    @property
    def demand_text(self) -> str:
        return qty(self.demand)

    @property
    def lot_text(self) -> str:
        return ", ".join(self.serials) if self.serials else self.lot

    def add_one(self) -> None:
        self.done = min(self.done + 1, self.demand)


class ScanSheet:
    """What was scanned on a picking, kept in the session (move → quantity, lot or serial
    numbers; the line being worked and what it waits for: a "lot" or a "quantity")."""

    def __init__(self, request: HttpRequest, picking: Picking, moves: list[Move]) -> None:
        self.request = request
        self.key = f"{SESSION_PREFIX}{picking.pk}"
        raw = request.session.get(self.key) or {}
        done, lots = raw.get("done", {}), raw.get("lots", {})
        self.lines: dict[int, ScanLine] = {}
        for move in moves:
            value = lots.get(str(move.pk))
            self.lines[move.pk] = ScanLine(
                move=move,
                done=Decimal(done.get(str(move.pk), "0")),
                lot=value if isinstance(value, str) else "",
                serials=list(value) if isinstance(value, list) else [],
            )
        current = raw.get("current")
        self.current: int | None = current if current in self.lines else None
        self.awaiting: str = raw.get("awaiting", "") if self.current else ""
        self.started = bool(raw.get("done"))

    @classmethod
    def peek(cls, request: HttpRequest, picking: Picking) -> dict[str, str]:
        """Move id (text) → quantity scanned, without loading the moves."""
        return dict((request.session.get(f"{SESSION_PREFIX}{picking.pk}") or {}).get("done", {}))

    @classmethod
    def clear(cls, request: HttpRequest, picking: Picking) -> None:
        request.session.pop(f"{SESSION_PREFIX}{picking.pk}", None)

    def save(self) -> None:
        self.request.session[self.key] = {
            "done": {str(pk): str(line.done) for pk, line in self.lines.items() if line.done},
            "lots": {
                str(pk): line.serials if line.tracking == Tracking.SERIAL else line.lot
                for pk, line in self.lines.items()
                if line.serials or line.lot
            },
            "current": self.current,
            "awaiting": self.awaiting,
        }

    @property
    def line(self) -> ScanLine | None:
        return self.lines.get(self.current) if self.current else None

    @property
    def complete(self) -> bool:
        return bool(self.lines) and all(line.complete for line in self.lines.values())

    def quantities(self) -> dict[int, Decimal]:
        return {pk: line.done for pk, line in self.lines.items()}

    def lots(self) -> dict[int, Any]:
        lots: dict[int, Any] = {}
        for pk, line in self.lines.items():
            if line.done and line.serials:
                lots[pk] = list(line.serials)
            elif line.done and line.lot:
                lots[pk] = line.lot
        return lots


@dataclass
class Outcome:
    """What a scan did: `status` success, error or info (the colour), and the message."""

    status: str
    message: str


def _say(status: str, message: str, **params: Any) -> Outcome:
    return Outcome(status, message % params if params else message)


def _progress(line: ScanLine) -> str:
    values = {
        "product": line.move.product,
        "done": qty(line.done),
        "demand": qty(line.demand),
        "unit": line.move.uom.code,
    }
    if line.lot_text and line.tracking == Tracking.LOT:
        return _("%(product)s, lot %(lot)s: %(done)s / %(demand)s %(unit)s") % {
            **values,
            "lot": line.lot,
        }
    return _("%(product)s: %(done)s / %(demand)s %(unit)s") % values


def _scan_lot(sheet: ScanSheet, line: ScanLine, name: str) -> Outcome:
    """`name` is the lot or a serial number of `line`'s product."""
    product = line.move.product
    if line.tracking == Tracking.NONE:
        return _say(
            "error", _("%(product)s is not tracked by lot or serial number."), product=product
        )
    if not incoming(line.move) and not Lot.objects.filter(product=product, name=name).exists():
        return _say(
            "error",
            _("%(product)s has no lot or serial number %(lot)s."),
            product=product,
            lot=name,
        )
    if line.complete:
        return _say(
            "error",
            _("All of %(product)s is scanned already (%(demand)s)."),
            product=product,
            demand=qty(line.demand),
        )
    sheet.current = line.move.pk
    if line.tracking == Tracking.SERIAL:
        same_product = [
            other for other in sheet.lines.values() if other.move.product_id == product.pk
        ]
        taken = {serial for other in same_product for serial in other.serials}
        if name in taken:
            return _say("error", _("The serial number %(lot)s is scanned already."), lot=name)
        line.serials.append(name)
        line.done = Decimal(len(line.serials))
        sheet.awaiting = "" if line.complete else "lot"
        return _say(
            "success", _("Serial number %(lot)s. %(progress)s"), lot=name, progress=_progress(line)
        )
    if line.lot and line.lot != name:
        message = _(
            "This line of %(product)s is done from lot %(lot)s, one lot a line: validate it, "
            "then do lot %(other)s on the backorder."
        )
        return _say("error", message, product=product, lot=line.lot, other=name)
    line.lot = name
    line.add_one()
    sheet.awaiting = "quantity"
    return Outcome("success", _progress(line))


def _pick_line(lines: list[ScanLine], lot: str = "") -> ScanLine | None:
    """The line a scan counts on: one of that lot first, then one without a lot yet, among
    those not complete."""
    open_lines = [line for line in lines if not line.complete]
    if lot:
        same = [line for line in open_lines if lot in (line.lot, *line.serials)]
        free = [line for line in open_lines if not line.lot and line.tracking == Tracking.LOT]
        serial = [line for line in open_lines if line.tracking == Tracking.SERIAL]
        for group in (same, free, serial):
            if group:
                return group[0]
        return None
    lotted = [line for line in open_lines if line.lot]
    return (lotted or open_lines or [None])[0]


def _scan_product(sheet: ScanSheet, found: services.ScanResult) -> Outcome:
    product = found.product
    lines = [sheet.lines[m.pk] for m in found.moves if m.pk in sheet.lines]
    if not lines:
        return _say("error", _("%(product)s is not in this picking."), product=product)
    line = _pick_line(lines)
    if line is None:
        demand = sum((line.demand for line in lines), ZERO)
        return _say(
            "error",
            _("All of %(product)s is scanned already (%(demand)s)."),
            product=product,
            demand=qty(demand),
        )
    sheet.current = line.move.pk
    if line.tracking == Tracking.NONE:
        line.add_one()
        sheet.awaiting = ""
        return Outcome("success", _progress(line))
    if line.tracking == Tracking.LOT and line.lot:
        line.add_one()
        sheet.awaiting = "quantity"
        return Outcome("success", _progress(line))
    if line.move.lot_id:  # the lot was planned: the product's barcode is enough
        return _scan_lot(sheet, line, line.move.lot.name)
    sheet.awaiting = "lot"
    if line.tracking == Tracking.SERIAL:
        return _say("info", _("%(product)s: scan its serial number."), product=product)
    return _say("info", _("%(product)s: scan or type its lot."), product=product)


def _scan_code(sheet: ScanSheet, picking: Picking, code: str, as_lot: bool) -> Outcome:
    """A scanned code: a product, a location, a lot, or (when a line waits for its lot) the
    lot or serial number of that line, which may be new for goods coming in."""
    found = services.picking_scan(picking=picking, code=code)
    if found.kind == "product":
        return _scan_product(sheet, found)
    if found.kind == "location":
        return _say("info", _("Location %(location)s."), location=found.location)
    current = sheet.line
    if as_lot and current is not None:
        foreign = (
            found.kind == "lot"
            and found.product is not None
            and found.product.pk != current.move.product_id
            and any(m.product_id == found.product.pk for m in found.moves)
            and not Lot.objects.filter(product_id=current.move.product_id, name=code).exists()
        )
        if not foreign:
            return _scan_lot(sheet, current, code)
    if found.kind == "lot":
        lines = [sheet.lines[m.pk] for m in found.moves if m.pk in sheet.lines]
        if not lines:
            return _say("error", _("%(product)s is not in this picking."), product=found.product)
        line = _pick_line(lines, lot=code)
        if line is None:
            return _say("error", _("All of %(product)s is scanned already."), product=found.product)
        return _scan_lot(sheet, line, code)
    return _say("error", _("Nothing is known by the code “%(code)s”."), code=code)


def _scan_quantity(sheet: ScanSheet, picking: Picking, text: str) -> Outcome:
    """A quantity typed for the line being worked (a barcode typed there is a scan)."""
    line = sheet.line
    if line is None:
        return Outcome("error", _("Scan a product first."))
    try:
        quantity: Decimal | None = Decimal(text if "." in text else text.replace(",", "."))
    except InvalidOperation:
        quantity = None
    is_code = bool(services.picking_scan(picking=picking, code=text).kind)
    if quantity is None or not quantity.is_finite() or is_code:
        return _scan_code(sheet, picking, text, as_lot=sheet.awaiting == "lot")
    if line.tracking == Tracking.SERIAL:
        return _say(
            "error",
            _("Scan one serial number for each unit of %(product)s."),
            product=line.move.product,
        )
    if line.tracking == Tracking.LOT and not line.lot:
        return _say("error", _("Scan the lot of %(product)s first."), product=line.move.product)
    if quantity < 0 or quantity > line.demand:
        return _say("error", _("Type a quantity from 0 to %(demand)s."), demand=qty(line.demand))
    line.done = quantity
    sheet.awaiting = ""
    return Outcome("success", _progress(line))


def _scan_post(sheet: ScanSheet, picking: Picking, post: Any) -> Outcome:
    code = (post.get("code") or "").strip()[:100]
    lot = (post.get("lot") or "").strip()[:80]
    quantity = (post.get("quantity") or "").strip()[:40]
    if code:
        return _scan_code(sheet, picking, code, as_lot=sheet.awaiting == "lot")
    if lot:
        return _scan_code(sheet, picking, lot, as_lot=True)
    if quantity:
        return _scan_quantity(sheet, picking, quantity)
    if sheet.awaiting == "quantity" and sheet.line is not None:
        sheet.awaiting = ""
        return Outcome("success", _progress(sheet.line))
    return Outcome("info", _("Scan a barcode."))


def _scan_validate(request: HttpRequest, picking: Picking, sheet: ScanSheet) -> Any:
    """Validate what was scanned; anything short of complete goes to the validation screen,
    which asks about the backorder. Returns a response, or an Outcome when refused."""
    if not sheet.complete:
        return reverse("inventory:picking_validate", args=[picking.pk])
    before = set(Picking.objects.filter(backorder_of=picking).values_list("pk", flat=True))
    try:
        services.picking_done(
            picking=picking, actor=request.user, quantities=sheet.quantities(), lots=sheet.lots()
        )
    except ValidationError as exc:
        return Outcome("error", " ".join(exc.messages))
    ScanSheet.clear(request, picking)
    _done_messages(request, picking, before)
    return reverse("inventory:picking_detail", args=[picking.pk])


@requires("inventory.move")
def picking_scan(request: HttpRequest, pk: int) -> HttpResponse:
    """The handheld screen: one scan field; each scan (barcode + Enter) posts here (HTMX, or a
    plain form post without JavaScript) and gets the lines back with a message, the field
    cleared and the focus where the next input goes (the lot after a tracked product, the
    quantity after a lot, else the scan field)."""
    picking = get_object_or_404(
        Picking.objects.select_related("from_location", "to_location", "party"), pk=pk
    )
    back = _open_or_back(request, picking)
    if back is not None:
        if request.htmx:
            return HttpResponseClientRedirect(reverse("inventory:picking_detail", args=[pk]))
        return back
    sheet = ScanSheet(request, picking, _moves(picking, *OPEN_MOVES))
    outcome: Outcome | None = None
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "validate":
            result = _scan_validate(request, picking, sheet)
            if isinstance(result, str):
                return HttpResponseClientRedirect(result) if request.htmx else redirect(result)
            outcome = result
        elif action == "reset":
            ScanSheet.clear(request, picking)
            sheet = ScanSheet(request, picking, [line.move for line in sheet.lines.values()])
            outcome = Outcome("info", _("Started over: nothing is scanned."))
        else:
            outcome = _scan_post(sheet, picking, request.POST)
            sheet.save()
    lines = sorted(sheet.lines.values(), key=lambda line: (line.complete, line.move.pk))
    focus = {"lot": "lot", "quantity": "quantity"}.get(sheet.awaiting, "code")
    context = {
        "picking": picking,
        "number": number_of(picking),
        "title": _title(picking),
        "step": step_label(picking),
        "sheet": sheet,
        "lines": lines,
        "current": sheet.line,
        "outcome": outcome,
        "focus": focus,
        "done_count": sum(1 for line in lines if line.complete),
        "scan_url": reverse("inventory:picking_scan", args=[pk]),
    }
    template = (
        "inventory/picking_scan_panel.html" if request.htmx else "inventory/picking_scan.html"
    )
    return render(request, template, context)


# --- the document ------------------------------------------------------------------------------


@requires("inventory.view")
def picking_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The pick list (internal steps), delivery slip or receipt as a PDF."""
    from xietong.core.pdf import pdf_render
    from xietong.party.models import Address
    from xietong.party.selectors import address_text, default_address

    picking = get_object_or_404(
        Picking.objects.select_related(
            "company", "warehouse", "from_location", "to_location", "party"
        ),
        pk=pk,
    )
    moves = [m for m in _moves(picking) if m.state != MState.CANCELLED]
    address = ""
    if picking.party_id:
        kind = Address.Kind.SHIPPING if picking.kind == Kind.DELIVERY else Address.Kind.BILLING
        found = default_address(party=picking.party, kind=kind) or default_address(
            party=picking.party
        )
        address = address_text(found) if found else ""
    if picking.kind == Kind.DELIVERY:
        document = _("Delivery slip")
    elif picking.kind == Kind.RECEIPT:
        document = _("Receipt")
    elif picking.step in ("pick", "pack"):
        document = _("Pick list")
    else:
        document = _("Internal transfer")
    context = {
        "company": picking.company,
        "picking": picking,
        "document": document,
        "number": number_of(picking),
        "step": step_label(picking),
        "address": address,
        "lines": [
            {
                "sku": m.product.sku,
                "name": m.product.display_name,
                "lot": m.lot.name if m.lot_id else "",
                "quantity": qty(m.quantity),
                "uom": m.uom.code,
                "from": m.from_location,
                "done": m.state == MState.DONE,
            }
            for m in moves
        ],
    }
    pdf = pdf_render(template="inventory/picking_pdf.html", context=context)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = (picking.number or f"picking-{picking.pk}").replace("/", "-")
    response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


urlpatterns = [
    path("pickings/", picking_list, name="picking_list"),
    path("pickings/new/", picking_create, name="picking_create"),
    path("pickings/<int:pk>/", picking_detail, name="picking_detail"),
    path("pickings/<int:pk>/confirm/", picking_confirm, name="picking_confirm"),
    path("pickings/<int:pk>/assign/", picking_assign, name="picking_assign"),
    path("pickings/<int:pk>/cancel/", picking_cancel, name="picking_cancel"),
    path("pickings/<int:pk>/validate/", picking_validate, name="picking_validate"),
    path("pickings/<int:pk>/scan/", picking_scan, name="picking_scan"),
    path("pickings/<int:pk>/pdf/", picking_pdf, name="picking_pdf"),
]
