"""Writes of the sales pipeline: sales teams, stages and lost reasons; leads (entered by hand,
from a web form), their qualification into a party + contact + opportunity; opportunities moved
through the stages, won or lost; activities logged and done.

Every write service takes keyword arguments, names its `actor` in the audit trail, runs in one
transaction and raises django's `ValidationError({field: [messages]})` on bad input, or
`CrmError` (a ValidationError without field, with a `code`) when the record is in the wrong
state; either way it has changed nothing. Each step on an opportunity or an activity, and a
qualification, is written to the party's customer timeline through
`xietong.party.services.timeline_add`, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company, Currency, Membership, User
from xietong.crm.assignment import assignee_choose, lead_place, party_place, team_member_ids
from xietong.crm.campaign_selectors import campaign_for_code
from xietong.crm.models import (
    Activity,
    AssignmentStrategy,
    Lead,
    LostReason,
    Opportunity,
    PipelineStage,
    SalesTarget,
    SalesTeam,
)
from xietong.party.models import Contact, Country, Party, Region
from xietong.party.selectors import DuplicateCandidate, party_duplicates
from xietong.party.services import contact_create, party_create, timeline_add
from xietong.sales import selectors as sales_selectors
from xietong.sales import services as sales_services
from xietong.sales.events import OrderConfirmed

Errors = dict[str, list[str]]
HUNDRED = Decimal(100)


class CrmError(ValidationError):
    """A refusal that concerns no single field (a closed opportunity cannot move …)."""

    def __init__(self, message: str, code: str = "state") -> None:
        super().__init__(message, code=code)


class LeadDuplicates(ValidationError):
    """Qualifying would create a party that looks like existing ones: `candidates` says which
    and why. Reported on the field `party`: choose one of them, or ask for a new party."""

    def __init__(self, candidates: list[DuplicateCandidate]) -> None:
        self.candidates = candidates
        listing = "; ".join(c.describe() for c in candidates)
        super().__init__(
            {
                "party": [
                    _(
                        "Customers that look like this lead already exist: %(parties)s. Choose "
                        "one of them, or confirm that a new customer is to be created."
                    )
                    % {"parties": listing}
                ]
            }
        )


# --- helpers ------------------------------------------------------------------------------------


def _raise(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _text(value: Any, limit: int, field: str, errors: Errors, *, required: bool = False) -> str:
    text = " ".join(str(value or "").split()) if field != "description" else str(value or "")
    text = text.strip()
    if required and not text:
        _add(errors, field, _("This field is required."))
    elif len(text) > limit:
        _add(errors, field, _("Use at most %(n)s characters.") % {"n": limit})
    return text


def _email(value: Any, errors: Errors, field: str = "email") -> str:
    text = str(value or "").strip()
    if text:
        try:
            validate_email(text)
        except ValidationError:
            _add(errors, field, _("Enter a valid e-mail address."))
    return text


def _decimal(value: Any, field: str, errors: Errors, *, low: Decimal, high: Decimal | None = None
             ) -> Decimal | None:  # fmt: skip
    if value in (None, ""):
        return None
    if isinstance(value, float):
        _add(errors, field, _("Send decimal numbers as strings."))
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        _add(errors, field, _("Enter a number."))
        return None
    if not number.is_finite() or number < low or (high is not None and number > high):
        if high is None:
            _add(errors, field, _("Enter a number of at least %(low)s.") % {"low": low})
        else:
            _add(errors, field, _("Enter a number from %(low)s to %(high)s.")
                 % {"low": low, "high": high})  # fmt: skip
        return None
    if number.as_tuple().exponent < -4 or abs(number) >= Decimal(10) ** 15:  # type: ignore[operator]
        _add(errors, field, _("Enter a number with at most 15 digits and 4 decimals."))
        return None
    return number


def _member(company_id: int, value: Any, field: str, errors: Errors) -> User | None:
    """A user (instance or pk) with an active membership of the company, else a field error."""
    if value in (None, ""):
        return None
    pk = value.pk if isinstance(value, User) else value
    ok = Membership.unscoped.filter(company_id=company_id, user_id=pk, is_active=True).exists()
    user = User.objects.filter(pk=pk).first() if ok else None
    if user is None:
        _add(errors, field, _("Choose a user of your company."))
    return user


def _row(model: Any, company_id: int, value: Any, field: str, errors: Errors, label: str) -> Any:
    """A row of `model` (instance or pk) of the company, else a field error."""
    if value in (None, ""):
        return None
    pk = value.pk if hasattr(value, "pk") else value
    try:
        found = model.unscoped.filter(company_id=company_id, pk=pk).first()
    except (ValueError, TypeError):
        found = None
    if found is None:
        _add(errors, field, _("Choose a valid %(thing)s of your company.") % {"thing": label})
    return found


def _timeline(party: Party, summary: str, *, kind: str, actor: User | None, source: Any,
              url: str = "") -> None:  # fmt: skip
    timeline_add(party=party, kind=kind, summary=summary, actor=actor, source=source, url=url)


def _plain(value: Decimal) -> str:
    """A decimal for people: 589000, 12.5 (never 5.89E+5)."""
    return f"{value.normalize():f}"


def _opportunity_url(opportunity: Opportunity) -> str:
    return reverse("crm:opportunity_detail", args=[opportunity.pk])


# --- teams, stages, lost reasons ----------------------------------------------------------------

DEFAULT_STAGES = (
    # name, probability, won, lost; translated when the team is created
    ("New", 10, False, False),
    ("Qualified", 30, False, False),
    ("Proposal", 60, False, False),
    ("Negotiation", 80, False, False),
    ("Won", 100, True, False),
    ("Lost", 0, False, True),
)


def _stage_names() -> dict[str, str]:
    return {
        "New": _("New"),
        "Qualified": _("Qualified"),
        "Proposal": _("Proposal"),
        "Negotiation": _("Negotiation"),
        "Won": _("Won"),
        "Lost": _("Lost"),
    }


@audited
def team_create(
    *,
    company: Company,
    actor: User | None,
    name: str,
    manager: Any = None,
    members: Iterable[Any] = (),
    assignment: str = AssignmentStrategy.LEAST_LOADED,
    default_stages: bool = True,
) -> SalesTeam:
    """A sales team with its members (users of the company) and, unless `default_stages` is
    false, the usual stages New 10 %, Qualified 30 %, Proposal 60 %, Negotiation 80 %, Won,
    Lost. Raises ValidationError."""
    errors: Errors = {}
    name = _text(name, 80, "name", errors, required=True)
    if name and SalesTeam.unscoped.filter(company=company, name=name).exists():
        _add(errors, "name", _("Another sales team already has this name."))
    if assignment not in AssignmentStrategy.values:
        _add(errors, "assignment", _("Choose a valid assignment strategy."))
    boss = _member(company.pk, manager, "manager", errors)
    people = [_member(company.pk, m, "members", errors) for m in members]
    _raise(errors)
    with transaction.atomic():
        team = SalesTeam.unscoped.create(
            company=company, name=name, manager=boss, assignment=assignment
        )
        team.members.set([p for p in people if p is not None])
        if default_stages:
            labels = _stage_names()
            PipelineStage.unscoped.bulk_create(
                PipelineStage(company=company, team=team, name=labels[label], sequence=10 * i,
                              probability=Decimal(p), is_won=won, is_lost=lost)
                for i, (label, p, won, lost) in enumerate(DEFAULT_STAGES, start=1)
            )  # fmt: skip
    return team


@audited
def team_members_set(*, team: SalesTeam, actor: User | None, members: Iterable[Any]) -> SalesTeam:
    """Replace the team's members (users of the company). Raises ValidationError."""
    errors: Errors = {}
    people = [_member(team.company_id, m, "members", errors) for m in members]
    _raise(errors)
    team.members.set([p for p in people if p is not None])
    return team


