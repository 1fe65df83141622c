"""Reads of marketing used by the pipeline, the views and the API: campaigns and segments of the
active company, the campaign a lead's free-text campaign names."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from xietong.crm.models import Campaign, Segment


def campaign_for_code(company_id: int, text: str) -> int | None:
    """The campaign (pk) a lead's `campaign` text (a web form's utm_campaign) names: its code,
    else its exact name; a cancelled campaign is not chosen. None when none matches."""
    text = (text or "").strip()
    if not text:
        return None
    rows = Campaign.unscoped.filter(company_id=company_id).exclude(state=Campaign.State.CANCELLED)
    found = rows.filter(code__iexact=text).values_list("pk", flat=True).first()
    if found is None:
        found = rows.filter(name=text).values_list("pk", flat=True).first()
    return found


def campaigns() -> QuerySet[Campaign]:
    """The active company's campaigns with their segment and lead count."""
    return Campaign.objects.select_related("segment", "currency").annotate(
        lead_count=Count("leads", distinct=True)
    )


def segments() -> QuerySet[Segment]:
    return Segment.objects.annotate(
        static_count=Count("members", distinct=True),
        campaign_count=Count("campaigns", filter=~Q(campaigns__state="cancelled"), distinct=True),
    )


def campaign_detail(pk: Any) -> Campaign:
    """One campaign of the active company with its promotions (and their coupons and
    products) and templates. Raises Campaign.DoesNotExist."""
    return (
        Campaign.objects.select_related("segment", "currency", "owner")
        .prefetch_related("promotions__coupons", "promotions__products", "templates")
        .get(pk=pk)
    )
