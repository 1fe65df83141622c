"""Marketing services: campaigns (budget, channel, segment, schedule, state, cost), their
promotions with coupon codes, their e-mail templates, and leads attributed to a campaign; and
`register()`, which wires marketing into the platform (permissions, roles, audit, timeline
kinds, menu, the party page's panel, the sales price adjuster and the e-mail job).

Every write takes keyword arguments, names its `actor`, runs in one transaction and raises
ValidationError ({field: [messages]}) on bad input, or `CampaignError` (no field, a `code`)
when the campaign is in the wrong state; either way nothing has changed.

States: draft → scheduled → running → done; scheduled can go back to draft; draft, scheduled
and running can be cancelled. Scheduling or running needs a start and an end date."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.core.audit import audited
from xietong.core.models import Company, Currency, Membership, User
from xietong.crm.models import Campaign, Coupon, EmailTemplate, Lead, Promotion, Segment
from xietong.product.models import Product

Errors = dict[str, list[str]]
State = Campaign.State
TRANSITIONS: dict[str, set[str]] = {
    State.DRAFT: {State.SCHEDULED, State.RUNNING, State.CANCELLED},
    State.SCHEDULED: {State.DRAFT, State.RUNNING, State.CANCELLED},
    State.RUNNING: {State.DONE, State.CANCELLED},
    State.DONE: set(),
    State.CANCELLED: set(),
}
CLOSED = (State.DONE, State.CANCELLED)
CAMPAIGN_FIELDS = {"code", "channel", "segment", "budget", "cost", "currency", "start_date",
                   "end_date", "language", "description", "owner", "holdout_percent"}  # fmt: skip
HOLDOUT_MAX = 50  # a control group of at most half the recipients
COUPON_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,39}$")


class CampaignError(ValidationError):
    """A refusal that concerns no single field (a done campaign cannot change …)."""

    def __init__(self, message: str, code: str = "state") -> None:
        super().__init__(message, code=code)


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _amount(value: Any, field: str, errors: Errors, *, positive: bool = False) -> Decimal | None:
    if value in (None, ""):
        return None
    if isinstance(value, float | bool):
        _add(errors, field, _("Send decimal numbers as strings."))
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        _add(errors, field, _("Enter a number."))
        return None
    if not number.is_finite() or number < 0 or (positive and number == 0):
        _add(errors, field, _("Enter a number above zero.") if positive
             else _("Enter a number of at least 0."))  # fmt: skip
        return None
    if number.as_tuple().exponent < -4 or number >= Decimal(10) ** 15:  # type: ignore[operator]
        _add(errors, field, _("Enter a number with at most 15 digits and 4 decimals."))
        return None
    return number


def _holdout(value: Any, errors: Errors) -> int:
    """The control group's share of an e-mail campaign's recipients: a whole number 0–50."""
    if value in (None, ""):
        return 0
    if isinstance(value, bool | float):
        number = None
    else:
        try:
            number = int(str(value).strip())
        except ValueError:
            number = None
    if number is None or not 0 <= number <= HOLDOUT_MAX:
        _add(errors, "holdout_percent",
             _("Enter a whole number from 0 to %(max)s.") % {"max": HOLDOUT_MAX})  # fmt: skip
        return 0
    return number


def _date(value: Any, field: str, errors: Errors) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        _add(errors, field, _("Enter a date as YYYY-MM-DD."))
        return None


def company_language(company: Company) -> str:
    """The company's working language, from its country (Chinese for mainland China)."""
    country = (company.country or "").upper()
    if country == "CN":
        return "zh-hans"
    if country in ("TW", "HK", "MO"):
        return "zh-hant"
    return settings.LANGUAGE_CODE


def _code(company: Company, name: str, exclude: int | None = None) -> str:
    base = slugify(name)[:50] or "campaign"
    code, n = base, 1
    rows = Campaign.unscoped.filter(company=company).exclude(pk=exclude)
    while rows.filter(code=code).exists():
        n += 1
        code = f"{base}-{n}"
    return code


