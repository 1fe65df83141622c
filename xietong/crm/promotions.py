"""Campaign promotions in the price engine: the CRM's price adjuster for quotation and order
lines (`xietong.sales.promotions`, registered by `xietong.crm.campaigns.register`).

A promotion applies to a document dated within its campaign (start to end date) while the
campaign is scheduled or running. One with coupon codes applies only when the document carries
one of them; one without applies to every customer of the campaign's segment (every customer
when the campaign has none). A "lines" promotion lowers the price of every line (or of the
lines of its products); a "bundle" one lowers the lines of its products when all of them are on
the document. A percentage takes that share off the unit price; a fixed amount is taken off
each unit, and only when the document is in the campaign's currency.

The adjuster runs on every quotation and order priced (`sales.common.lines_clean`), so the
answer "the company has no live promotion on this date" is kept in the cache (for
`LIVE_CACHE_SECONDS` at most): a document then asks the database nothing about promotions.
Any save or delete of a campaign or a promotion renews the company's cache generation
(a Django signal, and again when the transaction commits, so that a reader that cached the
answer before the commit does not keep it), which makes every remembered answer of the
company stale at once. A shared cache (Redis) spreads the renewal over every process; with the
default per-process cache another process sees a change within `LIVE_CACHE_SECONDS`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import post_delete, post_save
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


LIVE_CACHE_SECONDS = 60


def _generation_key(company_id: int) -> str:
    return f"crm:promotions:generation:{company_id}"


def _generation(company_id: int) -> str:
    """The company's cache generation: a fresh random token when none is kept (an evicted
    generation never brings back the answers of an older one)."""
    key = _generation_key(company_id)
    token = cache.get(key)
    if token is None:
        token = uuid.uuid4().hex
        if not cache.add(key, token, None):
            token = cache.get(key) or token
    return str(token)


def promotions_changed(company_id: int) -> None:
    """Forget what is remembered about the company's live promotions (now, and again when
    the current transaction commits)."""
    key = _generation_key(company_id)
    cache.set(key, uuid.uuid4().hex, None)
    transaction.on_commit(lambda: cache.set(key, uuid.uuid4().hex, None))


def _changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    company_id = getattr(instance, "company_id", None)
    if company_id is not None:
        promotions_changed(company_id)


for _model in (Campaign, Promotion):
    post_save.connect(_changed, sender=_model, dispatch_uid=f"crm-promotions-{_model.__name__}")
    post_delete.connect(_changed, sender=_model,
                        dispatch_uid=f"crm-promotions-del-{_model.__name__}")  # fmt: skip


def promotions_live(company_id: int, date: object) -> list[Promotion]:
    """`promotions_valid`, without asking the database while the company is known to have
    none on `date` (see the module)."""
    key = f"crm:promotions:live:{company_id}:{date}:{_generation(company_id)}"
    if cache.get(key) is False:
        return []
    valid = promotions_valid(company_id, date)
    cache.set(key, bool(valid), LIVE_CACHE_SECONDS)
    return valid


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
    valid = promotions_live(request.company.pk, request.date)
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
