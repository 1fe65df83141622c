"""REST endpoints of the sales pipeline (mounted at `/api/v1` by `xietong.api`), following the
conventions of `xietong.core.api`: a permission under every route, scoped querysets (another
company's record is not found), `@paginate`d lists, `@idempotent` creating POSTs answering 201,
writes through the services, decimals as strings.

Leads (list, create — by hand or from a web form's fields —, the duplicate candidates, qualify,
disqualify), opportunities (list, create, move to a stage, won, lost), activities (list, create
on a lead or an opportunity, done), the sales teams with their stages, the lost reasons and the
weighted forecast.

Who sees what: with `crm.manage` every team's records; otherwise the records of the caller's
own teams (member or manager) and the ones they own, plus leads not yet given to a team.
Another team's opportunity is simply not found (404). Invalid input answers 422 with field
errors; a refusal that names no field (a closed opportunity, a lead qualified already) answers
422 with its reason in `detail` and its `code`. Qualifying a lead that looks like existing
customers answers 422 on the field `party`; `GET …/duplicates` lists the candidates, and the
qualification is sent again with `party` (one of them) or `create_party: true`.
"""

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import AwareDatetime, ConfigDict

from xietong.core.api import DecimalString, refusals_of
from xietong.core.idempotency import idempotent
from xietong.core.permissions import has_perm, requires
from xietong.crm import selectors, services
from xietong.crm.models import Activity, Lead, Opportunity, SalesTeam
from xietong.sales import schemas as sales_schemas
from xietong.sales import selectors as sales_selectors
from xietong.sales import services as sales_services
from xietong.sales.common import SalesError

router = Router(tags=["crm"])

LeadState = Literal["new", "qualified", "disqualified"]
LeadSource = Literal["web_form", "import", "email", "manual", "other"]
OpportunityState = Literal["open", "won", "lost"]
ActivityKind = Literal["call", "meeting", "email", "task"]

refusals = refusals_of(services.CrmError, own=services.CrmError)
"""Answer the services' refusals: field errors as validation problems, others as 422 with
their reason and code."""


# --- schemas ------------------------------------------------------------------------------------


class StageOut(Schema):
    id: int
    name: str
    sequence: int
    probability: DecimalString
    is_won: bool
    is_lost: bool


class TeamOut(Schema):
    id: int
    name: str
    manager: int | None = Field(None, alias="manager_id")
    assignment: str
    members: list[int]
    stages: list[StageOut]

    @staticmethod
    def resolve_members(obj: Any) -> list[int]:
        return sorted(m.pk for m in obj.members.all())

    @staticmethod
    def resolve_stages(obj: Any) -> list[Any]:
        return list(obj.stages.all())


class TeamIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str
    manager: int | None = Field(None, description="user id")
    members: list[int] = Field(default_factory=list, description="user ids")
    assignment: Literal["least_loaded", "round_robin", "manual"] = "least_loaded"
    default_stages: bool = Field(
        True, description="New, Qualified, Proposal, Negotiation, Won, Lost"
    )


class MembersIn(Schema):
    model_config = ConfigDict(extra="forbid")

    members: list[int] = Field(..., description="user ids: the team's members from now on")


class TeamPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    manager: int | None = Field(None, description="user id (the team's leader)")
    assignment: Literal["least_loaded", "round_robin", "manual"] | None = None
    members: list[int] | None = Field(None, description="user ids: replaces the members")
    active: bool | None = None


class StageIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str
    sequence: int = Field(10, ge=0, le=32767)
    probability: DecimalString = Field(..., description="0 to 100")
    is_won: bool = False
    is_lost: bool = False


class LostReasonIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str


class AssignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    team: int | None = Field(None, description="leads: the team to assign in (default: its own)")


class AssignedOut(Schema):
    owner: int | None
    reason: str = Field(..., description="why the dispatch strategy chose them")


class TargetIn(Schema):
    model_config = ConfigDict(extra="forbid")

    team: int
    user: int | None = Field(None, description="a member of the team; null: the whole team")
    period_start: dt.date
    period_end: dt.date
    amount: DecimalString = Field(..., description="in the company currency")


