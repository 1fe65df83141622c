"""What a quotation or order would look like before it is saved: each line priced as the
services would price it (`common.lines_clean`: the customer's price list, a configured item's
price, a typed price, discount and taxes) with the date it can be promised (`atp.promise_dates`),
and the document's totals. The quick-quote editor calls `lines_preview` on every change.

A line that cannot be priced (an archived or unknown product, a bad number, a configurable
product without a configuration, no price) carries its messages and stays out of the totals;
the other lines are still priced and promised. Reads only; writes and locks nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from xietong.core.models import Company
from xietong.inventory.models import Warehouse
from xietong.party.models import Party
from xietong.product.models import PriceList
from xietong.product.selectors import product_convert
from xietong.sales import atp
from xietong.sales.common import (
    ZERO,
    LineData,
    SalesError,
    amounts_compute,
    effective_discount,
    lines_clean,
    sales_settings,
)

LINE_ERRORS = "__all__"


@dataclass
class LinePreview:
    """One line of the preview: `data` (priced, with net, tax and total) or `errors` (field
    name → messages; `__all__` for the line as a whole), and the promise."""

    index: int
    data: LineData | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    promise_date: dt.date | None = None
    promise_note: str = ""
    promise_source: str = ""
    available_now: Decimal | None = None

    @property
    def discount(self) -> Decimal:
        return effective_discount(self.data) if self.data is not None else ZERO


@dataclass
class Preview:
    currency: str
    lines: list[LinePreview]
    untaxed: Decimal = ZERO
    tax: Decimal = ZERO
    total: Decimal = ZERO
    max_discount: Decimal = ZERO
    discount_limit: Decimal = ZERO
    warehouse: Warehouse | None = None

    @property
    def needs_approval(self) -> bool:
        return self.max_discount > self.discount_limit

    @property
    def ok(self) -> bool:
        return all(not line.errors for line in self.lines)


def document_currency(company: Company, party: Party | None, price_list: PriceList | None) -> str:
    """The currency a document for `party` gets (as the services choose it): the price list's
    (given, else the customer's), else the customer's currency, else the company's."""
    chosen = price_list or (party.price_list if party is not None else None)
    if chosen is not None:
        return chosen.currency_id
    if party is not None and party.currency_id:
        return party.currency_id
    return company.base_currency_id


def discount_limit_for(company: Company, party: Party | None) -> Decimal:
    """The largest discount (percent) `party` gets without approval: its customer group's
    limit, else the company's."""
    group = party.customer_group if party is not None else None
    if group is not None and group.max_discount_percent is not None:
        return group.max_discount_percent
    return sales_settings(company).max_discount_percent


def _errors_of(exc: ValidationError) -> dict[str, list[str]]:
    """A one-line `lines_clean` refusal as field → messages (`lines.1.quantity` → quantity)."""
    if not hasattr(exc, "error_dict"):
        return {LINE_ERRORS: list(exc.messages)}
    out: dict[str, list[str]] = {}
    for key, messages in exc.message_dict.items():
        parts = key.split(".")
        name = parts[2] if len(parts) > 2 and parts[0] == "lines" else LINE_ERRORS
        if name == "price_list":
            name = "unit_price"
        out.setdefault(name, []).extend(messages)
    return out


def lines_preview(
    *,
    company: Company,
    party: Party,
    lines: Sequence[Mapping[str, Any] | None],
    warehouse: Warehouse | None = None,
    date: dt.date | None = None,
    wanted: dt.date | None = None,
    price_list: PriceList | None = None,
) -> Preview:
    """Price and promise `lines` (dicts as `common.lines_clean` takes them; None for an empty
    row of an editor, kept so that the answers line up with the rows) for `party` on `date`
    (today), shipped from `warehouse` (the settings'), wanted on `wanted` (the date). Returns
    a `Preview`: per line the priced `LineData` or the messages, the promise (date, note), and
    the totals of the priced lines through the finance tax engine. Reads only."""
    today = timezone.localdate()
    date = date or today
    price_list = price_list or party.price_list
    currency = document_currency(company, party, price_list)
    warehouse = warehouse or sales_settings(company).warehouse
    previews: list[LinePreview] = []
    for index, raw in enumerate(lines):
        if raw is None:
            continue
        line = LinePreview(index=index)
        try:
            line.data = lines_clean(company=company, party=party, currency=currency, date=date,
                                    price_list=price_list, lines=[raw])[0]  # fmt: skip
        except SalesError as exc:
            line.errors = _errors_of(exc)
        previews.append(line)
    priced = [line for line in previews if line.data is not None]
    result = Preview(currency=currency, lines=previews, warehouse=warehouse)
    result.discount_limit = discount_limit_for(company, party)
    if priced:
        data = [line.data for line in priced if line.data is not None]
        try:
            result.untaxed, result.tax, result.total = amounts_compute(company, currency, data)
        except SalesError as exc:
            priced[0].errors = _errors_of(exc)
        result.max_discount = max(line.discount for line in priced)
        if warehouse is not None:
            _promise(company, warehouse, priced, max(wanted or date, today))
    return result


def _promise(company: Company, warehouse: Warehouse, lines: list[LinePreview],
             wanted: dt.date) -> None:  # fmt: skip
    requests = []
    for n, line in enumerate(lines):
        data = line.data
        assert data is not None
        try:
            quantity = product_convert(product=data.product, quantity=data.quantity,
                                       from_uom=data.uom, to_uom=data.product.uom)  # fmt: skip
        except ValueError as exc:  # UnitMismatch
            line.errors.setdefault("quantity", []).append(str(exc))
            continue
        if quantity > 0:
            requests.append(atp.AtpRequest(product=data.product, quantity=quantity,
                                           wanted=wanted, key=n))  # fmt: skip
    try:
        answers = atp.promise_dates(company=company, warehouse=warehouse, requests=requests)
    except ValueError:
        return
    for answer in answers:
        line = lines[answer.key]
        line.promise_date = answer.date
        line.promise_note = answer.note
        line.promise_source = answer.source
        line.available_now = answer.available_now