@audited
def stage_create(
    *,
    team: SalesTeam,
    actor: User | None,
    name: str,
    sequence: int = 10,
    probability: Any = 0,
    is_won: bool = False,
    is_lost: bool = False,
) -> PipelineStage:
    """Add a stage to the team's pipeline. Raises ValidationError."""
    errors: Errors = {}
    name = _text(name, 60, "name", errors, required=True)
    if name and PipelineStage.unscoped.filter(team=team, name=name).exists():
        _add(errors, "name", _("The team already has a stage of this name."))
    chance = _decimal(probability, "probability", errors, low=Decimal(0), high=HUNDRED)
    if is_won and is_lost:
        _add(errors, "is_lost", _("A stage is won or lost, not both."))
    _raise(errors)
    return PipelineStage.unscoped.create(
        company_id=team.company_id, team=team, name=name, sequence=sequence,
        probability=chance or Decimal(0), is_won=is_won, is_lost=is_lost,
    )  # fmt: skip


@audited
def lost_reason_create(*, company: Company, actor: User | None, name: str) -> LostReason:
    errors: Errors = {}
    name = _text(name, 80, "name", errors, required=True)
    if name and LostReason.unscoped.filter(company=company, name=name).exists():
        _add(errors, "name", _("This lost reason exists already."))
    _raise(errors)
    return LostReason.unscoped.create(company=company, name=name)


@audited
def target_set(
    *,
    team: SalesTeam,
    actor: User | None,
    period_start: dt.date,
    period_end: dt.date,
    amount: Any,
    user: Any = None,
) -> SalesTarget:
    """Set what `team` (or `user`, one of its members or its manager) is to win from
    `period_start` to `period_end`, in the company currency: the target of the same team, user
    and start is replaced. Raises ValidationError."""
    errors: Errors = {}
    seller = _member(team.company_id, user, "user", errors)
    if seller is not None and seller.pk not in team_member_ids(team):
        _add(errors, "user", _("Choose a member of the team."))
    value = _decimal(amount, "amount", errors, low=Decimal(0))
    if amount in (None, "") and "amount" not in errors:
        _add(errors, "amount", _("This field is required."))
    if not isinstance(period_start, dt.date) or not isinstance(period_end, dt.date):
        _add(errors, "period_start", _("Enter valid dates."))
    elif period_end < period_start:
        _add(errors, "period_end", _("The period ends after it starts."))
    _raise(errors)
    with transaction.atomic():
        SalesTeam.unscoped.select_for_update().get(pk=team.pk)  # one writer per team
        target, _created = SalesTarget.unscoped.update_or_create(
            company_id=team.company_id, team=team, user=seller, period_start=period_start,
            defaults={"period_end": period_end, "amount": value},
        )  # fmt: skip
    return target


