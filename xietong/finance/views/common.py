"""What the finance screens share: amounts formatted to their currency's minor unit and
right-aligned, state badges, the list response (the shell's `ListScreen`, with exports that keep
amounts as numbers), and small parsing helpers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from xietong.core.money import minor_units
from xietong.core.ui import listing
from xietong.core.ui.listing import Column, ListScreen

ZERO = Decimal(0)


def fmt(value: Decimal | None, currency: str, *, blank_zero: bool = False) -> str:
    """`value` with thousands separators and exactly the currency's decimals."""
    if value is None or (blank_zero and not value):
        return ""
    places = minor_units(currency)
    quantum = Decimal(1).scaleb(-places)
    rounded = Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)
    return f"{rounded if rounded else abs(rounded):,.{places}f}"  # never "-0.00"


class Display(SafeString):
    """HTML of a table cell that exports as a plain value: `text` is what people read,
    `export_value` what CSV and XLSX get (a Decimal for amounts)."""

    text: str
    export_value: Any

    def __new__(cls, html: str, text: str, export_value: Any) -> Display:
        obj = super().__new__(cls, html)
        obj.text = text
        obj.export_value = export_value
        return obj


def Amount(  # noqa: N802 - reads like a value type where it is used
    value: Decimal | None,
    currency: str,
    *,
    link: str | None = None,
    blank_zero: bool = False,
) -> Display:
    """An amount formatted to its currency and right-aligned (a link when `link` is given)."""
    text = fmt(value, currency, blank_zero=blank_zero)
    if link and text:
        html = format_html(
            '<span class="d-block text-end text-nowrap amount"><a href="{}">{}</a></span>',
            link,
            text,
        )
    else:
        html = format_html('<span class="d-block text-end text-nowrap amount">{}</span>', text)
    places = minor_units(currency)
    export = None if value is None else Decimal(value).quantize(Decimal(1).scaleb(-places))
    return Display(html, text, export)


STYLES = {
    "draft": "secondary",
    "posted": "success",
    "open": "success",
    "closed": "dark",
    "cancelled": "danger",
    "not_paid": "warning",
    "partial": "info",
    "paid": "success",
}


def Badge(label: Any, style: str = "secondary") -> Display:  # noqa: N802
    """A state shown as a coloured badge; exports take its label."""
    return Display(
        format_html('<span class="badge text-bg-{}">{}</span>', style, label),
        str(label),
        str(label),
    )


def badge(obj: Any, field: str = "state") -> Badge:
    value = getattr(obj, field)
    return Badge(getattr(obj, f"get_{field}_display")(), STYLES.get(value, "secondary"))


def amount_column(
    name: str,
    label: str | Promise,
    field: str,
    *,
    currency: Callable[[Any], str] | str = "currency_id",
    order_by: str | None = None,
    default: bool = True,
) -> Column:
    """A right-aligned amount column of `field` in the row's currency (an attribute name or a
    callable)."""

    def value(row: Any) -> Amount:
        code = currency(row) if callable(currency) else getattr(row, currency)
        return Amount(getattr(row, field), code)

    return Column(name, label, accessor=value, order_by=order_by, default=default)


def finance_list(
    request: HttpRequest,
    screen: ListScreen,
    queryset: QuerySet,
    *,
    actions: list[tuple[Any, str]] | None = None,
    extra: dict[str, Any] | None = None,
    template: str = "core/list.html",
) -> HttpResponse:
    """`list_response` of the shell with the screen's action buttons (exports keep amounts as
    numbers: the cells give their `export_value`)."""
    return listing.list_response(
        request,
        screen,
        queryset,
        template=template,
        extra={"actions": actions or [], **(extra or {})},
    )


def parse_date(raw: str | None, default: dt.date | None = None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((raw or "").strip())
    except ValueError:
        return default


def parse_int(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() else None


def parse_decimal(raw: Any) -> Decimal | None:
    if raw in (None, ""):
        return None
    try:
        value = Decimal(str(raw).replace(",", "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def safe_reverse(name: str, *args: Any) -> str | None:
    """The URL of `name`, or None while the screen does not exist (modules still to come)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


SOURCE_URLS = {
    "finance.invoice": "finance:invoice_detail",
    "finance.payment": "finance:payment_detail",
    "finance.fiscalyear": "finance:year_list",
}


@dataclass(frozen=True)
class Source:
    label: str
    url: str | None


def source_of(entry: Any) -> Source | None:
    """The business document an entry came from, with a link when it has a screen."""
    if not entry.source_type:
        return None
    name = SOURCE_URLS.get(entry.source_type)
    url = None
    if name == "finance:year_list":
        url = safe_reverse(name)
    elif name and entry.source_id:
        url = safe_reverse(name, entry.source_id)
    labels = {
        "finance.invoice": _("Invoice"),
        "finance.payment": _("Payment"),
        "finance.fiscalyear": _("Year-end closing"),
        "finance.revaluation": _("Currency revaluation"),
        "finance.match": _("Exchange difference"),
    }
    label = str(labels.get(entry.source_type, entry.source_type))
    if entry.source_id:
        label = f"{label} #{entry.source_id}"
    return Source(label, url)


def yes_no(request: HttpRequest) -> list[tuple[str, str]]:
    return [("1", _("Yes")), ("0", _("No"))]


# --- line editors (journal entry, invoice) ----------------------------------------------------


def rows_of(
    data: Any, fields: tuple[str, ...], *, prefix: str = "lines", multi: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """An editor's lines as posted (raw strings; lists for the `multi` fields)."""
    try:
        count = max(0, min(int(data.get(f"{prefix}-TOTAL_FORMS", "0")), 500))
    except ValueError:
        count = 0
    return [
        {
            name: data.getlist(f"{prefix}-{i}-{name}")
            if name in multi
            else data.get(f"{prefix}-{i}-{name}", "")
            for name in fields
        }
        for i in range(count)
    ]


def formset_data(
    rows: list[dict[str, Any]], fields: tuple[str, ...], *, prefix: str = "lines"
) -> Any:
    """Bound-formset data holding `rows` (to render an editor's lines with their values)."""
    from django.http import QueryDict

    data = QueryDict(mutable=True)
    data.update(
        {
            f"{prefix}-TOTAL_FORMS": str(len(rows)),
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    )
    for i, row in enumerate(rows):
        for name in fields:
            value = row.get(name, "")
            if isinstance(value, list | tuple):
                data.setlist(f"{prefix}-{i}-{name}", [str(v) for v in value])
            else:
                data[f"{prefix}-{i}-{name}"] = "" if value is None else str(value)
    return data


def apply_action(
    rows: list[dict[str, Any]], action: str, *, minimum: int = 1
) -> list[dict[str, Any]]:
    """The lines after the editor's "add" or "remove-<index>" button."""
    if action == "add":
        rows = [*rows, {}]
    elif action.startswith("remove-") and action[7:].isdigit():
        index = int(action[7:])
        rows = [row for i, row in enumerate(rows) if i != index]
    while len(rows) < minimum:
        rows = [*rows, {}]
    return rows
