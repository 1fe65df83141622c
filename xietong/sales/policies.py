"""Which invoicing policy an order line follows: its ordered quantity at once ("order") or what
was delivered ("delivery").

A policy chosen for the whole order (`order_create`'s `invoice_policy`, the order form's field,
the API's) is forced on every line; otherwise a line takes its product's policy, else its
customer's, else the company's sales settings'. Services are always invoiced on order: nothing
is delivered of them. The policy is resolved once, when the line is written, and kept on the line
(`SalesOrderLine.invoice_policy`), so that a later change of a product, a customer or the settings
leaves confirmed orders as agreed. `billing.invoiceable` reads it.

Kept apart from `billing`, which imports `documents`: `documents` writes the lines and calls
this module."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.utils.translation import gettext as _

from xietong.party.models import Party
from xietong.product.models import Product
from xietong.sales.common import LineData
from xietong.sales.models import InvoicePolicy, SalesSettings


def line_policy(
    *, product: Product, party: Party, settings: SalesSettings, forced: str | None = None
) -> str:
    """The policy of a line of `product` sold to `party`: a service's is "order"; otherwise
    `forced` (the order's, when chosen), else the product's, the customer's, the settings'."""
    if product.type == Product.Type.SERVICE:
        return InvoicePolicy.ORDER
    return forced or product.invoice_policy or party.invoice_policy or settings.invoice_policy


def order_policy(*, party: Party, settings: SalesSettings, forced: str | None = None) -> str:
    """An order's own policy, the default its lines start from: `forced`, else the customer's,
    else the settings'."""
    return forced or party.invoice_policy or settings.invoice_policy


def lines_policy_set(
    lines: Sequence[LineData],
    *,
    party: Party,
    settings: SalesSettings,
    forced: str | None = None,
) -> None:
    """Resolve each clean line's policy before it is written (kept in `line.extra`, read by
    `policy_fields`)."""
    for line in lines:
        line.extra["invoice_policy"] = line_policy(
            product=line.product, party=party, settings=settings, forced=forced
        )


def policy_fields(line: LineData) -> dict[str, Any]:
    """The order line columns `lines_policy_set` resolved (none for a quotation line)."""
    policy = line.extra.get("invoice_policy")
    return {"invoice_policy": policy} if policy else {}


def policy_label(default: str, policies: Iterable[str]) -> str:
    """What an order's header says: the one policy its lines share, "Mixed" when they differ,
    the order's own without lines."""
    found = set(policies)
    if len(found) > 1:
        return _("Mixed (per line)")
    return str(InvoicePolicy(found.pop() if found else default).label)