def _first_stage(team: SalesTeam) -> PipelineStage | None:
    return (
        PipelineStage.unscoped.filter(team=team, is_won=False, is_lost=False)
        .order_by("sequence", "pk")
        .first()
    )


# --- leads --------------------------------------------------------------------------------------

LEAD_FIELDS = {"company_name", "email", "phone", "source", "campaign", "description", "team",
               "owner", "country", "region"}  # fmt: skip


def _place(lead: Lead, country: Any, region: Any, errors: Errors) -> None:
    """The lead's country (instance or ISO code) and region (instance or pk, of that country;
    the country defaults to the region's)."""
    code = country.pk if isinstance(country, Country) else str(country or "").strip().upper()
    found = country if isinstance(country, Country) else (
        Country.objects.filter(pk=code).first() if code else None)  # fmt: skip
    if code and found is None:
        _add(errors, "country", _("Choose a valid country."))
    area = region if isinstance(region, Region) else None
    if region not in (None, "") and area is None:
        try:
            area = Region.objects.filter(pk=region).first()
        except (ValueError, TypeError):
            area = None
        if area is None:
            _add(errors, "region", _("Choose a valid region."))
    if area is not None and found is not None and area.country_id != found.pk:
        _add(errors, "region", _("Choose a region of the country."))
    lead.country_id = found.pk if found else (area.country_id if area else None)
    lead.region = area


def _lead_apply(lead: Lead, name: str, fields: Mapping[str, Any], errors: Errors) -> None:
    company_id = lead.company_id
    for field in fields:
        if field not in LEAD_FIELDS:
            _add(errors, field, _("This field cannot be set here."))
    lead.name = _text(name, 120, "name", errors, required=True)
    lead.company_name = _text(fields.get("company_name"), 200, "company_name", errors)
    lead.email = _email(fields.get("email"), errors)
    lead.phone = _text(fields.get("phone"), 40, "phone", errors)
    lead.campaign = _text(fields.get("campaign"), 120, "campaign", errors)
    lead.marketing_campaign_id = campaign_for_code(company_id, lead.campaign)
    lead.description = _text(fields.get("description"), 10_000, "description", errors)
    source = fields.get("source") or Lead.Source.MANUAL
    if source not in Lead.Source.values:
        _add(errors, "source", _("Choose a valid source."))
    lead.source = source
    lead.team = _row(SalesTeam, company_id, fields.get("team"), "team", errors, _("sales team"))
    lead.owner = _member(company_id, fields.get("owner"), "owner", errors)
    _place(lead, fields.get("country"), fields.get("region"), errors)


@audited
def lead_create(
    *, company: Company, actor: User | None, name: str, assign: bool = False, **fields: Any
) -> Lead:
    """Enter a lead (`fields`: LEAD_FIELDS; `source` defaults to manual). With `assign` and a
    team but no owner, the team's dispatch strategy picks the owner (see `lead_assign`).
    Raises ValidationError."""
    errors: Errors = {}
    lead = Lead(company=company)
    _lead_apply(lead, name, fields, errors)
    if not (lead.email or lead.phone or lead.company_name):
        _add(errors, "email", _("Give an e-mail address, a phone number or a company name."))
    _raise(errors)
    with transaction.atomic():
        lead.save()
        if assign and lead.team_id and lead.owner_id is None:
            _lead_assign(lead)
    return lead


WEB_FORM_KEYS = {
    "name": ("name", "contact_name", "your-name", "full_name"),
    "company_name": ("company", "company_name", "organisation", "organization"),
    "email": ("email", "e-mail", "your-email"),
    "phone": ("phone", "tel", "telephone", "mobile"),
    "campaign": ("campaign", "utm_campaign"),
    "description": ("message", "description", "comment", "body"),
}


@audited
def lead_create_from_web_form(
    *, company: Company, actor: User | None, payload: Mapping[str, Any], team: Any = None
) -> Lead:
    """A lead from a website's contact form: the usual field names of such forms (`name`,
    `company`, `email`, `phone`, `message`, `utm_campaign` …, see WEB_FORM_KEYS) are read,
    anything else is kept in the description; source "web form"; assigned by the team's
    strategy when a team is given. Raises ValidationError (on the form's own field names where
    it can)."""
    values: dict[str, str] = {}
    used: set[str] = set()
    for field, keys in WEB_FORM_KEYS.items():
        for key in keys:
            if str(payload.get(key) or "").strip():
                values[field] = str(payload[key]).strip()
                used.add(key)
                break
    extra = [f"{k}: {v}" for k, v in payload.items() if k not in used and str(v or "").strip()]
    if extra:
        values["description"] = "\n".join(filter(None, [values.get("description", ""), *extra]))
    name = values.pop("name", "") or values.get("company_name", "") or values.get("email", "")
    return lead_create(
        company=company, actor=actor, name=name, source=Lead.Source.WEB_FORM, team=team,
        assign=True, **values,
    )  # fmt: skip