class TargetOut(Schema):
    id: int
    team: int = Field(..., alias="team_id")
    user: int | None = Field(None, alias="user_id")
    period_start: dt.date
    period_end: dt.date
    amount: DecimalString
    won: DecimalString = Field(..., description="revenue of the opportunities won in the period")
    attainment: DecimalString | None = Field(None, description="won / target in %")


class TargetFilters(Schema):
    team: int | None = None
    on: dt.date | None = Field(None, description="only the targets whose period holds this day")


class LostReasonOut(Schema):
    id: int
    name: str


class LeadIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., description="the person's name")
    company_name: str = ""
    email: str = ""
    phone: str = ""
    source: LeadSource = "manual"
    campaign: str = ""
    description: str = ""
    team: int | None = Field(None, description="sales team id")
    owner: int | None = Field(None, description="user id; default: the team's assignment")
    country: str = Field("", description="ISO 3166 code, for territory assignment")
    region: int | None = Field(None, description="region id (of the country)")


class WebFormIn(Schema):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, str] = Field(..., description="the web form's fields as posted")
    team: int | None = Field(None, description="sales team id; its strategy picks the owner")


class LeadOut(Schema):
    id: int
    name: str
    company_name: str
    email: str
    phone: str
    source: str
    campaign: str
    description: str
    team: int | None = Field(None, alias="team_id")
    owner: int | None = Field(None, alias="owner_id")
    state: str
    party: int | None = Field(None, alias="party_id")
    disqualify_reason: str
    created_at: dt.datetime
    qualified_at: dt.datetime | None
    country: str | None = Field(None, alias="country_id")
    region: int | None = Field(None, alias="region_id")


class LeadFilters(Schema):
    state: LeadState | None = None
    source: LeadSource | None = None
    team: int | None = None
    owner: int | None = None
    q: str | None = Field(None, description="in the name, company name or e-mail")


class CandidateOut(Schema):
    party: int
    code: str
    name: str
    reasons: list[str] = Field(..., description="name, tax_id, phone, email")


class QualifyIn(Schema):
    model_config = ConfigDict(extra="forbid")

    party: int | None = Field(None, description="an existing customer (e.g. a duplicate)")
    create_party: bool = Field(False, description="true: a new customer despite duplicates")
    team: int | None = Field(None, description="default: the lead's team")
    owner: int | None = Field(None, description="default: the lead's owner, else assignment")
    name: str = Field("", description="the opportunity's name; default: the company's")
    expected_revenue: DecimalString | None = None
    close_date: dt.date | None = None


class DisqualifyIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = ""


class OpportunityIn(Schema):
    model_config = ConfigDict(extra="forbid")

    party: int
    name: str
    team: int
    stage: int | None = Field(None, description="default: the team's first open stage")
    owner: int | None = Field(None, description="default: the team's assignment strategy")
    contact: int | None = None
    expected_revenue: DecimalString | None = None
    currency: str | None = Field(None, description="ISO code; default: the customer's")
    probability: DecimalString | None = Field(None, description="default: the stage's")
    close_date: dt.date | None = None


class OpportunityOut(Schema):
    id: int
    name: str
    party: int = Field(..., alias="party_id")
    party_name: str
    contact: int | None = Field(None, alias="contact_id")
    team: int = Field(..., alias="team_id")
    stage: int = Field(..., alias="stage_id")
    stage_name: str
    owner: int | None = Field(None, alias="owner_id")
    lead: int | None = Field(None, alias="lead_id")
    expected_revenue: DecimalString
    currency: str = Field(..., alias="currency_id")
    probability: DecimalString
    probability_overridden: bool
    weighted_revenue: DecimalString
    close_date: dt.date | None
    state: str
    lost_reason: int | None = Field(None, alias="lost_reason_id")
    lost_note: str
    closed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_party_name(obj: Opportunity) -> str:
        return obj.party.name

    @staticmethod
    def resolve_stage_name(obj: Opportunity) -> str:
        return obj.stage.name


class OpportunityFilters(Schema):
    state: OpportunityState | None = None
    team: int | None = None
    stage: int | None = None
    owner: int | None = None
    party: int | None = None
    close_from: dt.date | None = None
    close_to: dt.date | None = None


