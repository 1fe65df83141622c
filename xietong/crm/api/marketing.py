"""REST endpoints of marketing: segments (list, create, detail with the live member count and
a preview, static list members), campaigns (list, create, detail, state moves, promotions,
e-mail templates, sending as a background job) and their results.

Reading needs `crm.marketing.view`, changing `crm.marketing.manage`. Another company's
records are not found (404); bad input answers 422 with field errors (`rules` lists one
message per bad condition); a refusal without a field (a done campaign …) answers 422 with
its reason and code. Amounts are decimal strings."""

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict

from xietong.core.api import DecimalString, refusals_of
from xietong.core.idempotency import idempotent
from xietong.core.permissions import requires
from xietong.crm import attribution, campaign_selectors, campaigns, mailing, segments
from xietong.crm.models import Campaign, Segment

router = Router(tags=["crm marketing"])
refusals = refusals_of(campaigns.CampaignError, own=campaigns.CampaignError)

CampaignState = Literal["draft", "scheduled", "running", "done", "cancelled"]
Channel = Literal["email", "event", "web", "social", "print", "other"]


# --- schemas ------------------------------------------------------------------------------------


class SegmentIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["rules", "static"] = "rules"
    match: Literal["all", "any"] = "all"
    rules: list[dict[str, Any]] = Field(default_factory=list,
                                        description="conditions: field, op, value (, days)")  # fmt: skip
    description: str = ""


class SegmentOut(Schema):
    id: int
    name: str
    kind: str
    match: str
    rules: list[dict[str, Any]]
    description: str


class MemberOut(Schema):
    id: int
    code: str
    name: str


class SegmentDetailOut(SegmentOut):
    count: int
    preview: list[MemberOut]


class MembersIn(Schema):
    model_config = ConfigDict(extra="forbid")

    parties: list[int | str] = Field(..., description="party ids or codes")


class MembersAdded(Schema):
    added: int
    count: int


class CampaignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str
    code: str = ""
    channel: Channel = "email"
    segment: int | None = None
    budget: DecimalString | None = None
    cost: DecimalString | None = None
    currency: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    language: str | None = None
    description: str = ""
    holdout_percent: int | None = None  # 0–50: the share held out as the control group


class CouponOut(Schema):
    code: str


class PromotionOut(Schema):
    id: int
    name: str
    kind: str
    discount_type: str
    value: DecimalString
    products: list[int]
    coupons: list[str]

    @staticmethod
    def resolve_products(obj: Any) -> list[int]:
        return [p.pk for p in obj.products.all()]

    @staticmethod
    def resolve_coupons(obj: Any) -> list[str]:
        return [c.code for c in obj.coupons.all()]


class TemplateOut(Schema):
    language: str
    subject: str
    body: str


class CampaignOut(Schema):
    id: int
    name: str
    code: str
    channel: str
    segment: int | None = Field(None, alias="segment_id")
    budget: DecimalString
    cost: DecimalString
    currency: str = Field(..., alias="currency_id")
    start_date: dt.date | None
    end_date: dt.date | None
    state: str
    language: str
    description: str
    holdout_percent: int


class CampaignDetailOut(CampaignOut):
    promotions: list[PromotionOut]
    templates: list[TemplateOut]

    @staticmethod
    def resolve_promotions(obj: Any) -> list[Any]:
        return list(obj.promotions.all())

    @staticmethod
    def resolve_templates(obj: Any) -> list[Any]:
        return list(obj.templates.all())


class CampaignFilters(Schema):
    state: CampaignState | None = None
    channel: Channel | None = None


class StateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    state: CampaignState


class PromotionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["lines", "bundle"] = "lines"
    discount_type: Literal["percent", "fixed"] = "percent"
    value: DecimalString
    products: list[int | str] = Field(default_factory=list, description="product ids or SKUs")
    coupons: list[str] = Field(default_factory=list)


class TemplateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    language: str
    subject: str
    body: str


class JobOut(Schema):
    job: int
    status: str


class ResultsOut(Schema):
    campaign: int
    recipients: int
    sent: int
    opened: int
    clicked: int
    unsubscribed: int
    bounced: int
    responses: int
    leads: int
    opportunities: int
    opportunities_won: int
    won_revenue: DecimalString
    first_touch_orders: int
    last_touch_orders: int
    first_touch_revenue: DecimalString
    last_touch_revenue: DecimalString
    cost: DecimalString
    cost_per_lead: DecimalString | None
    roi_percent: DecimalString | None


# --- segments -----------------------------------------------------------------------------------


def _segment(segment_id: int) -> Segment:
    return get_object_or_404(Segment.objects.all(), pk=segment_id)


def _segment_detail(segment: Segment) -> dict[str, Any]:
    count, preview = segments.segment_preview(segment, limit=20)
    return {"id": segment.pk, "name": segment.name, "kind": segment.kind,
            "match": segment.match, "rules": segment.rules, "description": segment.description,
            "count": count, "preview": preview}  # fmt: skip


@router.get("/crm/marketing/segments", response=list[SegmentOut])
@requires("crm.marketing.view")
@paginate
def segment_list(request: HttpRequest) -> Any:
    return Segment.objects.order_by("name", "pk")


@router.post("/crm/marketing/segments", response={201: SegmentDetailOut})
@requires("crm.marketing.manage")
@idempotent
@refusals
def segment_create(request: HttpRequest, payload: SegmentIn) -> Status:
    """A segment: rules evaluated live (see the field list in the docs), or a static list."""
    segment = segments.segment_create(company=request.company, actor=request.user,  # type: ignore[attr-defined]
                                      **payload.model_dump())  # fmt: skip
    return Status(201, _segment_detail(segment))