def _apply(campaign: Campaign, fields: Mapping[str, Any], errors: Errors) -> None:
    company_id = campaign.company_id
    for key in set(fields) - CAMPAIGN_FIELDS - {"name"}:
        _add(errors, key, _("This field cannot be set here."))
    if "name" in fields:
        name = " ".join(str(fields["name"] or "").split())
        if not name:
            _add(errors, "name", _("This field is required."))
        elif len(name) > 120:
            _add(errors, "name", _("Use at most %(n)s characters.") % {"n": 120})
        campaign.name = name
    if fields.get("code"):
        code = slugify(str(fields["code"]))[:60]
        if not code:
            _add(errors, "code", _("Use letters, digits and hyphens."))
        elif (
            Campaign.unscoped.filter(company_id=company_id, code=code)
            .exclude(pk=campaign.pk)
            .exists()
        ):
            _add(errors, "code", _("Another campaign already has this code."))
        campaign.code = code
    if "channel" in fields:
        if fields["channel"] not in Campaign.Channel.values:
            _add(errors, "channel", _("Choose a valid channel."))
        else:
            campaign.channel = fields["channel"]
    if "segment" in fields:
        value = fields["segment"]
        if value in (None, ""):
            campaign.segment = None
        else:
            pk = getattr(value, "pk", value)
            try:
                segment = Segment.unscoped.filter(company_id=company_id, pk=pk).first()
            except (TypeError, ValueError):
                segment = None
            if segment is None:
                _add(errors, "segment", _("Choose a segment of your company."))
            campaign.segment = segment
    for name in ("budget", "cost"):
        if name in fields:
            amount = _amount(fields[name], name, errors)
            setattr(campaign, name, amount if amount is not None else Decimal(0))
    if "currency" in fields:
        code = str(getattr(fields["currency"], "code", fields["currency"]) or "").upper()
        if not Currency.objects.filter(code=code, active=True).exists():
            _add(errors, "currency", _("Choose an active currency."))
        else:
            campaign.currency_id = code
    for name in ("start_date", "end_date"):
        if name in fields:
            setattr(campaign, name, _date(fields[name], name, errors))
    if campaign.start_date and campaign.end_date and campaign.end_date < campaign.start_date:
        _add(errors, "end_date", _("The campaign ends on or after its start."))
    if "language" in fields:
        if fields["language"] not in dict(settings.LANGUAGES):
            _add(errors, "language", _("Choose a language."))
        else:
            campaign.language = fields["language"]
    if "description" in fields:
        campaign.description = str(fields["description"] or "")[:10_000]
    if "holdout_percent" in fields:
        campaign.holdout_percent = _holdout(fields["holdout_percent"], errors)
    if fields.get("owner") not in (None, ""):
        pk = getattr(fields["owner"], "pk", fields["owner"])
        if not Membership.unscoped.filter(company_id=company_id, user_id=pk,
                                          is_active=True).exists():  # fmt: skip
            _add(errors, "owner", _("Choose a user of your company."))
        else:
            campaign.owner_id = pk


@audited
def campaign_create(*, company: Company, actor: User | None, name: str, **fields: Any) -> Campaign:
    """A draft campaign (`fields`: CAMPAIGN_FIELDS; the code is made from the name when not
    given, the currency is the company's, the language the company's). Raises ValidationError."""
    errors: Errors = {}
    campaign = Campaign(company=company, currency_id=company.base_currency_id,
                        language=company_language(company),
                        owner_id=getattr(actor, "pk", None))  # fmt: skip
    _apply(campaign, {"name": name, **fields}, errors)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if not campaign.code:
            campaign.code = _code(company, campaign.name)
        campaign.save()
    return campaign


def _locked(campaign: Campaign) -> Campaign:
    return Campaign.unscoped.select_for_update().get(pk=campaign.pk)


def _copy(source: Campaign, target: Campaign) -> None:
    for field in Campaign._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


@audited
def campaign_update(*, campaign: Campaign, actor: User | None, **fields: Any) -> Campaign:
    """Change a campaign. A cancelled one cannot change; a done one only its cost (the final
    bill). Raises ValidationError or CampaignError."""
    with transaction.atomic():
        row = _locked(campaign)
        if row.state == State.CANCELLED or (row.state == State.DONE and set(fields) - {"cost"}):
            raise CampaignError(_("A %(state)s campaign cannot be changed.")
                                % {"state": row.get_state_display()})  # fmt: skip
        errors: Errors = {}
        _apply(row, fields, errors)
        if row.state in (State.SCHEDULED, State.RUNNING) and not (row.start_date and row.end_date):
            _add(errors, "start_date", _("A scheduled or running campaign has its dates."))
        if errors:
            raise ValidationError(errors)
        row.save()
    _copy(row, campaign)
    return campaign