class MoveIn(Schema):
    model_config = ConfigDict(extra="forbid")

    stage: int
    probability: DecimalString | None = Field(None, description="default: the stage's")


class LostIn(Schema):
    model_config = ConfigDict(extra="forbid")

    lost_reason: int | None = Field(None, description="required: the id of a lost reason")
    note: str = ""


class ActivityIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: ActivityKind = "call"
    subject: str
    note: str = ""
    lead: int | None = None
    opportunity: int | None = None
    due_date: dt.date | None = None
    due_at: AwareDatetime | None = None
    owner: int | None = Field(None, description="default: the caller")
    done: bool = False


class ActivityOut(Schema):
    id: int
    kind: str
    subject: str
    note: str
    lead: int | None = Field(None, alias="lead_id")
    opportunity: int | None = Field(None, alias="opportunity_id")
    due_date: dt.date | None
    due_at: dt.datetime | None
    owner: int | None = Field(None, alias="owner_id")
    done: bool
    done_at: dt.datetime | None


class ActivityFilters(Schema):
    done: bool | None = None
    owner: int | None = None
    lead: int | None = None
    opportunity: int | None = None


class DoneIn(Schema):
    model_config = ConfigDict(extra="forbid")

    note: str = ""


class ForecastFilters(Schema):
    by: Literal["team", "owner"] = "team"
    start: dt.date | None = None
    end: dt.date | None = None


class ForecastOut(Schema):
    month: dt.date
    key: int | None = Field(None, description="team or owner id")
    label: str
    count: int
    expected: DecimalString
    weighted: DecimalString


class OpportunityQuotationIn(Schema):
    model_config = ConfigDict(extra="forbid")

    lines: list[sales_schemas.LineIn] = Field(..., description="at least one line")
    valid_until: dt.date | None = Field(None, description="default: date + the settings' days")
    date: dt.date | None = None
    customer_reference: str = ""
    notes: str = ""


class SalesDocumentOut(Schema):
    id: int
    number: str
    version: int = 1
    state: str
    date: dt.date
    currency: str = Field(..., alias="currency_id")
    amount_untaxed: DecimalString
    amount_total: DecimalString
    quotation: int | None = Field(None, alias="quotation_id", description="orders: made from")


# --- helpers ------------------------------------------------------------------------------------


def _see_all(request: HttpRequest) -> bool:
    return has_perm(request, "crm.manage")


def _leads(request: HttpRequest) -> Any:
    return selectors.leads_visible(user=request.user, see_all=_see_all(request))


def _opportunities(request: HttpRequest) -> Any:
    return selectors.opportunities_visible(user=request.user, see_all=_see_all(request))


def _lead(request: HttpRequest, lead_id: int) -> Lead:
    return get_object_or_404(_leads(request), pk=lead_id)


def _opportunity(request: HttpRequest, opportunity_id: int) -> Opportunity:
    return get_object_or_404(_opportunities(request), pk=opportunity_id)


def _visible_or_invalid(rows: Any, pk: int | None, field: str) -> Any:
    """The visible row `pk` (None for None); a 422 on `field` when the caller cannot see it."""
    if pk is None:
        return None
    found = rows.filter(pk=pk).first()
    if found is None:
        raise ValidationError({field: [_("Choose a record you may see.")]})
    return found


# --- teams, reasons, forecast -------------------------------------------------------------------


@router.get("/crm/teams", response=list[TeamOut])
@requires("crm.view")
@paginate
def team_list(request: HttpRequest) -> Any:
    """The sales teams the caller may see (all with `crm.manage`), with members and stages."""
    return selectors.teams_visible(user=request.user, see_all=_see_all(request)).prefetch_related(
        "members", "stages"
    )


def _team(request: HttpRequest, team_id: int) -> Any:
    return get_object_or_404(
        selectors.teams_visible(user=request.user, see_all=_see_all(request)), pk=team_id
    )


def _team_out(team_id: int) -> Any:
    return SalesTeam.objects.prefetch_related("members", "stages").get(pk=team_id)