def _lead_assign(lead: Lead) -> str:
    assert lead.team is not None
    decision = assignee_choose(team=lead.team, place=lambda: lead_place(lead))
    if decision.user_id is not None:
        lead.owner_id = decision.user_id
        lead.save(update_fields=["owner", "updated_at"])
    return decision.reason


@audited
def lead_assign(*, lead: Lead, actor: User | None, team: Any = None) -> str:
    """Give the lead an owner by its team's (or `team`'s) dispatch strategy; returns the
    dispatch's reason. Raises CrmError when the lead has no team or is closed."""
    errors: Errors = {}
    if team is not None:
        lead.team = _row(SalesTeam, lead.company_id, team, "team", errors, _("sales team"))
    _raise(errors)
    if lead.team is None:
        raise CrmError(_("Choose a sales team first."), code="team")
    if lead.state != Lead.State.NEW:
        raise CrmError(_("Only a new lead can be assigned."))
    with transaction.atomic():
        lead.save(update_fields=["team", "updated_at"])
        return _lead_assign(lead)


def lead_duplicates(lead: Lead) -> list[DuplicateCandidate]:
    """Parties that look like the lead's company (or person): the same normalised name or
    e-mail address (of the party or one of its contacts)."""
    return party_duplicates(lead.company_id, name=lead.company_name or lead.name,
                            email=lead.email)  # fmt: skip


@audited
def lead_disqualify(*, lead: Lead, actor: User | None, reason: str = "") -> Lead:
    if lead.state != Lead.State.NEW:
        raise CrmError(_("Only a new lead can be disqualified."))
    errors: Errors = {}
    lead.disqualify_reason = _text(reason, 200, "reason", errors)
    _raise(errors)
    lead.state = Lead.State.DISQUALIFIED
    lead.save(update_fields=["state", "disqualify_reason", "updated_at"])
    return lead


@audited
def lead_qualify(
    *,
    lead: Lead,
    actor: User | None,
    party: Any = None,
    create_party: bool = False,
    team: Any = None,
    owner: Any = None,
    name: str = "",
    expected_revenue: Any = None,
    close_date: dt.date | None = None,
) -> Opportunity:
    """Turn a new lead into an opportunity of a customer.

    The customer is `party` (an existing one, e.g. picked from the duplicates), else a new
    party made from the lead (organisation when it names a company, else a person). Unless
    `create_party` is true, a lead that looks like existing parties (`lead_duplicates`: same
    normalised name or e-mail) raises `LeadDuplicates` with the candidates, changing nothing.
    The lead's person becomes a contact of the party (an existing contact with the same e-mail
    is reused). The opportunity goes to `team` (default: the lead's) in its first open stage,
    owned by `owner` (default: the lead's owner, else the team's dispatch strategy).

    Locks the lead row. Raises ValidationError, CrmError (lead not new), LeadDuplicates.
    Writes "crm.lead" and "crm.opportunity" timeline entries.
    """
    errors: Errors = {}
    company = lead.company
    customer = _row(Party, company.pk, party, "party", errors, _("customer"))
    if customer is not None and customer.merged_into_id:
        customer = Party.unscoped.get(pk=customer.merged_into_id)
    sales_team = _row(SalesTeam, company.pk, team, "team", errors, _("sales team")) or lead.team
    if sales_team is None and "team" not in errors:
        _add(errors, "team", _("Choose the sales team of the opportunity."))
    seller = _member(company.pk, owner, "owner", errors)
    _raise(errors)
    if customer is None and not create_party:
        candidates = lead_duplicates(lead)
        if candidates:
            raise LeadDuplicates(candidates)
    with transaction.atomic():
        locked = Lead.unscoped.select_for_update().get(pk=lead.pk)
        if locked.state != Lead.State.NEW:
            raise CrmError(_("This lead has been qualified or disqualified already."))
        if customer is None:
            customer = party_create(
                company=company, actor=actor, name=lead.company_name or lead.name,
                kind=Party.Kind.ORGANISATION if lead.company_name else Party.Kind.PERSON,
                is_customer=True, email=lead.email, phone=lead.phone,
                salesperson=seller or lead.owner, allow_duplicate=True,
            )  # fmt: skip
        elif not customer.is_customer:
            Party.unscoped.filter(pk=customer.pk).update(is_customer=True)
            customer.is_customer = True
        contact = None
        if lead.company_name:  # the lead's person works for the customer
            existing = Contact.unscoped.filter(party=customer, active=True)
            contact = (
                existing.filter(email__iexact=lead.email).first() if lead.email else None
            ) or existing.filter(name=lead.name).first()
            if contact is None:
                contact = contact_create(party=customer, actor=actor, name=lead.name,
                                         email=lead.email, phone=lead.phone)  # fmt: skip
        opportunity = opportunity_create(
            company=company, actor=actor, party=customer, contact=contact, team=sales_team,
            owner=seller or lead.owner, lead=lead, expected_revenue=expected_revenue,
            close_date=close_date,
            name=name or lead.company_name or lead.name,
        )  # fmt: skip
        lead.state = Lead.State.QUALIFIED
        lead.party = customer
        lead.qualified_at = timezone.now()
        lead.save(update_fields=["state", "party", "qualified_at", "updated_at"])
        _timeline(customer, _("Lead qualified: %(lead)s (%(source)s)")
                  % {"lead": str(lead), "source": lead.get_source_display()},
                  kind="crm.lead", actor=actor, source=lead)  # fmt: skip
    return opportunity


