"""Writes of the shared kernel. Each is one transaction; validation errors change nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.core import events, imports
from xietong.core.audit import audited
from xietong.core.models import (
    ApiToken,
    Company,
    Currency,
    ExchangeRate,
    Membership,
    Role,
    Sequence,
    UnitOfMeasure,
    User,
)
from xietong.core.money import MINOR_UNITS
from xietong.core.numbering import NumberingError, pattern_validate
from xietong.core.roles import DEFAULT_ROLES, PORTAL_ROLES, ROLE_LABELS, role_permissions
from xietong.core.selectors import roles_for_company

CURRENCY_NAMES = {
    "CNY": ("Chinese yuan", "¥"),
    "HKD": ("Hong Kong dollar", "HK$"),
    "TWD": ("New Taiwan dollar", "NT$"),
    "USD": ("US dollar", "$"),
    "EUR": ("Euro", "€"),
    "GBP": ("Pound sterling", "£"),
    "JPY": ("Japanese yen", "¥"),
    "KRW": ("Korean won", "₩"),
    "SGD": ("Singapore dollar", "S$"),
    "AUD": ("Australian dollar", "A$"),
}


def currencies_sync_defaults() -> None:
    """Make sure every ISO 4217 currency the platform knows exists (idempotent)."""
    existing = set(Currency.objects.values_list("code", flat=True))
    Currency.objects.bulk_create(
        [
            Currency(
                code=code,
                name=CURRENCY_NAMES.get(code, (code, ""))[0],
                symbol=CURRENCY_NAMES.get(code, (code, ""))[1],
                decimals=decimals,
                active=code in CURRENCY_NAMES,
            )
            for code, decimals in MINOR_UNITS.items()
            if code not in existing
        ]
    )


STANDARD_UNITS = {
    # category: [(code, name, factor relative to the reference unit, rounding)]
    "unit": [("pc", "Piece", "1", "1"), ("dozen", "Dozen", "12", "1"), ("pair", "Pair", "2", "1")],
    "mass": [
        ("g", "Gram", "0.001", "0.01"),
        ("kg", "Kilogram", "1", "0.001"),
        ("t", "Tonne", "1000", "0.001"),
    ],
    "length": [
        ("mm", "Millimetre", "0.001", "0.1"),
        ("cm", "Centimetre", "0.01", "0.1"),
        ("m", "Metre", "1", "0.001"),
        ("km", "Kilometre", "1000", "0.001"),
    ],
    "volume": [
        ("ml", "Millilitre", "0.001", "0.1"),
        ("l", "Litre", "1", "0.001"),
        ("m3", "Cubic metre", "1000", "0.001"),
    ],
    "time": [
        ("min", "Minute", "0.016666666667", "0.01"),
        ("h", "Hour", "1", "0.01"),
        ("day", "Day (8 h)", "8", "0.01"),
    ],
}
CATEGORY_NAMES = {
    "unit": "Units",
    "mass": "Mass",
    "length": "Length",
    "volume": "Volume",
    "time": "Working time",
}


def units_sync_defaults() -> None:
    """Create the standard unit categories and units that are missing (never overwrites edits)."""
    from xietong.core.models import UnitCategory

    with transaction.atomic():
        for category_code, units in STANDARD_UNITS.items():
            category, _created = UnitCategory.objects.get_or_create(
                code=category_code, defaults={"name": CATEGORY_NAMES[category_code]}
            )
            for code, name, factor, rounding in units:
                UnitOfMeasure.objects.get_or_create(
                    code=code,
                    defaults={
                        "category": category,
                        "name": name,
                        "factor": Decimal(factor),
                        "rounding": Decimal(rounding),
                    },
                )


def roles_sync_defaults() -> None:
    """Write the predefined roles (xietong.core.roles) into the Role table (idempotent)."""
    with transaction.atomic():
        for code in DEFAULT_ROLES:
            permissions = role_permissions(code)
            Role.objects.update_or_create(
                company=None,
                code=code,
                defaults={
                    "name": str(ROLE_LABELS[code]),
                    "permissions": sorted(set(permissions)),
                    "is_portal": code in PORTAL_ROLES,
                },
            )


@audited
def company_create(
    *,
    name: str,
    legal_name: str,
    base_currency: str,
    country: str,
    timezone_name: str = "Asia/Shanghai",
    tax_id: str = "",
    fiscal_year_start_month: int = 1,
    actor: User | None = None,
) -> Company:
    """Create a company with its standard document sequences. Raises ValidationError."""
    company = Company(
        name=name,
        legal_name=legal_name,
        base_currency_id=base_currency,
        country=country,
        timezone=timezone_name,
        tax_id=tax_id,
        fiscal_year_start_month=fiscal_year_start_month,
    )
    company.full_clean()
    with transaction.atomic():
        company.save()
        Sequence.unscoped.bulk_create(
            [
                Sequence(company=company, code=code, name=label, pattern=pattern, gap_free=gap_free)
                for code, label, pattern, gap_free in STANDARD_SEQUENCES
            ]
        )
    return company


# The series later modules number their documents with; each module may add its own.
STANDARD_SEQUENCES = [
    ("sales.quotation", "Quotations", "SQ{year}-{number:06d}", False),
    ("sales.order", "Sales orders", "SO{year}-{number:06d}", False),
    ("purchase.order", "Purchase orders", "PO{year}-{number:06d}", False),
    ("finance.invoice", "Customer invoices", "INV{year}-{number:06d}", True),
    ("finance.bill", "Supplier invoices", "BILL{year}-{number:06d}", True),
    ("finance.entry", "Journal entries", "JE{year}-{number:06d}", True),
]


@audited
def company_update(*, company: Company, actor: User, **fields: Any) -> Company:
    allowed = {
        "name",
        "legal_name",
        "tax_id",
        "base_currency_id",
        "country",
        "timezone",
        "fiscal_year_start_month",
        "fiscal_year_start_day",
    }
    for field, value in fields.items():
        if field not in allowed:
            raise ValidationError({field: _("This field cannot be changed here.")})
        setattr(company, field, value)
    company.full_clean()
    with transaction.atomic():
        company.save()
    return company


@audited
def user_create(
    *,
    company: Company,
    username: str,
    password: str | None,
    roles: list[str],
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    language: str = "en",
    actor: User | None = None,
    validate: bool = True,
) -> User:
    """Create a user who works for `company` with the given role codes. Raises ValidationError."""
    errors: dict[str, list[str]] = {}
    if User.objects.filter(username__iexact=username).exists():
        errors["username"] = [_("A user with that username already exists.")]
    found = {r.code: r for r in roles_for_company(company=company).filter(code__in=roles)}
    unknown = sorted(set(roles) - set(found))
    if unknown:
        errors["roles"] = [_("Unknown role(s): %(codes)s") % {"codes": ", ".join(unknown)}]
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        language=language,
        active_company=company,
    )
    if password and validate:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
        membership = Membership.unscoped.create(company=company, user=user)
        membership.roles.set(found.values())
    return user


@audited
def membership_set_roles(*, membership: Membership, roles: list[str], actor: User) -> Membership:
    """Replace a membership's roles. Refuses unknown codes and removing the last administrator."""
    found = list(roles_for_company(company=membership.company_id).filter(code__in=roles))
    if len(found) != len(set(roles)):
        raise ValidationError({"roles": [_("Unknown role code.")]})
    with transaction.atomic():
        had_admin = membership.roles.filter(code="admin").exists()
        if had_admin and "admin" not in roles:
            admins = Membership.unscoped.filter(
                company_id=membership.company_id, roles__code="admin", is_active=True
            ).exclude(pk=membership.pk)
            if not admins.exists():
                raise ValidationError(
                    {"roles": [_("The company must keep at least one administrator.")]}
                )
        membership.roles.set(found)
    return membership