@audited
def campaign_transition(*, campaign: Campaign, actor: User | None, state: str) -> Campaign:
    """Move the campaign to `state` (see the module's states). Raises CampaignError."""
    with transaction.atomic():
        row = _locked(campaign)
        if state not in TRANSITIONS.get(row.state, set()):
            labels = dict(State.choices)
            raise CampaignError(
                _("A %(from)s campaign cannot become %(to)s.")
                % {"from": row.get_state_display(), "to": labels.get(state, state)},
                "transition",
            )
        if state in (State.SCHEDULED, State.RUNNING) and not (row.start_date and row.end_date):
            raise CampaignError(_("Give the campaign a start and an end date first."), "dates")
        row.state = state
        row.save(update_fields=["state", "updated_at"])
    _copy(row, campaign)
    return campaign


@audited
def promotion_create(
    *,
    campaign: Campaign,
    actor: User | None,
    name: str,
    value: Any,
    kind: str = Promotion.Kind.LINES,
    discount_type: str = Promotion.DiscountType.PERCENT,
    products: Iterable[Any] = (),
    coupons: Iterable[str] = (),
) -> Promotion:
    """A promotion of the campaign with its products (records, ids or SKUs) and coupon codes
    (letters, digits, - and _, 3 to 40, unique in the company; kept upper-case). A bundle
    needs at least two products. Raises ValidationError or CampaignError."""
    errors: Errors = {}
    if campaign.state in CLOSED:
        raise CampaignError(_("A closed campaign gets no new promotion."))
    name = " ".join(str(name or "").split())
    if not name:
        _add(errors, "name", _("This field is required."))
    if kind not in Promotion.Kind.values:
        _add(errors, "kind", _("Choose a valid kind."))
    if discount_type not in Promotion.DiscountType.values:
        _add(errors, "discount_type", _("Choose percentage or fixed amount."))
    amount = _amount(value, "value", errors, positive=True)
    if (amount is not None and discount_type == Promotion.DiscountType.PERCENT
            and amount > 100):  # fmt: skip
        _add(errors, "value", _("A percentage is at most 100."))
    ids: set[int] = set()
    skus: set[str] = set()
    for key in (getattr(p, "pk", p) for p in products):
        if isinstance(key, int) or str(key).isdigit():
            ids.add(int(key))
        else:
            skus.add(str(key))
    chosen = list(
        Product.unscoped.filter(company_id=campaign.company_id).filter(
            Q(pk__in=ids) | Q(sku__in=skus)
        )
    )
    if len(chosen) != len(ids) + len(skus):
        _add(errors, "products", _("Choose products of your company."))
    if kind == Promotion.Kind.BUNDLE and len(chosen) < 2:
        _add(errors, "products", _("A bundle has at least two products."))
    codes = [str(c).strip().upper() for c in coupons if str(c).strip()]
    for code in codes:
        if not COUPON_RE.match(code):
            _add(errors, "coupons", _("“%(code)s”: use 3 to 40 letters, digits, - or _.")
                 % {"code": code})  # fmt: skip
    if len(set(codes)) != len(codes):
        _add(errors, "coupons", _("A code is given twice."))
    taken = set(
        Coupon.unscoped.filter(company_id=campaign.company_id, code__in=codes).values_list(
            "code", flat=True
        )
    )
    if taken:
        _add(errors, "coupons", _("Codes already in use: %(codes)s.")
             % {"codes": ", ".join(sorted(taken))})  # fmt: skip
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        promotion = Promotion.unscoped.create(
            company_id=campaign.company_id, campaign=campaign, name=name, kind=kind,
            discount_type=discount_type, value=amount,
        )  # fmt: skip
        promotion.products.set(chosen)
        Coupon.unscoped.bulk_create(
            Coupon(company_id=campaign.company_id, promotion=promotion, code=code) for code in codes
        )
    return promotion