@router.post("/crm/teams", response={201: TeamOut})
@requires("crm.manage")
@idempotent
@refusals
def team_create(request: HttpRequest, payload: TeamIn) -> Status:
    """A sales team with its members and (by default) the usual stages."""
    team = services.team_create(company=request.company, actor=request.user,  # type: ignore[attr-defined]
                                **payload.model_dump())  # fmt: skip
    return Status(201, _team_out(team.pk))


@router.put("/crm/teams/{team_id}/members", response=TeamOut)
@requires("crm.manage")
@refusals
def team_members_set(request: HttpRequest, team_id: int, payload: MembersIn) -> Any:
    team = services.team_members_set(team=_team(request, team_id), actor=request.user,
                                     members=payload.members)  # fmt: skip
    return _team_out(team.pk)


@router.patch("/crm/teams/{team_id}", response=TeamOut)
@requires("crm.manage")
@refusals
def team_update(request: HttpRequest, team_id: int, payload: TeamPatch) -> Any:
    """Change the fields sent: name, manager (the leader; null removes it), assignment
    strategy, members (replaced), active."""
    team = _team(request, team_id)
    sent = payload.model_dump(exclude_unset=True)
    services.team_update(
        team=team, actor=request.user, name=sent.get("name", team.name),
        manager=sent.get("manager", team.manager_id),
        assignment=sent.get("assignment", team.assignment),
        members=sent["members"] if "members" in sent else [m.pk for m in team.members.all()],
        active=sent.get("active", team.active),
    )  # fmt: skip
    return _team_out(team.pk)


@router.post("/crm/teams/{team_id}/stages", response={201: StageOut})
@requires("crm.manage")
@idempotent
@refusals
def stage_create(request: HttpRequest, team_id: int, payload: StageIn) -> Status:
    stage = services.stage_create(team=_team(request, team_id), actor=request.user,
                                  **payload.model_dump())  # fmt: skip
    stage.refresh_from_db()
    return Status(201, stage)


@router.post("/crm/lost-reasons", response={201: LostReasonOut})
@requires("crm.manage")
@idempotent
@refusals
def lost_reason_create(request: HttpRequest, payload: LostReasonIn) -> Status:
    reason = services.lost_reason_create(company=request.company, actor=request.user,  # type: ignore[attr-defined]
                                         name=payload.name)  # fmt: skip
    return Status(201, reason)


def _target_out(target: Any) -> dict[str, Any]:
    won, percent = selectors.attainment(target)
    return {"id": target.pk, "team_id": target.team_id, "user_id": target.user_id,
            "period_start": target.period_start, "period_end": target.period_end,
            "amount": target.amount, "won": won, "attainment": percent}  # fmt: skip


@router.get("/crm/targets", response=list[TargetOut])
@requires("crm.view")
@paginate
def target_list(request: HttpRequest, filters: Query[TargetFilters]) -> list[dict[str, Any]]:
    """The sales targets of the teams the caller may see, with what was won in each period."""
    team = _team(request, filters.team) if filters.team is not None else None
    rows = selectors.targets_with_attainment(user=request.user, see_all=_see_all(request),
                                             team=team, on=filters.on)  # fmt: skip
    return [_target_out(t) for t in rows]


@router.post("/crm/targets", response={201: TargetOut})
@requires("crm.manage")
@idempotent
@refusals
def target_set(request: HttpRequest, payload: TargetIn) -> Status:
    """Set a team's or a salesperson's target for a period (replacing the one of the same team,
    person and start)."""
    data = payload.model_dump()
    target = services.target_set(team=_team(request, data.pop("team")), actor=request.user,
                                 **data)  # fmt: skip
    found = selectors.targets_with_attainment(user=request.user, see_all=True).get(pk=target.pk)
    return Status(201, _target_out(found))


@router.get("/crm/lost-reasons", response=list[LostReasonOut])
@requires("crm.view")
@paginate
def lost_reason_list(request: HttpRequest) -> Any:
    return selectors.lost_reasons()