# --- opportunities ------------------------------------------------------------------------------


@audited
def opportunity_create(
    *,
    company: Company,
    actor: User | None,
    party: Any,
    name: str,
    team: Any,
    stage: Any = None,
    owner: Any = None,
    contact: Any = None,
    lead: Any = None,
    expected_revenue: Any = None,
    currency: Any = None,
    probability: Any = None,
    close_date: dt.date | None = None,
) -> Opportunity:
    """An open opportunity of `party` in `team`'s pipeline, at `stage` (default: the first open
    stage). Its probability is the stage's unless `probability` is given (then it is marked as
    set by hand). With no `owner`, the team's dispatch strategy chooses one. The currency
    defaults to the party's. Raises ValidationError. Writes a "crm.opportunity" timeline
    entry."""
    errors: Errors = {}
    customer = _row(Party, company.pk, party, "party", errors, _("customer"))
    sales_team = _row(SalesTeam, company.pk, team, "team", errors, _("sales team"))
    if team in (None, "") and "team" not in errors:
        _add(errors, "team", _("This field is required."))
    if party in (None, "") and "party" not in errors:
        _add(errors, "party", _("This field is required."))
    column = _row(PipelineStage, company.pk, stage, "stage", errors, _("stage"))
    if column is None and sales_team is not None and "stage" not in errors:
        column = _first_stage(sales_team)
        if column is None:
            _add(errors, "team", _("The team has no open pipeline stage."))
    if column is not None and sales_team is not None:
        if column.team_id != sales_team.pk:
            _add(errors, "stage", _("Choose a stage of the opportunity's team."))
        elif column.is_won or column.is_lost:
            _add(errors, "stage", _("A new opportunity starts in an open stage."))
    seller = _member(company.pk, owner, "owner", errors)
    person = _row(Contact, company.pk, contact, "contact", errors, _("contact"))
    if person is not None and customer is not None and person.party_id != customer.pk:
        _add(errors, "contact", _("Choose a contact of the customer."))
    origin = _row(Lead, company.pk, lead, "lead", errors, _("lead"))
    revenue = _decimal(expected_revenue, "expected_revenue", errors, low=Decimal(0))
    chance = _decimal(probability, "probability", errors, low=Decimal(0), high=HUNDRED)
    code = currency.code if isinstance(currency, Currency) else str(currency or "").upper()
    money = None
    if code:
        money = Currency.objects.filter(code=code, active=True).first()
        if money is None:
            _add(errors, "currency", _("Choose an active currency."))
    if close_date is not None and not isinstance(close_date, dt.date):
        _add(errors, "close_date", _("Enter a valid date."))
    opportunity = Opportunity(company=company)
    opportunity.name = _text(name, 200, "name", errors, required=True)
    _raise(errors)
    assert customer is not None and sales_team is not None and column is not None
    opportunity.party = customer
    opportunity.contact = person
    opportunity.team = sales_team
    opportunity.stage = column
    opportunity.owner = seller
    opportunity.lead = origin
    opportunity.expected_revenue = revenue or Decimal(0)
    opportunity.currency_id = money.code if money else customer.currency_id
    opportunity.probability = column.probability if chance is None else chance
    opportunity.probability_overridden = chance is not None
    opportunity.close_date = close_date
    with transaction.atomic():
        reason = ""
        if seller is None:
            decision = assignee_choose(team=sales_team, place=lambda: party_place(customer))
            opportunity.owner_id = decision.user_id
            reason = decision.reason
        opportunity.save()
        opportunity.assignment_reason = reason  # type: ignore[attr-defined]
        _timeline(customer, _("Opportunity %(name)s opened in %(stage)s (%(amount)s %(currency)s)")
                  % {"name": opportunity.name, "stage": column.name,
                     "amount": _plain(opportunity.expected_revenue),
                     "currency": opportunity.currency_id},
                  kind="crm.opportunity", actor=actor, source=opportunity,
                  url=_opportunity_url(opportunity))  # fmt: skip
    return opportunity


def _locked_open(opportunity: Opportunity) -> Opportunity:
    locked = Opportunity.unscoped.select_for_update().get(pk=opportunity.pk)
    if locked.state != Opportunity.State.OPEN:
        raise CrmError(_("This opportunity is closed (won or lost)."))
    return locked


def _sync(target: Opportunity, source: Opportunity) -> None:
    for field in Opportunity._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


