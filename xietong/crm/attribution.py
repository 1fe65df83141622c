"""Campaign results: responses, leads, opportunities, orders and revenue attributed to a
campaign, first-touch and last-touch, cost per lead and ROI.

A *touch* is a moment a campaign reached a customer (party):

- a click on a link of the campaign's e-mail (`Recipient.clicked_at`, the first click);
- a lead attributed to the campaign (`Lead.marketing_campaign`) once it belongs to a party (at
  the lead's creation);
- an order carrying one of the campaign's coupon codes (at the order's creation).

An order (confirmed or done) is attributed to the campaigns of the touches of its customer in
the `WINDOW_DAYS` days up to the order's creation: its *first touch* is the earliest of them,
its *last touch* the latest (ties: the lower campaign id). Revenue is the orders' untaxed
amount; only orders in the campaign's currency add to its revenue.

Responses are the recipients who opened or clicked plus the leads of the campaign. Cost per
lead = cost / leads; ROI = (last-touch revenue − cost) / cost × 100 %; both None when their
divisor is zero."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Sum
from django.http import HttpRequest
from django.urls import reverse

from xietong.crm.models import Campaign, Coupon, Lead, Opportunity, Recipient
from xietong.party.models import Party
from xietong.sales import selectors as sales_selectors

WINDOW_DAYS = 90
CENT = Decimal("0.01")
ZERO = Decimal(0)


@dataclass(frozen=True)
class Touch:
    party_id: int
    campaign_id: int
    at: dt.datetime
    kind: str  # "click", "lead", "coupon"
    ref: Any = None

    @property
    def key(self) -> tuple[dt.datetime, int]:
        return (self.at, self.campaign_id)


@dataclass
class Results:
    campaign: Campaign
    recipients: int = 0
    sent: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    bounced: int = 0
    leads: int = 0
    responses: int = 0
    opportunities: int = 0
    opportunities_won: int = 0
    won_revenue: Decimal = ZERO
    first_touch_orders: list[Any] = field(default_factory=list)
    last_touch_orders: list[Any] = field(default_factory=list)
    first_touch_revenue: Decimal = ZERO
    last_touch_revenue: Decimal = ZERO
    cost_per_lead: Decimal | None = None
    roi_percent: Decimal | None = None


def touches(company_id: int, party_ids: Iterable[int] | None = None,
            campaign_id: int | None = None) -> list[Touch]:  # fmt: skip
    """The touches in the company, of some parties and/or of one campaign, oldest first."""
    clicks = Recipient.unscoped.filter(company_id=company_id, clicked_at__isnull=False)
    leads = Lead.unscoped.filter(company_id=company_id, marketing_campaign__isnull=False,
                                 party__isnull=False)  # fmt: skip
    coupons = Coupon.unscoped.filter(company_id=company_id)
    ids = list(party_ids) if party_ids is not None else None
    if ids is not None:
        clicks, leads = clicks.filter(party_id__in=ids), leads.filter(party_id__in=ids)
    if campaign_id is not None:
        clicks = clicks.filter(campaign_id=campaign_id)
        leads = leads.filter(marketing_campaign_id=campaign_id)
        coupons = coupons.filter(promotion__campaign_id=campaign_id)
    out = [Touch(r.party_id, r.campaign_id, r.clicked_at, "click", r.pk)
           for r in clicks.only("party_id", "campaign_id", "clicked_at")]  # fmt: skip
    out += [Touch(lead.party_id, lead.marketing_campaign_id, lead.created_at, "lead", lead.pk)
            for lead in leads.only("party_id", "marketing_campaign_id", "created_at")]  # fmt: skip
    code_campaign = dict(coupons.values_list("code", "promotion__campaign_id"))
    if code_campaign:
        orders = sales_selectors.orders_won(company_id=company_id, party_ids=ids,
                                            coupon_codes=list(code_campaign))  # fmt: skip
        for order in orders.only("party_id", "coupon_code", "created_at"):
            out.append(Touch(order.party_id, code_campaign[order.coupon_code], order.created_at,
                             "coupon", order.pk))  # fmt: skip
    out.sort(key=lambda t: t.key)
    return out


def order_attribution(company_id: int, party_ids: Iterable[int]
                      ) -> list[tuple[Any, Touch, Touch]]:  # fmt: skip
    """(order, first touch, last touch) of each confirmed or done order of the parties that
    has touches in the window before it."""
    ids = list(party_ids)
    by_party: dict[int, list[Touch]] = defaultdict(list)
    for touch in touches(company_id, ids):
        by_party[touch.party_id].append(touch)
    if not by_party:
        return []
    out = []
    orders = sales_selectors.orders_won(company_id=company_id, party_ids=list(by_party)
                                        ).order_by("created_at", "pk")  # fmt: skip
    for order in orders.select_related("party"):
        start = order.created_at - dt.timedelta(days=WINDOW_DAYS)
        window = [t for t in by_party[order.party_id] if start <= t.at <= order.created_at]
        if window:
            out.append((order, min(window, key=lambda t: t.key), max(window, key=lambda t: t.key)))
    return out


def campaign_results(campaign: Campaign) -> Results:
    """The results of one campaign (see the module for the definitions)."""
    result = Results(campaign=campaign)
    recipients = Recipient.unscoped.filter(campaign=campaign)
    status = Recipient.Status
    result.recipients = recipients.exclude(status__in=(status.SKIPPED, status.CONTROL)).count()
    result.sent = recipients.filter(sent_at__isnull=False).count()
    result.opened = recipients.filter(opened_at__isnull=False).count()
    result.clicked = recipients.filter(clicked_at__isnull=False).count()
    result.unsubscribed = recipients.filter(unsubscribed_at__isnull=False).count()
    result.bounced = recipients.filter(status=status.BOUNCED).count()
    leads = Lead.unscoped.filter(marketing_campaign=campaign)
    result.leads = leads.count()
    result.responses = result.opened + result.leads
    opportunities = Opportunity.unscoped.filter(lead__marketing_campaign=campaign)
    result.opportunities = opportunities.count()
    won = opportunities.filter(state=Opportunity.State.WON)
    result.opportunities_won = won.count()
    result.won_revenue = won.filter(currency_id=campaign.currency_id).aggregate(
        s=Sum("expected_revenue"))["s"] or ZERO  # fmt: skip
    parties = {t.party_id for t in touches(campaign.company_id, campaign_id=campaign.pk)}
    for order, first, last in order_attribution(campaign.company_id, parties):
        counted = order.amount_untaxed if order.currency_id == campaign.currency_id else ZERO
        if first.campaign_id == campaign.pk:
            result.first_touch_orders.append(order)
            result.first_touch_revenue += counted
        if last.campaign_id == campaign.pk:
            result.last_touch_orders.append(order)
            result.last_touch_revenue += counted
    if result.leads:
        result.cost_per_lead = (campaign.cost / result.leads).quantize(CENT, ROUND_HALF_UP)
    if campaign.cost:
        result.roi_percent = (
            (result.last_touch_revenue - campaign.cost) / campaign.cost * 100
        ).quantize(CENT, ROUND_HALF_UP)
    return result


def party_campaigns(party: Party) -> dict[str, Any]:
    """A customer's campaign e-mails and touches, newest first (the party page's panel)."""
    emails = list(
        Recipient.unscoped.filter(company_id=party.company_id, party=party)
        .select_related("campaign")
        .order_by("-created_at", "-pk")[:20]
    )
    names = dict(Campaign.unscoped.filter(company_id=party.company_id).values_list("pk", "name"))
    found = touches(party.company_id, [party.pk])
    return {
        "emails": emails,
        "touches": [
            {
                "touch": t,
                "campaign": names.get(t.campaign_id, ""),
                "url": reverse("crm:campaign_detail", args=[t.campaign_id]),
            }
            for t in reversed(found[-20:])
        ],  # fmt: skip
    }


def campaigns_panel(request: HttpRequest, party: Party) -> dict[str, Any] | None:
    """The party page's "Campaigns" panel: None when the party was never in a campaign."""
    data = party_campaigns(party)
    if not data["emails"] and not data["touches"]:
        return None
    return data