def user_switch_company(*, user: User, company: Company) -> None:
    """Make `company` the user's active company. Raises PermissionError without a membership."""
    if not Membership.unscoped.filter(user=user, company=company, is_active=True).exists():
        raise PermissionError(_("You do not work for this company."))
    User.objects.filter(pk=user.pk).update(active_company=company)
    user.active_company = company


def user_set_language(*, user: User, language: str) -> None:
    if language not in {code for code, _name in User._meta.get_field("language").choices}:
        raise ValidationError({"language": [_("Unknown language.")]})
    User.objects.filter(pk=user.pk).update(language=language)
    user.language = language


# --- exchange rates ---------------------------------------------------------------------------


def _rate_validate(rate: ExchangeRate, company: Company) -> None:
    errors: dict[str, list[str]] = {}
    if rate.currency_id == company.base_currency_id:
        errors["currency"] = [_("The company's own currency needs no rate.")]
    exclude = ["company"]
    if isinstance(rate.rate, Decimal | int) and rate.rate <= 0:
        errors["rate"] = [_("The rate must be positive.")]
        # Excluding the field also skips the check constraint, which would repeat the problem
        # as a non-field error.
        exclude.append("rate")
    try:
        rate.full_clean(exclude=exclude, validate_unique=False)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    duplicate = ExchangeRate.unscoped.filter(
        company=company, currency_id=rate.currency_id, date=rate.date
    ).exclude(pk=rate.pk)
    if rate.currency_id and rate.date and duplicate.exists():
        errors.setdefault("date", []).append(
            _("There is already a %(currency)s rate for this date.")
            % {"currency": rate.currency_id}
        )
    if errors:
        raise ValidationError(errors)


