"""Writes and reads of lead intake's settings: the sales territories of the teams (which
countries and regions, covered by which members) and the sales mailboxes whose mail becomes
leads. Each write takes keyword arguments, runs in one transaction, is audited and raises
django's `ValidationError({field: [messages]})` on bad input, having changed nothing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company, User
from xietong.crm.assignment import team_member_ids
from xietong.crm.models import Campaign, LeadMailbox, SalesTeam, Territory
from xietong.party.models import Country, Region

Errors = dict[str, list[str]]


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _pk(value: Any) -> Any:
    return value.pk if hasattr(value, "pk") else value


def _team(company_id: int, value: Any, errors: Errors) -> SalesTeam | None:
    if value in (None, ""):
        _add(errors, "team", _("This field is required."))
        return None
    try:
        team = SalesTeam.unscoped.filter(company_id=company_id, pk=_pk(value)).first()
    except (ValueError, TypeError):
        team = None
    if team is None:
        _add(errors, "team", _("Choose a valid sales team of your company."))
    return team


def _territory_values(company_id: int, *, name: str, team: Any, countries: Iterable[Any],
                      regions: Iterable[Any], members: Iterable[Any], exclude: int | None,
                      ) -> tuple[str, SalesTeam | None, list[Country], list[Region], list[int]]:  # fmt: skip
    errors: Errors = {}
    name = " ".join(str(name or "").split())
    if not name:
        _add(errors, "name", _("This field is required."))
    elif len(name) > 80:
        _add(errors, "name", _("Use at most %(n)s characters.") % {"n": 80})
    elif (Territory.unscoped.filter(company_id=company_id, name=name)
          .exclude(pk=exclude).exists()):  # fmt: skip
        _add(errors, "name", _("Another territory already has this name."))
    sales_team = _team(company_id, team, errors)
    codes = {str(_pk(c)).upper() for c in countries if _pk(c)}
    found_countries = list(Country.objects.filter(pk__in=codes))
    if len(found_countries) != len(codes):
        _add(errors, "countries", _("Choose valid countries."))
    region_ids = set()
    for region in regions:
        try:
            region_ids.add(int(_pk(region)))
        except (TypeError, ValueError):
            _add(errors, "regions", _("Choose valid regions."))
    found_regions = list(Region.objects.filter(pk__in=region_ids))
    if len(found_regions) != len(region_ids) and "regions" not in errors:
        _add(errors, "regions", _("Choose valid regions."))
    if not found_countries and not found_regions and "countries" not in errors:
        _add(errors, "countries", _("Name at least one country or region."))
    people: list[int] = []
    for member in members:
        try:
            people.append(int(_pk(member)))
        except (TypeError, ValueError):
            _add(errors, "members", _("Choose members of the team."))
    if sales_team is not None and set(people) - set(team_member_ids(sales_team)):
        _add(errors, "members", _("Choose members of the team."))
    if errors:
        raise ValidationError(errors)
    return name, sales_team, found_countries, found_regions, people


@audited
def territory_create(*, company: Company, actor: User | None, name: str, team: Any,
                     countries: Iterable[Any] = (), regions: Iterable[Any] = (),
                     members: Iterable[Any] = (), active: bool = True) -> Territory:  # fmt: skip
    """A territory of `team`: countries (instances or ISO codes) and regions (instances or
    pks; a region covers its sub-regions), covered by `members` (members or the manager of the
    team). Raises ValidationError."""
    name, sales_team, found_countries, found_regions, people = _territory_values(
        company.pk, name=name, team=team, countries=countries, regions=regions,
        members=members, exclude=None)  # fmt: skip
    with transaction.atomic():
        territory = Territory.unscoped.create(company=company, name=name, team=sales_team,
                                              active=active)  # fmt: skip
        territory.countries.set(found_countries)
        territory.regions.set(found_regions)
        territory.members.set(people)
    return territory


@audited
def territory_update(*, territory: Territory, actor: User | None, name: str, team: Any,
                     countries: Iterable[Any] = (), regions: Iterable[Any] = (),
                     members: Iterable[Any] = (), active: bool = True) -> Territory:  # fmt: skip
    """Change every setting of a territory (as `territory_create`). Raises ValidationError."""
    name, sales_team, found_countries, found_regions, people = _territory_values(
        territory.company_id, name=name, team=team, countries=countries, regions=regions,
        members=members, exclude=territory.pk)  # fmt: skip
    assert sales_team is not None
    with transaction.atomic():
        territory.name, territory.team, territory.active = name, sales_team, active
        territory.save(update_fields=["name", "team", "active"])
        territory.countries.set(found_countries)
        territory.regions.set(found_regions)
        territory.members.set(people)
    return territory


def territories() -> QuerySet[Territory]:
    """The active company's territories with their team, countries, regions and members."""
    return Territory.objects.select_related("team").prefetch_related(
        "countries", "regions", "members"
    )


# --- sales mailboxes ----------------------------------------------------------------------------


def _mailbox_values(company_id: int, *, address: str, team: Any, campaign: Any,
                    exclude: int | None) -> tuple[str, SalesTeam | None, Campaign | None]:  # fmt: skip
    errors: Errors = {}
    address = str(address or "").strip().lower()
    if not address:
        _add(errors, "address", _("This field is required."))
    else:
        try:
            validate_email(address)
        except ValidationError:
            _add(errors, "address", _("Enter a valid e-mail address."))
        if "+" in address.split("@")[0]:
            _add(errors, "address", _("Give the address without a plus-tag."))
        elif (LeadMailbox.unscoped.filter(company_id=company_id, address=address)
              .exclude(pk=exclude).exists()):  # fmt: skip
            _add(errors, "address", _("This address is a sales mailbox already."))
    sales_team = _team(company_id, team, errors)
    found = None
    if campaign not in (None, ""):
        try:
            found = Campaign.unscoped.filter(company_id=company_id, pk=_pk(campaign)).first()
        except (ValueError, TypeError):
            found = None
        if found is None:
            _add(errors, "campaign", _("Choose a valid campaign of your company."))
    if errors:
        raise ValidationError(errors)
    return address, sales_team, found


@audited
def mailbox_create(*, company: Company, actor: User | None, address: str, team: Any,
                   campaign: Any = None, active: bool = True) -> LeadMailbox:  # fmt: skip
    """A sales mailbox: mail to `address` (or address+tag) becomes leads of `team`, of
    `campaign` unless a plus-tag names another. Raises ValidationError."""
    address, sales_team, found = _mailbox_values(company.pk, address=address, team=team,
                                                 campaign=campaign, exclude=None)  # fmt: skip
    return LeadMailbox.unscoped.create(company=company, address=address, team=sales_team,
                                       campaign=found, active=active)  # fmt: skip


@audited
def mailbox_update(*, mailbox: LeadMailbox, actor: User | None, address: str, team: Any,
                   campaign: Any = None, active: bool = True) -> LeadMailbox:  # fmt: skip
    """Change a sales mailbox (as `mailbox_create`). Raises ValidationError."""
    address, sales_team, found = _mailbox_values(mailbox.company_id, address=address, team=team,
                                                 campaign=campaign, exclude=mailbox.pk)  # fmt: skip
    assert sales_team is not None
    mailbox.address, mailbox.team, mailbox.campaign, mailbox.active = (
        address, sales_team, found, active)  # fmt: skip
    mailbox.save(update_fields=["address", "team", "campaign", "active"])
    return mailbox
