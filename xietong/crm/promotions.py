"""Campaign promotions in the price engine: the CRM's price adjuster for quotation and order
lines (`xietong.sales.promotions`, registered by `xietong.crm.campaigns.register`).

A promotion applies to a document dated within its campaign (start to end date) while the
campaign is scheduled or running. One with coupon codes applies only when the document carries
one of them; one without applies to every customer of the campaign's segment (every customer
when the campaign has none). A "lines" promotion lowers the price of every line (or of the
lines of its products); a "bundle" one lowers the lines of its products when all of them are on
the document. A percentage takes that share off the unit price; a fixed amount is taken off
each unit, and only when the document is in the campaign's currency."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from xietong.crm.models import Campaign, Coupon, Promotion
from xietong.sales.promotions import AdjustAnswer, Adjustment, AdjustRequest, PricedLine

HUNDRED = Decimal(100)
PLACES = Decimal("0.000001")
LIVE = (Campaign.State.SCHEDULED, Campaign.State.RUNNING)


def promotions_valid(company_id: int, date: object) -> list[Promotion]:
    """The active promotions of live campaigns whose period covers `date`."""
    return list(
        Promotion.unscoped.filter(
            company_id=company_id,
            active=True,
            campaign__state__in=LIVE,
            campaign__start_date__lte=date,
            campaign__end_date__gte=date,
        )
        .select_related("campaign", "campaign__segment")
        .prefetch_related("products", "coupons")
    )


def coupon_find(company_id: int, code: str) -> Coupon | None:
    code = (code or "").strip().upper()
    if not code:
        return None
    return (
        Coupon.unscoped.filter(company_id=company_id, code=code)
        .select_related("promotion__campaign")
        .first()
    )


def _price(promotion: Promotion, unit: Decimal, currency: str) -> Decimal | None:
    if promotion.discount_type == Promotion.DiscountType.PERCENT:
        return (unit * (HUNDRED - promotion.value) / HUNDRED).quantize(PLACES, ROUND_HALF_UP)
    if currency != promotion.campaign.currency_id:
        return None
    return max(Decimal(0), unit - promotion.value)


def _in_segment(promotion: Promotion, party: object, cache: dict[int, bool]) -> bool:
    segment = promotion.campaign.segment
    if segment is None:
        return True
    if segment.pk not in cache:
        from xietong.crm.segments import segment_parties

        cache[segment.pk] = segment_parties(segment).filter(pk=party.pk).exists()  # type: ignore[attr-defined]
    return cache[segment.pk]


def _lines_for(promotion: Promotion, lines: Sequence[PricedLine]) -> list[PricedLine]:
    products = {p.pk for p in promotion.products.all()}
    if promotion.kind == Promotion.Kind.BUNDLE:
        present = {line.product.pk for line in lines}
        if not products or not products <= present:
            return []
        return [line for line in lines if line.product.pk in products]
    if not products:
        return list(lines)
    return [line for line in lines if line.product.pk in products]


def campaign_price_adjuster(request: AdjustRequest) -> AdjustAnswer:
    """The sales price adjuster: the best promotion price of each line (see the module)."""
    if not request.lines and not request.coupon:
        return AdjustAnswer()
    valid = promotions_valid(request.company.pk, request.date)
    code = (request.coupon or "").strip().upper()
    accepted = False
    segments: dict[int, bool] = {}
    adjustments: list[Adjustment] = []
    for promotion in valid:
        codes = {c.code for c in promotion.coupons.all()}
        if codes:
            if code not in codes:
                continue
            accepted = True
        elif not _in_segment(promotion, request.party, segments):
            continue
        note = _("Promotion %(name)s (campaign %(campaign)s)") % {
            "name": promotion.name,
            "campaign": promotion.campaign.name,
        }
        for line in _lines_for(promotion, request.lines):
            price = _price(promotion, line.unit_price, request.currency)
            if price is not None and price < line.unit_price:
                adjustments.append(Adjustment(index=line.index, unit_price=price, note=note))
    if code and not accepted:
        coupon = coupon_find(request.company.pk, code)
        if coupon is not None:
            campaign = coupon.promotion.campaign
            raise ValidationError({"coupon_code": [
                _("The coupon %(code)s is valid only during the campaign %(campaign)s "
                  "(%(start)s to %(end)s).")
                % {"code": code, "campaign": campaign.name, "start": campaign.start_date or "—",
                   "end": campaign.end_date or "—"}
            ]})  # fmt: skip
    return AdjustAnswer(adjustments=adjustments, coupon_accepted=accepted)