@router.get("/crm/marketing/segments/{segment_id}", response=SegmentDetailOut)
@requires("crm.marketing.view")
def segment_detail(request: HttpRequest, segment_id: int) -> Any:
    """The segment with its member count now and the first 20 members."""
    return _segment_detail(_segment(segment_id))


@router.post("/crm/marketing/segments/{segment_id}/members", response=MembersAdded)
@requires("crm.marketing.manage")
@refusals
def segment_members_add(request: HttpRequest, segment_id: int, payload: MembersIn) -> Any:
    segment = _segment(segment_id)
    added = segments.segment_members_add(segment=segment, actor=request.user,
                                         parties=payload.parties)  # fmt: skip
    return {"added": added, "count": segments.segment_parties(segment).count()}


# --- campaigns ----------------------------------------------------------------------------------


def _campaign(campaign_id: int) -> Campaign:
    return get_object_or_404(Campaign.objects.all(), pk=campaign_id)


def _detail(campaign_id: int) -> Campaign:
    return campaign_selectors.campaign_detail(campaign_id)


@router.get("/crm/marketing/campaigns", response=list[CampaignOut])
@requires("crm.marketing.view")
@paginate
def campaign_list(request: HttpRequest, filters: Query[CampaignFilters]) -> Any:
    rows = Campaign.objects.order_by("-start_date", "-pk")
    if filters.state:
        rows = rows.filter(state=filters.state)
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    return rows


@router.post("/crm/marketing/campaigns", response={201: CampaignDetailOut})
@requires("crm.marketing.manage")
@idempotent
@refusals
def campaign_create(request: HttpRequest, payload: CampaignIn) -> Status:
    """A draft campaign; the code is made from the name when not given."""
    data = {k: v for k, v in payload.model_dump().items() if v is not None and k != "name"}
    campaign = campaigns.campaign_create(company=request.company, actor=request.user,  # type: ignore[attr-defined]
                                         name=payload.name, **data)  # fmt: skip
    return Status(201, _detail(campaign.pk))


@router.get("/crm/marketing/campaigns/{campaign_id}", response=CampaignDetailOut)
@requires("crm.marketing.view")
def campaign_detail(request: HttpRequest, campaign_id: int) -> Any:
    return _detail(_campaign(campaign_id).pk)


@router.post("/crm/marketing/campaigns/{campaign_id}/state", response=CampaignDetailOut)
@requires("crm.marketing.manage")
@refusals
def campaign_state(request: HttpRequest, campaign_id: int, payload: StateIn) -> Any:
    """Move the campaign: draft → scheduled → running → done, or cancelled."""
    campaign = campaigns.campaign_transition(campaign=_campaign(campaign_id), actor=request.user,
                                             state=payload.state)  # fmt: skip
    return _detail(campaign.pk)


@router.post("/crm/marketing/campaigns/{campaign_id}/promotions", response={201: PromotionOut})
@requires("crm.marketing.manage")
@idempotent
@refusals
def promotion_create(request: HttpRequest, campaign_id: int, payload: PromotionIn) -> Status:
    """A promotion of the campaign (applied by the price engine during the campaign)."""
    promotion = campaigns.promotion_create(campaign=_campaign(campaign_id), actor=request.user,
                                           **payload.model_dump())  # fmt: skip
    return Status(201, promotion)


@router.post("/crm/marketing/campaigns/{campaign_id}/templates", response=TemplateOut)
@requires("crm.marketing.manage")
@refusals
def template_save(request: HttpRequest, campaign_id: int, payload: TemplateIn) -> Any:
    """Create or replace the campaign's e-mail in a language (merge fields `{{ name }}`)."""
    return campaigns.template_save(campaign=_campaign(campaign_id), actor=request.user,
                                   **payload.model_dump())  # fmt: skip


@router.post("/crm/marketing/campaigns/{campaign_id}/send", response={202: JobOut})
@requires("crm.marketing.manage")
@refusals
def campaign_send(request: HttpRequest, campaign_id: int) -> Status:
    """Queue the e-mail to the segment and start the sending job (follow it at /jobs/{id})."""
    job = mailing.email_campaign_send(campaign=_campaign(campaign_id), actor=request.user)
    return Status(202, {"job": job.pk, "status": job.status})


@router.get("/crm/marketing/campaigns/{campaign_id}/results", response=ResultsOut)
@requires("crm.marketing.view")
def campaign_results(request: HttpRequest, campaign_id: int) -> Any:
    """Responses, leads, opportunities, first/last-touch orders and revenue, cost per lead,
    ROI (see `xietong.crm.attribution`)."""
    campaign = _campaign(campaign_id)
    r = attribution.campaign_results(campaign)
    return {
        "campaign": campaign.pk, "recipients": r.recipients, "sent": r.sent,
        "opened": r.opened, "clicked": r.clicked, "unsubscribed": r.unsubscribed,
        "bounced": r.bounced, "responses": r.responses, "leads": r.leads,
        "opportunities": r.opportunities, "opportunities_won": r.opportunities_won,
        "won_revenue": r.won_revenue, "first_touch_orders": len(r.first_touch_orders),
        "last_touch_orders": len(r.last_touch_orders),
        "first_touch_revenue": r.first_touch_revenue, "last_touch_revenue": r.last_touch_revenue,
        "cost": campaign.cost, "cost_per_lead": r.cost_per_lead, "roi_percent": r.roi_percent,
    }  # fmt: skip