@audited
def template_save(*, campaign: Campaign, actor: User | None, language: str, subject: str,
                  body: str) -> EmailTemplate:  # fmt: skip
    """Create or replace the campaign's e-mail in `language`. The subject and body may use
    the merge fields of `xietong.crm.mailing.MERGE_FIELDS`; an unknown one is refused."""
    from xietong.crm.mailing import merge_fields_check

    errors: Errors = {}
    if campaign.state in CLOSED:
        raise CampaignError(_("A closed campaign's e-mail cannot change."))
    if language not in dict(settings.LANGUAGES):
        _add(errors, "language", _("Choose a language."))
    subject = " ".join(str(subject or "").split())
    body = str(body or "").strip()
    if not subject:
        _add(errors, "subject", _("This field is required."))
    elif len(subject) > 200:
        _add(errors, "subject", _("Use at most %(n)s characters.") % {"n": 200})
    if not body:
        _add(errors, "body", _("This field is required."))
    for field, text in (("subject", subject), ("body", body)):
        unknown = merge_fields_check(text)
        if unknown:
            _add(errors, field, _("Unknown merge fields: %(fields)s.")
                 % {"fields": ", ".join(unknown)})  # fmt: skip
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        template, _created = EmailTemplate.unscoped.update_or_create(
            company_id=campaign.company_id, campaign=campaign, language=language,
            defaults={"subject": subject, "body": body},
        )  # fmt: skip
    return template


@audited
def lead_campaign_set(*, lead: Lead, actor: User | None, campaign: Campaign | None) -> Lead:
    """Attribute a lead to a campaign of its company (or to none)."""
    if campaign is not None and campaign.company_id != lead.company_id:
        raise ValidationError({"campaign": [_("Choose a campaign of your company.")]})
    with transaction.atomic():
        lead.marketing_campaign = campaign
        lead.save(update_fields=["marketing_campaign", "updated_at"])
    return lead


# --- wiring -------------------------------------------------------------------------------------

MENU = (
    (gettext_lazy("Campaigns"), "crm:campaign_list", "crm.marketing.view", 60),
    (gettext_lazy("Segments"), "crm:segment_list", "crm.marketing.view", 65),
)


def register() -> None:
    """Called from the CRM's `AppConfig.ready()`: permissions, roles, audit, menu, hooks."""
    from auditlog.registry import auditlog

    from xietong.core import jobs, menu, permissions, roles
    from xietong.crm import mailing, models, promotions
    from xietong.crm.attribution import campaigns_panel
    from xietong.party.panels import Panel, panel_register
    from xietong.party.services import timeline_kind_register
    from xietong.sales.promotions import adjuster_register

    permissions.declare(
        ("crm.marketing.view", gettext_lazy("See segments, campaigns and their results")),
        (
            "crm.marketing.manage",
            gettext_lazy("Manage segments, campaigns, promotions and send campaign e-mails"),
        ),
    )
    for role in ("marketer", "sales_manager", "executive"):
        roles.grant(role, "crm.marketing.view")
    roles.grant("marketer", "crm.marketing.manage")
    roles.grant("marketer", "crm.view", "party.view")
    for model in (models.Segment, models.SegmentMember, models.Campaign, models.Promotion,
                  models.Coupon, models.EmailTemplate):  # fmt: skip
        if not auditlog.contains(model):
            fields = [
                f.name for f in model._meta.concrete_fields if f.name not in {"id", "company"}
            ]
            auditlog.register(model, include_fields=fields)
    timeline_kind_register("crm.campaign_email", gettext_lazy("Campaign e-mail"), "envelope")
    timeline_kind_register("crm.campaign_click", gettext_lazy("Campaign click"), "cursor")
    for label, url_name, permission, order in MENU:
        menu.add("crm", label, url_name, permission, order)
    panel_register(
        Panel(
            key="crm.campaigns",
            label=gettext_lazy("Campaigns"),
            template="crm/marketing/_party_panel.html",
            permission="crm.marketing.view",
            data=campaigns_panel,
            order=60,
        )
    )
    adjuster_register("crm.campaign_promotions", promotions.campaign_price_adjuster)
    jobs.register(mailing.JOB_KIND, mailing.send_job)