@router.get("/crm/forecast", response=list[ForecastOut])
@requires("crm.view")
def forecast(request: HttpRequest, filters: Query[ForecastFilters]) -> Any:
    """The weighted pipeline by month of expected close, per team or owner: Σ expected revenue
    and Σ expected revenue × probability of the open opportunities the caller may see."""
    return selectors.pipeline_forecast(user=request.user, see_all=_see_all(request),
                                       by=filters.by, start=filters.start, end=filters.end)  # fmt: skip


# --- leads --------------------------------------------------------------------------------------


@router.get("/crm/leads", response=list[LeadOut])
@requires("crm.view")
@paginate
def lead_list(request: HttpRequest, filters: Query[LeadFilters]) -> Any:
    rows = _leads(request).order_by("-created_at", "-pk")
    for field in ("state", "source"):
        if getattr(filters, field):
            rows = rows.filter(**{field: getattr(filters, field)})
    if filters.team is not None:
        rows = rows.filter(team_id=filters.team)
    if filters.owner is not None:
        rows = rows.filter(owner_id=filters.owner)
    if filters.q:
        rows = rows.filter(Q(name__icontains=filters.q) | Q(company_name__icontains=filters.q)
                           | Q(email__icontains=filters.q))  # fmt: skip
    return rows


@router.post("/crm/leads", response={201: LeadOut})
@requires("crm.sell")
@idempotent
@refusals
def lead_create(request: HttpRequest, payload: LeadIn) -> Status:
    """Enter a lead; with a team and no owner, the team's assignment strategy picks one."""
    data = payload.model_dump()
    lead = services.lead_create(company=request.company, actor=request.user, assign=True,  # type: ignore[attr-defined]
                                **data)  # fmt: skip
    return Status(201, lead)


@router.post("/crm/leads/web-form", response={201: LeadOut})
@requires("crm.sell")
@idempotent
@refusals
def lead_create_from_web_form(request: HttpRequest, payload: WebFormIn) -> Status:
    """A lead from a web form's fields (`name`, `company`, `email`, `phone`, `message`,
    `utm_campaign` …; others go into the description), source "web form"."""
    lead = services.lead_create_from_web_form(company=request.company, actor=request.user,  # type: ignore[attr-defined]
                                              payload=payload.fields, team=payload.team)  # fmt: skip
    return Status(201, lead)


@router.get("/crm/leads/{lead_id}", response=LeadOut)
@requires("crm.view")
def lead_get(request: HttpRequest, lead_id: int) -> Lead:
    return _lead(request, lead_id)


@router.get("/crm/leads/{lead_id}/duplicates", response=list[CandidateOut])
@requires("crm.view")
def lead_duplicates(request: HttpRequest, lead_id: int) -> list[dict[str, Any]]:
    """Customers that look like the lead (same normalised name or e-mail): pick one as `party`
    when qualifying."""
    return [{"party": c.party.pk, "code": c.party.code, "name": c.party.name,
             "reasons": c.reasons} for c in services.lead_duplicates(_lead(request, lead_id))]  # fmt: skip


@router.post("/crm/leads/{lead_id}/qualify", response={201: OpportunityOut})
@requires("crm.sell")
@idempotent
@refusals
def lead_qualify(request: HttpRequest, lead_id: int, payload: QualifyIn) -> Status:
    """Turn the lead into an opportunity of a customer (new, or `party`), with its person as a
    contact. 422 on `party` when it looks like existing customers and neither `party` nor
    `create_party` is given."""
    opportunity = services.lead_qualify(lead=_lead(request, lead_id), actor=request.user,
                                        **payload.model_dump())  # fmt: skip
    return Status(201, _opportunity(request, opportunity.pk))


@router.post("/crm/leads/{lead_id}/disqualify", response=LeadOut)
@requires("crm.sell")
@refusals
def lead_disqualify(request: HttpRequest, lead_id: int, payload: DisqualifyIn) -> Lead:
    return services.lead_disqualify(lead=_lead(request, lead_id), actor=request.user,
                                    reason=payload.reason)  # fmt: skip


