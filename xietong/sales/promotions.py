"""Price adjusters: how an app above sales (the CRM's campaign promotions) changes the price of
quotation and order lines without sales knowing it.

An adjuster is registered by key (`adjuster_register`) from the higher app's
`AppConfig.ready()`. `lines_clean` calls `lines_adjust` once per document, after the price
engine priced the lines and before the amounts are computed: every adjuster sees the lines the
price engine priced (not the ones with a typed price or a configuration's price) and answers
`Adjustment`s — a lower unit price for a line, and a note saying why. The lowest price wins; the
adjusted price becomes the line's price and its price before discount (a promotion is not a
discount that needs approval); the line keeps the price it replaced in
`extra["price_before_promotion"]` and the adjuster's note in `extra["promotion"]`, for screens
to show. An adjuster refuses a coupon code it does not accept by raising
ValidationError on the field `coupon_code`; when no adjuster knows a code, it is refused too."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class PricedLine:
    """A line an adjuster may change: its position on the document (from 0), product,
    quantity and the price engine's unit price."""

    index: int
    product: Any
    quantity: Decimal
    unit_price: Decimal


@dataclass(frozen=True)
class AdjustRequest:
    company: Any
    party: Any
    date: dt.date
    currency: str
    coupon: str
    lines: Sequence[PricedLine]


@dataclass(frozen=True)
class Adjustment:
    index: int
    unit_price: Decimal
    note: str = ""


@dataclass(frozen=True)
class AdjustAnswer:
    """An adjuster's answer: its adjustments, and whether it accepted the coupon code."""

    adjustments: Sequence[Adjustment] = ()
    coupon_accepted: bool = False


Adjuster = Callable[[AdjustRequest], AdjustAnswer]
_ADJUSTERS: dict[str, Adjuster] = {}


def adjuster_register(key: str, adjuster: Adjuster) -> None:
    """Add (or replace, by key) a price adjuster."""
    _ADJUSTERS[key] = adjuster


def lines_adjust(
    *, company: Any, party: Any, date: dt.date, currency: str, coupon: str, lines: Sequence[Any]
) -> None:
    """Apply the adjusters to `lines` (`common.LineData`, changed in place; a line with
    `extra["price_fixed"]` is left alone). Raises ValidationError on `coupon_code` when a
    coupon was given that no adjuster accepts."""
    priced = [
        PricedLine(index=n, product=line.product, quantity=line.quantity,
                   unit_price=line.unit_price)
        for n, line in enumerate(lines)
        if not line.extra.get("price_fixed")
    ]  # fmt: skip
    if not _ADJUSTERS:
        if coupon:
            raise ValidationError({"coupon_code": [_("This coupon code is not known.")]})
        return
    request = AdjustRequest(company=company, party=party, date=date, currency=currency,
                            coupon=coupon, lines=priced)  # fmt: skip
    accepted = False
    best: dict[int, Adjustment] = {}
    for adjuster in list(_ADJUSTERS.values()):
        answer = adjuster(request)
        accepted = accepted or answer.coupon_accepted
        for adjustment in answer.adjustments:
            current = best.get(adjustment.index)
            if current is None or adjustment.unit_price < current.unit_price:
                best[adjustment.index] = adjustment
    if coupon and not accepted:
        raise ValidationError({"coupon_code": [_("This coupon code is not known.")]})
    allowed = {p.index for p in priced}
    for index, adjustment in best.items():
        if index not in allowed:
            continue
        line = lines[index]
        price = max(Decimal(0), adjustment.unit_price)
        if price < line.unit_price:
            line.extra["price_before_promotion"] = line.unit_price
            line.unit_price = line.list_price = price
            line.extra["promotion"] = adjustment.note


def coupon_check(
    *, company: Any, party: Any, date: dt.date, currency: str, coupon: str
) -> list[str]:
    """Would the adjusters accept `coupon` on a document of `party` dated `date` in
    `currency`? The messages of the refusal (empty: accepted, or no coupon given) — the same
    answer `lines_adjust` gives when the document is saved, asked without lines so that a
    screen or an API can name the field before pricing anything. Reads only."""
    if not (coupon or "").strip():
        return []
    try:
        lines_adjust(company=company, party=party, date=date, currency=currency,
                     coupon=coupon.strip().upper(), lines=())  # fmt: skip
    except ValidationError as exc:
        return [m for ms in exc.message_dict.values() for m in ms]
    return []