@audited
def opportunity_move(
    *, opportunity: Opportunity, actor: User | None, stage: Any, probability: Any = None
) -> Opportunity:
    """Move an open opportunity to another stage of its team. Its probability becomes the
    stage's, or `probability` when given (then marked as set by hand). A won stage wins it; a
    lost stage is refused (losing needs a reason: `opportunity_lose`). Locks the opportunity.
    Raises ValidationError, CrmError (closed). Writes a timeline entry."""
    errors: Errors = {}
    column = _row(PipelineStage, opportunity.company_id, stage, "stage", errors, _("stage"))
    if stage in (None, "") and "stage" not in errors:
        _add(errors, "stage", _("This field is required."))
    if column is not None and column.team_id != opportunity.team_id:
        _add(errors, "stage", _("Choose a stage of the opportunity's team."))
    elif column is not None and column.is_lost:
        _add(errors, "stage", _("Mark the opportunity as lost, with its reason."))
    chance = _decimal(probability, "probability", errors, low=Decimal(0), high=HUNDRED)
    _raise(errors)
    assert column is not None
    if column.is_won:
        return opportunity_win(opportunity=opportunity, actor=actor)
    with transaction.atomic():
        locked = _locked_open(opportunity)
        before = locked.stage.name
        locked.stage = column
        locked.probability = column.probability if chance is None else chance
        locked.probability_overridden = chance is not None
        locked.save(update_fields=["stage", "probability", "probability_overridden",
                                   "updated_at"])  # fmt: skip
        _timeline(locked.party, _("Opportunity %(name)s moved from %(old)s to %(new)s (%(p)s %%)")
                  % {"name": locked.name, "old": before, "new": column.name,
                     "p": _plain(locked.probability)},
                  kind="crm.opportunity", actor=actor, source=locked,
                  url=_opportunity_url(locked))  # fmt: skip
    _sync(opportunity, locked)
    return opportunity


@audited
def opportunity_probability_set(
    *, opportunity: Opportunity, actor: User | None, probability: Any
) -> Opportunity:
    """Override the probability of an open opportunity (None or "": back to the stage's)."""
    errors: Errors = {}
    chance = _decimal(probability, "probability", errors, low=Decimal(0), high=HUNDRED)
    _raise(errors)
    with transaction.atomic():
        locked = _locked_open(opportunity)
        locked.probability = locked.stage.probability if chance is None else chance
        locked.probability_overridden = chance is not None
        locked.save(update_fields=["probability", "probability_overridden", "updated_at"])
    _sync(opportunity, locked)
    return opportunity


@audited
def opportunity_win(*, opportunity: Opportunity, actor: User | None,
                    expected_revenue: Decimal | None = None) -> Opportunity:  # fmt: skip
    """Mark an open opportunity won: probability 100 %, in its team's won stage if it has one;
    `expected_revenue`, when given, becomes its revenue (what the order brought). Locks it.
    Raises CrmError (closed). Writes a timeline entry."""
    with transaction.atomic():
        locked = _locked_open(opportunity)
        if expected_revenue is not None and expected_revenue >= 0:
            locked.expected_revenue = expected_revenue
        won = (
            PipelineStage.unscoped.filter(team_id=locked.team_id, is_won=True)
            .order_by("sequence", "pk")
            .first()
        )
        if won is not None:
            locked.stage = won
        locked.state = Opportunity.State.WON
        locked.probability = HUNDRED
        locked.closed_at = timezone.now()
        locked.save()
        _timeline(locked.party, _("Opportunity %(name)s won (%(amount)s %(currency)s)")
                  % {"name": locked.name, "amount": _plain(locked.expected_revenue),
                     "currency": locked.currency_id},
                  kind="crm.opportunity", actor=actor, source=locked,
                  url=_opportunity_url(locked))  # fmt: skip
    _sync(opportunity, locked)
    return opportunity


@audited
def opportunity_lose(
    *, opportunity: Opportunity, actor: User | None, reason: Any, note: str = ""
) -> Opportunity:
    """Mark an open opportunity lost for `reason` (a LostReason of the company, required):
    probability 0 %, in its team's lost stage if it has one. Locks it. Raises ValidationError
    (no or bad reason), CrmError (closed). Writes a timeline entry."""
    errors: Errors = {}
    why = _row(LostReason, opportunity.company_id, reason, "lost_reason", errors,
               _("lost reason"))  # fmt: skip
    if reason in (None, "") and "lost_reason" not in errors:
        _add(errors, "lost_reason", _("Say why the opportunity was lost."))
    remark = _text(note, 255, "note", errors)
    _raise(errors)
    with transaction.atomic():
        locked = _locked_open(opportunity)
        lost = (
            PipelineStage.unscoped.filter(team_id=locked.team_id, is_lost=True)
            .order_by("sequence", "pk")
            .first()
        )
        if lost is not None:
            locked.stage = lost
        locked.state = Opportunity.State.LOST
        locked.probability = Decimal(0)
        locked.lost_reason = why
        locked.lost_note = remark
        locked.closed_at = timezone.now()
        locked.save()
        _timeline(locked.party, _("Opportunity %(name)s lost: %(reason)s")
                  % {"name": locked.name, "reason": why},
                  kind="crm.opportunity", actor=actor, source=locked,
                  url=_opportunity_url(locked))  # fmt: skip
    _sync(opportunity, locked)
    return opportunity