@router.post("/crm/leads/{lead_id}/assign", response=AssignedOut)
@requires("crm.sell")
@refusals
def lead_assign(request: HttpRequest, lead_id: int, payload: AssignIn) -> dict[str, Any]:
    """Give the lead an owner by its team's (or `team`'s) assignment strategy."""
    lead = _lead(request, lead_id)
    team = None
    if payload.team is not None:
        teams = selectors.teams_visible(user=request.user, see_all=_see_all(request))
        team = _visible_or_invalid(teams, payload.team, "team")
    reason = services.lead_assign(lead=lead, actor=request.user, team=team)
    return {"owner": lead.owner_id, "reason": reason}


# --- opportunities ------------------------------------------------------------------------------


@router.get("/crm/opportunities", response=list[OpportunityOut])
@requires("crm.view")
@paginate
def opportunity_list(request: HttpRequest, filters: Query[OpportunityFilters]) -> Any:
    """The opportunities the caller may see (their teams', unless `crm.manage`)."""
    rows = _opportunities(request).order_by("close_date", "pk")
    for field in ("team", "stage", "owner", "party"):
        if getattr(filters, field) is not None:
            rows = rows.filter(**{f"{field}_id": getattr(filters, field)})
    if filters.state:
        rows = rows.filter(state=filters.state)
    if filters.close_from:
        rows = rows.filter(close_date__gte=filters.close_from)
    if filters.close_to:
        rows = rows.filter(close_date__lte=filters.close_to)
    return rows


@router.post("/crm/opportunities", response={201: OpportunityOut})
@requires("crm.sell")
@idempotent
@refusals
def opportunity_create(request: HttpRequest, payload: OpportunityIn) -> Status:
    """Open an opportunity in a team the caller may see; without `owner`, the team's
    assignment strategy picks one."""
    data = payload.model_dump()
    teams = selectors.teams_visible(user=request.user, see_all=_see_all(request))
    data["team"] = _visible_or_invalid(teams, data["team"], "team")
    made = services.opportunity_create(company=request.company, actor=request.user, **data)  # type: ignore[attr-defined]
    return Status(201, _opportunity(request, made.pk))


@router.get("/crm/opportunities/{opportunity_id}", response=OpportunityOut)
@requires("crm.view")
def opportunity_get(request: HttpRequest, opportunity_id: int) -> Opportunity:
    return _opportunity(request, opportunity_id)


@router.post("/crm/opportunities/{opportunity_id}/move", response=OpportunityOut)
@requires("crm.sell")
@refusals
def opportunity_move(request: HttpRequest, opportunity_id: int, payload: MoveIn) -> Opportunity:
    """Move to another stage of the team; the probability becomes the stage's unless given.
    A won stage wins it; a lost stage is refused (use `…/lost` with a reason)."""
    opportunity = _opportunity(request, opportunity_id)
    services.opportunity_move(opportunity=opportunity, actor=request.user, stage=payload.stage,
                              probability=payload.probability)  # fmt: skip
    return _opportunity(request, opportunity_id)


@router.post("/crm/opportunities/{opportunity_id}/won", response=OpportunityOut)
@requires("crm.sell")
@refusals
def opportunity_won(request: HttpRequest, opportunity_id: int) -> Opportunity:
    services.opportunity_win(opportunity=_opportunity(request, opportunity_id), actor=request.user)
    return _opportunity(request, opportunity_id)


@router.post("/crm/opportunities/{opportunity_id}/lost", response=OpportunityOut)
@requires("crm.sell")
@refusals
def opportunity_lost(request: HttpRequest, opportunity_id: int, payload: LostIn) -> Opportunity:
    """Mark lost; `lost_reason` is required (422 on it otherwise)."""
    services.opportunity_lose(opportunity=_opportunity(request, opportunity_id),
                              actor=request.user, reason=payload.lost_reason,
                              note=payload.note)  # fmt: skip
    return _opportunity(request, opportunity_id)


@router.post("/crm/opportunities/{opportunity_id}/assign", response=AssignedOut)
@requires("crm.manage")
@refusals
def opportunity_assign(request: HttpRequest, opportunity_id: int) -> dict[str, Any]:
    """Give the open opportunity a new owner by its team's assignment strategy."""
    opportunity = _opportunity(request, opportunity_id)
    reason = services.opportunity_assign(opportunity=opportunity, actor=request.user)
    return {"owner": opportunity.owner_id, "reason": reason}