@audited
def exchange_rate_create(
    *,
    company: Company,
    actor: User | None,
    currency: str,
    date: dt.date,
    rate: Decimal,
    source: str = "",
) -> ExchangeRate:
    """Record a rate. Raises ValidationError (field errors) and then writes nothing."""
    row = ExchangeRate(company=company, currency_id=currency, date=date, rate=rate, source=source)
    _rate_validate(row, company)
    with transaction.atomic():
        row.save()
        events.publish(
            events.ExchangeRateChanged(
                company_id=company.pk, currency=currency, date=date.isoformat()
            )
        )
    return row


@audited
def exchange_rate_update(
    *, exchange_rate: ExchangeRate, actor: User | None, **fields: Any
) -> ExchangeRate:
    """Change a rate's fields (`currency_id`, `date`, `rate`, `source`). Raises ValidationError."""
    rate = exchange_rate
    for field in fields:
        if field not in {"currency_id", "date", "rate", "source"}:
            raise ValidationError({field: [_("This field cannot be changed.")]})
    for field, value in fields.items():
        setattr(rate, field, value)
    _rate_validate(rate, rate.company)
    with transaction.atomic():
        rate.save()
        events.publish(
            events.ExchangeRateChanged(
                company_id=rate.company_id, currency=rate.currency_id, date=rate.date.isoformat()
            )
        )
    return rate


@audited
def exchange_rate_delete(*, exchange_rate: ExchangeRate, actor: User | None) -> None:
    with transaction.atomic():
        exchange_rate.delete()