@audited
def opportunity_assign(*, opportunity: Opportunity, actor: User | None,
                       strategy: str | None = None) -> str:  # fmt: skip
    """Give an open opportunity a new owner chosen by the team's (or `strategy`'s) dispatch
    strategy; returns the dispatch's reason. Raises CrmError (closed)."""
    if strategy is not None and strategy not in AssignmentStrategy.values:
        raise ValidationError({"strategy": [_("Choose a valid assignment strategy.")]})
    with transaction.atomic():
        locked = _locked_open(opportunity)
        decision = assignee_choose(team=locked.team, strategy=strategy,
                                   place=lambda: party_place(locked.party_id))  # fmt: skip
        if decision.user_id is not None:
            locked.owner_id = decision.user_id
            locked.save(update_fields=["owner", "updated_at"])
    _sync(opportunity, locked)
    return decision.reason


# --- activities ---------------------------------------------------------------------------------


@audited
def activity_create(
    *,
    company: Company,
    actor: User | None,
    subject: str,
    kind: str = Activity.Kind.CALL,
    lead: Any = None,
    opportunity: Any = None,
    due_date: dt.date | None = None,
    due_at: dt.datetime | None = None,
    owner: Any = None,
    note: str = "",
    done: bool = False,
) -> Activity:
    """Plan (or, with `done`, log) a call, meeting, e-mail or task on a lead or an opportunity
    (exactly one). The owner defaults to the actor. Raises ValidationError. On an opportunity,
    writes an "activity" timeline entry of its party."""
    errors: Errors = {}
    on_lead = _row(Lead, company.pk, lead, "lead", errors, _("lead"))
    on_opportunity = _row(Opportunity, company.pk, opportunity, "opportunity", errors,
                          _("opportunity"))  # fmt: skip
    if (lead in (None, "")) == (opportunity in (None, "")) and not errors:
        _add(errors, "opportunity", _("Give a lead or an opportunity (one of them)."))
    if kind not in Activity.Kind.values:
        _add(errors, "kind", _("Choose a valid kind."))
    if due_at is not None and (not isinstance(due_at, dt.datetime) or timezone.is_naive(due_at)):
        _add(errors, "due_at", _("Give a date and time with its time zone."))
    if due_date is not None and (not isinstance(due_date, dt.date)
                                 or isinstance(due_date, dt.datetime)):  # fmt: skip
        _add(errors, "due_date", _("Enter a valid date."))
    if owner in (None, "") and actor is not None and actor.is_authenticated:
        owner = actor
    person = _member(company.pk, owner, "owner", errors)
    activity = Activity(company=company, kind=kind, lead=on_lead, opportunity=on_opportunity,
                        owner=person)  # fmt: skip
    activity.subject = _text(subject, 200, "subject", errors, required=True)
    activity.note = str(note or "").strip()
    activity.due_at = due_at
    _raise(errors)
    activity.due_date = due_date or (timezone.localdate(due_at) if due_at else None)
    with transaction.atomic():
        if done:
            activity.done = True
            activity.done_at = timezone.now()
        activity.save()
        if on_opportunity is not None:
            _activity_timeline(activity, on_opportunity, actor, planned=not done)
    return activity


def _activity_timeline(activity: Activity, opportunity: Opportunity, actor: User | None, *,
                       planned: bool) -> None:  # fmt: skip
    values = {"kind": activity.get_kind_display(), "subject": activity.subject,
              "name": opportunity.name,
              "due": activity.due_date.isoformat() if activity.due_date else "–"}  # fmt: skip
    if planned:
        summary = _("%(kind)s planned for %(due)s: %(subject)s (%(name)s)") % values
    else:
        summary = _("%(kind)s done: %(subject)s (%(name)s)") % values
    _timeline(opportunity.party, summary, kind="activity", actor=actor, source=activity,
              url=_opportunity_url(opportunity))  # fmt: skip


@audited
def activity_done(*, activity: Activity, actor: User | None, note: str = "") -> Activity:
    """Mark an activity done (with an optional note added). Raises CrmError when it is done
    already. On an opportunity, writes an "activity" timeline entry."""
    with transaction.atomic():
        locked = Activity.unscoped.select_for_update().get(pk=activity.pk)
        if locked.done:
            raise CrmError(_("This activity is done already."))
        locked.done = True
        locked.done_at = timezone.now()
        if str(note or "").strip():
            locked.note = "\n".join(filter(None, [locked.note, str(note).strip()]))
        locked.save(update_fields=["done", "done_at", "note"])
        if locked.opportunity_id:
            opportunity = Opportunity.unscoped.select_related("party").get(pk=locked.opportunity_id)
            _activity_timeline(locked, opportunity, actor, planned=False)
    for field in ("done", "done_at", "note"):
        setattr(activity, field, getattr(locked, field))
    return activity