# --- activities ---------------------------------------------------------------------------------


@router.get("/crm/activities", response=list[ActivityOut])
@requires("crm.view")
@paginate
def activity_list(request: HttpRequest, filters: Query[ActivityFilters]) -> Any:
    rows = selectors.activities_visible(user=request.user, see_all=_see_all(request))
    if filters.done is not None:
        rows = rows.filter(done=filters.done)
    for field in ("owner", "lead", "opportunity"):
        if getattr(filters, field) is not None:
            rows = rows.filter(**{f"{field}_id": getattr(filters, field)})
    return rows.order_by("done", "due_date", "pk")


@router.post("/crm/activities", response={201: ActivityOut})
@requires("crm.sell")
@idempotent
@refusals
def activity_create(request: HttpRequest, payload: ActivityIn) -> Status:
    """Plan (or with `done: true`, log) an activity on a lead or an opportunity (one of them)
    the caller may see; the owner defaults to the caller."""
    data = payload.model_dump()
    data["lead"] = _visible_or_invalid(_leads(request), data["lead"], "lead")
    data["opportunity"] = _visible_or_invalid(_opportunities(request), data["opportunity"],
                                              "opportunity")  # fmt: skip
    made = services.activity_create(company=request.company, actor=request.user, **data)  # type: ignore[attr-defined]
    return Status(201, made)


@router.post("/crm/activities/{activity_id}/done", response=ActivityOut)
@requires("crm.sell")
@refusals
def activity_done(request: HttpRequest, activity_id: int, payload: DoneIn) -> Activity:
    activity = get_object_or_404(
        selectors.activities_visible(user=request.user, see_all=_see_all(request)), pk=activity_id
    )
    return services.activity_done(activity=activity, actor=request.user, note=payload.note)


# --- quotations and orders of an opportunity (sales) --------------------------------------------

quote_refusals = refusals_of(services.CrmError, SalesError, own=SalesError)


@router.post("/crm/opportunities/{opportunity_id}/quotations",
             response={201: sales_schemas.QuotationOut})  # fmt: skip
@requires("crm.sell")
@idempotent
@quote_refusals
def opportunity_quotation_create(request: HttpRequest, opportunity_id: int,
                                 payload: OpportunityQuotationIn) -> Status:  # fmt: skip
    """A draft quotation for the opportunity's customer with `lines` (as POST /sales/quotations
    takes them), linked to the opportunity (its contact and owner as the quotation's); the
    caller needs `sales.quote` too (403 otherwise). A lost opportunity answers 422."""
    if not has_perm(request, "sales.quote"):
        raise PermissionDenied("sales.quote")
    opportunity = _opportunity(request, opportunity_id)
    fields = payload.model_dump(exclude={"lines", "valid_until", "date"})
    if payload.date is not None:
        fields["date"] = payload.date
    quotation = services.opportunity_quotation_create(
        opportunity=opportunity, actor=request.user,
        lines=sales_services.quotation_lines_from_input(payload.lines),
        valid_until=payload.valid_until, **fields,
    )  # fmt: skip
    return Status(201, sales_selectors.quotation_detail(quotation_id=quotation.pk))


@router.get("/crm/opportunities/{opportunity_id}/quotations", response=list[SalesDocumentOut])
@requires("crm.view")
@paginate
def opportunity_quotations(request: HttpRequest, opportunity_id: int) -> Any:
    """The quotations made for the opportunity (revised versions left out), newest first."""
    opportunity = _opportunity(request, opportunity_id)
    return sales_selectors.opportunity_quotations(opportunity_id=opportunity.pk)


@router.get("/crm/opportunities/{opportunity_id}/orders", response=list[SalesDocumentOut])
@requires("crm.view")
@paginate
def opportunity_orders(request: HttpRequest, opportunity_id: int) -> Any:
    """The sales orders accepted from the opportunity's quotations, newest first."""
    opportunity = _opportunity(request, opportunity_id)
    return sales_selectors.opportunity_orders(opportunity_id=opportunity.pk)