class ExchangeRateImport(imports.ImportSpec):
    """Exchange rates as `date,currency,rate[,source]`; an existing date's rate is updated."""

    key = "exchange-rates"
    title = gettext_lazy("Exchange rates")
    permission = "core.exchangerate.change"
    columns = [
        imports.Column(
            "date", gettext_lazy("Date"), required=True, help=gettext_lazy("YYYY-MM-DD")
        ),
        imports.Column(
            "currency", gettext_lazy("Currency"), required=True, help=gettext_lazy("ISO 4217 code")
        ),
        imports.Column(
            "rate",
            gettext_lazy("Rate"),
            required=True,
            help=gettext_lazy("units of the company's currency for one unit"),
        ),
        imports.Column("source", gettext_lazy("Source")),
    ]

    def begin(self, company: Company) -> dict[str, Any]:
        return {
            "company": company,
            "currencies": set(Currency.objects.values_list("code", flat=True)),
        }

    def clean_row(self, state: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
        problems: dict[str, str] = {}
        code = values.get("currency", "").upper()
        if code not in state["currencies"]:
            problems["currency"] = _("unknown currency “%(code)s”") % {"code": code}
        elif code == state["company"].base_currency_id:
            problems["currency"] = _("the company's own currency needs no rate")
        try:
            date = dt.date.fromisoformat(values.get("date", ""))
        except ValueError:
            problems["date"] = _("date must be YYYY-MM-DD")
        try:
            rate = Decimal(values.get("rate", ""))
            if not rate.is_finite() or rate <= 0:
                raise InvalidOperation
            ExchangeRate._meta.get_field("rate").run_validators(rate)
        except InvalidOperation:
            problems["rate"] = _("rate must be a positive number")
        except ValidationError:
            problems["rate"] = _(
                "rate must have at most 10 digits before and 10 after the decimal point"
            )
        if problems:
            raise imports.RowError(problems)
        return {
            "currency_id": code,
            "date": date,
            "rate": rate,
            "source": (values.get("source") or "import")[:40],
        }

    def row_key(self, row: dict[str, Any]) -> tuple[str, dt.date]:
        return row["currency_id"], row["date"]

    def save(
        self,
        state: Any,
        rows: list[dict[str, Any]],
        *,
        company: Company,
        actor: User | None,
        progress: Any,
    ) -> dict[str, int]:
        existing = {
            (r.currency_id, r.date): r
            for r in ExchangeRate.unscoped.filter(
                company=company,
                currency_id__in={r["currency_id"] for r in rows},
                date__in={r["date"] for r in rows},
            )
        }
        created = updated = 0
        for row in rows:
            current = existing.get((row["currency_id"], row["date"]))
            if current is None:
                ExchangeRate.unscoped.create(
                    company=company,
                    currency_id=row["currency_id"],
                    date=row["date"],
                    rate=row["rate"],
                    source=row["source"],
                )
                created += 1
            elif current.rate != row["rate"]:
                current.rate, current.source = row["rate"], row["source"]
                current.save(update_fields=["rate", "source"])
                updated += 1
        return {"created": created, "updated": updated}

    def export(self, company: Company) -> Iterable[dict[str, Any]]:
        rows = ExchangeRate.unscoped.filter(company=company).order_by("currency_id", "date")
        return (
            {"date": r.date, "currency": r.currency_id, "rate": r.rate, "source": r.source}
            for r in rows.iterator()
        )


imports.register(ExchangeRateImport())


# --- units, sequences -------------------------------------------------------------------------


@audited
def uom_update(*, unit: UnitOfMeasure, actor: User, **fields: Any) -> UnitOfMeasure:
    for field in fields:
        if field not in {"name", "rounding", "active"}:
            raise ValidationError({field: [_("This field cannot be changed.")]})
        setattr(unit, field, fields[field])
    unit.full_clean()
    with transaction.atomic():
        unit.save()
    return unit


@audited
def sequence_update(
    *, sequence: Sequence, actor: User, name: str, pattern: str, gap_free: bool
) -> Sequence:
    try:
        pattern_validate(pattern)
    except NumberingError as exc:
        raise ValidationError({"pattern": [str(exc)]}) from exc
    sequence.name, sequence.pattern, sequence.gap_free = name, pattern, gap_free
    sequence.full_clean(exclude=["company"])
    with transaction.atomic():
        sequence.save()
    return sequence


# --- API tokens -------------------------------------------------------------------------------


def api_token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(
    *, user: User, company: Company, name: str, expires_at: dt.datetime | None = None
) -> tuple[ApiToken, str]:
    """Issue a token for `user` in `company`; the raw key is returned once and never stored."""
    if not name.strip():
        raise ValidationError({"name": [_("Give the token a name.")]})
    if not Membership.unscoped.filter(user=user, company=company, is_active=True).exists():
        raise ValidationError({"company": [_("You do not work for this company.")]})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": [_("The expiry must be in the future.")]})
    raw = "xt_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.unscoped.create(
            user=user,
            company=company,
            name=name.strip()[:80],
            prefix=raw[:10],
            key_hash=api_token_hash(raw),
            expires_at=expires_at,
        )
    return token, raw


API_TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=1)


def api_token_touch(*, token: ApiToken) -> None:
    """Record that `token` was just used. Writes at most once a minute per token (so that a busy
    client does not turn every read into a write) and bypasses the audit trail on purpose."""
    now = timezone.now()
    stale = now - API_TOKEN_TOUCH_INTERVAL
    if token.last_used_at is not None and token.last_used_at > stale:
        return
    ApiToken.unscoped.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=token.pk
    ).update(last_used_at=now)
    token.last_used_at = now


@audited
def api_token_revoke(*, token: ApiToken, actor: User) -> None:
    if token.user_id != actor.pk:
        raise PermissionError(_("You can only revoke your own tokens."))
    ApiToken.unscoped.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
