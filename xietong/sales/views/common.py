"""What the sales screens share: amounts formatted to their currency, state badges, links to
screens of other modules that may not exist yet, the workflow task behind an approval, the
customer-timeline entries of a document, and the records of the request's company (404 for
another company's)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from xietong.core.models import User
from xietong.core.money import minor_units
from xietong.core.ui.records import get_or_404  # noqa: F401  (used by the views)
from xietong.party.selectors import timeline_of  # noqa: F401  (the sales screens' door)
from xietong.workflow.links import process_links  # noqa: F401  (the sales screens' door)

ZERO = Decimal(0)


def fmt(value: Decimal | None, currency: str) -> str:
    """`value` with thousands separators and exactly the currency's decimals."""
    if value is None:
        return ""
    places = minor_units(currency)
    rounded = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{rounded if rounded else abs(rounded):,.{places}f}"


def quantity(value: Decimal | None) -> str:
    """A quantity as people write it: 3, 2.5 (not 3.000000)."""
    if value is None:
        return ""
    text = f"{Decimal(value).normalize():f}"
    return "0" if text in ("-0", "") else text


def price(value: Decimal | None, currency: str) -> str:
    """A unit price with at least the currency's decimals and no useless trailing zeros."""
    if value is None:
        return ""
    places = minor_units(currency)
    exponent = Decimal(value).normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < 0:
        places = max(places, -exponent)
    return f"{Decimal(value):,.{places}f}"


class Cell(SafeString):
    """HTML of a list cell that exports as a plain value (`export_value`)."""

    export_value: Any

    def __new__(cls, html: str, export_value: Any) -> Cell:
        obj = super().__new__(cls, html)
        obj.export_value = export_value
        return obj


def amount_cell(value: Decimal | None, currency: str) -> Cell:
    text = fmt(value, currency)
    html = format_html('<span class="d-block text-end text-nowrap">{}</span>', text)
    places = minor_units(currency)
    export = None if value is None else Decimal(value).quantize(Decimal(1).scaleb(-places))
    return Cell(html, export)


STYLES = {
    # quotations
    "draft": "secondary",
    "to_approve": "warning",
    "approved": "info",
    "sent": "primary",
    "accepted": "success",
    "lost": "dark",
    "revised": "light",
    "cancelled": "danger",
    # orders
    "held": "warning",
    "confirmed": "primary",
    "done": "success",
    # returns
    "authorised": "info",
    "received": "primary",
    # approval
    "pending": "warning",
    "rejected": "danger",
    # pickings, invoices
    "waiting": "secondary",
    "ready": "info",
    "posted": "success",
    "not_paid": "warning",
    "partial": "info",
    "paid": "success",
}


def badge_html(label: Any, value: str) -> Cell:
    style = STYLES.get(value, "secondary")
    text = "text-bg-light border" if style == "light" else f"text-bg-{style}"
    return Cell(format_html('<span class="badge {}">{}</span>', text, label), str(label))


def badge(obj: Any, field_name: str = "state") -> Cell:
    value = getattr(obj, field_name)
    return badge_html(getattr(obj, f"get_{field_name}_display")(), value)


def link(name: str, *args: Any) -> str:
    """The URL of `name`, or "" while that screen does not exist (modules still to come)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def salespeople(request: HttpRequest) -> list[tuple[str, str]]:
    """The company's users (for the salesperson filter)."""
    users = User.objects.filter(
        memberships__company=request.company, memberships__is_active=True
    ).order_by("username")
    return [(str(u.pk), u.get_full_name() or u.username) for u in users.distinct()]


def month_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    start = day.replace(day=1)
    following = (start + dt.timedelta(days=32)).replace(day=1)
    return start, following - dt.timedelta(days=1)


def action(label: str, url: str, *, post: bool = False, style: str = "outline-primary",
           **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"label": label, "url": url, "post": post, "style": style, **extra}


def not_possible(state_label: Any) -> str:
    return _("Not possible while %(state)s.") % {"state": state_label}


def document_columns() -> list[Any]:
    """The columns quotation and order lists end with: salesperson, total, currency and the
    customer's reference."""
    from django.utils.translation import gettext_lazy

    from xietong.core.ui.listing import Column

    return [
        Column("salesperson", gettext_lazy("Salesperson"), accessor="salesperson",
               order_by="salesperson__username"),
        Column("amount_total", gettext_lazy("Total"),
               accessor=lambda d: amount_cell(d.amount_total, d.currency_id),
               order_by="amount_total"),
        Column("currency", gettext_lazy("Currency"), accessor="currency_id", default=False),
        Column("customer_reference", gettext_lazy("Customer reference"),
               order_by="customer_reference", default=False),
    ]  # fmt: skip


def document_filters() -> list[Any]:
    """The filters quotation and order lists end with: salesperson and a date range."""
    from django.utils.translation import gettext_lazy

    from xietong.core.ui.listing import Filter

    return [
        Filter("salesperson", gettext_lazy("Salesperson"), "salesperson_id", choices=salespeople),
        Filter("date_from", gettext_lazy("From"), "date__gte", kind="date"),
        Filter("date_to", gettext_lazy("To"), "date__lte", kind="date"),
    ]
