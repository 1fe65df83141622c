"""Reads of marketing used by the pipeline, the views, the API and analytics: campaigns and
segments of the active company, the campaign a lead's free-text campaign names, and who was
exposed to which campaign (`campaign_exposures`, the 7P analysis' "Promotion")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from xietong.crm.models import Campaign, Coupon, Lead, Recipient, Segment
from xietong.sales import selectors as sales_selectors

TREATED = "treated"
CONTROL = "control"


@dataclass
class Exposure:
    """A customer (party) reached by a campaign — or held out of it (`group` "control")."""

    campaign_id: int
    campaign: str
    channel: str
    segment_id: int | None
    party_id: int
    exposed_at: dt.datetime
    group: str  # TREATED or CONTROL
    opened: bool = False
    clicked: bool = False
    lead: bool = False
    coupon_orders: int = 0

    @property
    def responded(self) -> bool:
        return self.opened or self.clicked or self.lead or self.coupon_orders > 0


def channel_labels() -> dict[str, str]:
    """The campaign channels' names (translated when shown) by code."""
    return {str(k): str(v) for k, v in Campaign.Channel.choices}


def campaign_exposures(company_id: int, since: dt.datetime | dt.date | None = None
                       ) -> list[Exposure]:  # fmt: skip
    """One row per (campaign, party) of the company: the e-mail recipients — sent ("treated",
    exposed when sent) or held out ("control", at the time they were held out) — and the parties
    of the campaign's leads and coupon orders (exposed at the lead's / order's creation, when
    they got no e-mail of it). `responded`: opened or clicked the e-mail, became a lead of the
    campaign or ordered with one of its coupons. With `since`, only exposures from then on.
    Four queries, whatever the number of campaigns and parties; sorted by campaign and party."""
    found: dict[tuple[int, int], Exposure] = {}
    recipients = (
        Recipient.unscoped.filter(company_id=company_id)
        .filter(Q(sent_at__isnull=False) | Q(status=Recipient.Status.CONTROL))
        .values_list("campaign_id", "campaign__name", "campaign__channel",
                     "campaign__segment_id", "party_id", "status", "sent_at", "created_at",
                     "opened_at", "clicked_at")
        .order_by("pk")
    )  # fmt: skip
    for cid, name, channel, segment, party, status, sent, created, opened, clicked in recipients:
        control = status == Recipient.Status.CONTROL
        key = (cid, party)
        row = found.get(key)
        if row is None:
            found[key] = Exposure(cid, name, channel, segment, party,
                                  created if control else sent, CONTROL if control else TREATED,
                                  opened is not None, clicked is not None)  # fmt: skip
        else:  # several contacts of one party: merged
            row.opened |= opened is not None
            row.clicked |= clicked is not None

    def touch(cid: int, name: str, channel: str, segment: int | None, party: int,
              at: dt.datetime, lead: bool) -> None:  # fmt: skip
        row = found.get((cid, party))
        if row is None:
            row = found[(cid, party)] = Exposure(cid, name, channel, segment, party, at, TREATED)
        if lead:
            row.lead = True
        else:
            row.coupon_orders += 1

    leads = (
        Lead.unscoped.filter(company_id=company_id, marketing_campaign__isnull=False,
                             party__isnull=False)
        .values_list("marketing_campaign_id", "marketing_campaign__name",
                     "marketing_campaign__channel", "marketing_campaign__segment_id",
                     "party_id", "created_at")
        .order_by("created_at", "pk")
    )  # fmt: skip
    for cid, name, channel, segment, party, at in leads:
        touch(cid, name, channel, segment, party, at, True)
    coupons = {
        code: (cid, name, channel, segment)
        for code, cid, name, channel, segment in Coupon.unscoped.filter(company_id=company_id)
        .values_list("code", "promotion__campaign_id", "promotion__campaign__name",
                     "promotion__campaign__channel", "promotion__campaign__segment_id")
    }  # fmt: skip
    if coupons:
        orders = (
            sales_selectors.orders_won(company_id=company_id, coupon_codes=list(coupons))
            .values_list("coupon_code", "party_id", "created_at")
            .order_by("created_at", "pk")
        )  # fmt: skip
        for code, party, at in orders:
            touch(*coupons[code], party, at, False)
    out = sorted(found.values(), key=lambda e: (e.campaign_id, e.party_id))
    if since is not None:
        if isinstance(since, dt.datetime):
            out = [e for e in out if e.exposed_at >= since]
        else:
            out = [e for e in out if timezone.localtime(e.exposed_at).date() >= since]
    return out


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


def warehouse_recipients() -> QuerySet[Recipient]:
    """Every company's campaign recipients that were sent the e-mail or held out of it (the
    control group), unscoped, for the analytics warehouse's ETL (one row per contact; the
    campaign's name and channel through `campaign__…`)."""
    return Recipient.unscoped.filter(Q(sent_at__isnull=False) | Q(status=Recipient.Status.CONTROL))


def warehouse_campaigns() -> QuerySet[Campaign]:
    """Every company's campaigns (unscoped), for the analytics warehouse's campaign dimension."""
    return Campaign.unscoped.all()