# --- quotations of an opportunity (sales) -------------------------------------------------------


@audited
def opportunity_quotation_create(
    *, opportunity: Opportunity, actor: User | None, lines: Sequence[Mapping[str, Any]],
    **fields: Any,
) -> Any:  # fmt: skip
    """A draft quotation for the opportunity's customer, made by sales' `quotation_create`
    (`lines`, at least one, and the header `fields` as there) and linked to the opportunity;
    its contact and salesperson default to the opportunity's contact and owner (else the
    actor). An open opportunity without expected revenue takes the quotation's untaxed total
    (in the same currency). A lost opportunity gets no quotation (CrmError). Raises what
    `quotation_create` raises (SalesError per field, `lines.N.field`); then nothing is
    written. Locks the opportunity when its revenue follows."""
    if opportunity.state == Opportunity.State.LOST:
        raise CrmError(_("This opportunity is lost: it gets no quotation."))
    fields.setdefault("contact", opportunity.contact)
    fields.setdefault("salesperson", opportunity.owner or actor)
    with transaction.atomic():
        quotation = sales_services.quotation_create(
            company=opportunity.company, actor=actor, party=opportunity.party, lines=lines,
            **fields,
        )  # fmt: skip
        quotation.opportunity_id = opportunity.pk
        quotation.save(update_fields=["opportunity_id"])
        if (opportunity.state == Opportunity.State.OPEN and not opportunity.expected_revenue
                and quotation.currency_id == opportunity.currency_id):  # fmt: skip
            locked = Opportunity.unscoped.select_for_update().get(pk=opportunity.pk)
            if locked.state == Opportunity.State.OPEN and not locked.expected_revenue:
                locked.expected_revenue = quotation.amount_untaxed
                locked.save(update_fields=["expected_revenue", "updated_at"])
                _sync(opportunity, locked)
    return quotation


def order_confirmed(event: OrderConfirmed) -> None:
    """Sales confirmed an order (core's bus, after commit): the order is the sale, so the open
    opportunity its quotation was made for is won at once (no "mark won" needed), with the
    untaxed total of the opportunity's confirmed orders as its revenue when they are all in the
    opportunity's currency. An opportunity closed meanwhile stays as it is."""
    opportunity_id = sales_selectors.quotation_opportunity_id(quotation_id=event.quotation_id)
    if opportunity_id is None:
        return
    opportunity = Opportunity.unscoped.filter(pk=opportunity_id,
                                              company_id=event.company_id).first()  # fmt: skip
    if opportunity is None or opportunity.state != Opportunity.State.OPEN:
        return
    actor = User.objects.filter(pk=event.actor_id).first() if event.actor_id else None
    amounts = sales_selectors.opportunity_won_amount(opportunity_id=opportunity.pk,
                                                     company_id=opportunity.company_id)  # fmt: skip
    revenue = amounts.get(opportunity.currency_id) if len(amounts) == 1 else None
    try:
        opportunity_win(opportunity=opportunity, actor=actor, expected_revenue=revenue)
    except CrmError:  # won or lost by someone else since
        return


# --- teams (screens) ----------------------------------------------------------------------------


@audited
def team_update(
    *,
    team: SalesTeam,
    actor: User | None,
    name: str,
    manager: Any,
    assignment: str,
    members: Iterable[Any],
    active: bool = True,
) -> SalesTeam:
    """Change a team's name, manager (its leader), assignment strategy, members (replaced) and
    whether it is active. Locks the team. Raises ValidationError (nothing changed)."""
    errors: Errors = {}
    name = _text(name, 80, "name", errors, required=True)
    if name and SalesTeam.unscoped.filter(company_id=team.company_id, name=name).exclude(
            pk=team.pk).exists():  # fmt: skip
        _add(errors, "name", _("Another sales team already has this name."))
    if assignment not in AssignmentStrategy.values:
        _add(errors, "assignment", _("Choose a valid assignment strategy."))
    boss = _member(team.company_id, manager, "manager", errors)
    people = [_member(team.company_id, m, "members", errors) for m in members]
    _raise(errors)
    with transaction.atomic():
        locked = SalesTeam.unscoped.select_for_update().get(pk=team.pk)
        locked.name, locked.manager, locked.assignment = name, boss, assignment
        locked.active = bool(active)
        locked.save()
        locked.members.set([p for p in people if p is not None])
    for field in ("name", "manager_id", "assignment", "active"):
        setattr(team, field, getattr(locked, field))
    return team


__all__ = [
    "CrmError",
    "LeadDuplicates",
    "activity_create",
    "activity_done",
    "lead_assign",
    "lead_create",
    "lead_create_from_web_form",
    "lead_disqualify",
    "lead_duplicates",
    "lead_qualify",
    "lost_reason_create",
    "opportunity_assign",
    "opportunity_create",
    "opportunity_lose",
    "opportunity_move",
    "opportunity_probability_set",
    "opportunity_win",
    "stage_create",
    "target_set",
    "opportunity_quotation_create",
    "order_confirmed",
    "team_create",
    "team_members_set",
    "team_update",
]
