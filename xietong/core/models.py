"""Shared kernel data: companies, users and their memberships and roles, currencies and rates,
units of measure, document sequences, API tokens, idempotency keys, job progress, audit entries."""

from __future__ import annotations

import zoneinfo
from decimal import Decimal

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xietong.core.tenancy import CompanyOwned

currency_code_validator = RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter ISO 4217 code."))
country_code_validator = RegexValidator(r"^[A-Z]{2}$", _("Use a two-letter ISO 3166 code."))


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(tz)s” is not a known time zone."), params={"tz": value})


class Currency(models.Model):
    """An ISO 4217 currency; `decimals` is its minor unit, used for rounding amounts."""

    code = models.CharField(
        _("code"), max_length=3, primary_key=True, validators=[currency_code_validator]
    )
    name = models.CharField(_("name"), max_length=80)
    symbol = models.CharField(_("symbol"), max_length=8, blank=True)
    decimals = models.PositiveSmallIntegerField(
        _("decimals"), default=2, validators=[MaxValueValidator(4)]
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("currency")
        verbose_name_plural = _("currencies")

    def __str__(self) -> str:
        return self.code


class Company(models.Model):
    name = models.CharField(_("name"), max_length=120)
    legal_name = models.CharField(_("legal name"), max_length=200)
    tax_id = models.CharField(_("tax ID"), max_length=40, blank=True)
    base_currency = models.ForeignKey(
        Currency, on_delete=models.PROTECT, related_name="+", verbose_name=_("base currency")
    )
    country = models.CharField(_("country"), max_length=2, validators=[country_code_validator])
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_timezone]
    )
    fiscal_year_start_month = models.PositiveSmallIntegerField(
        _("fiscal year starts in month"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
    )
    fiscal_year_start_day = models.PositiveSmallIntegerField(
        _("fiscal year starts on day"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person who signs in; works for one or more companies through memberships."""

    active_company = models.ForeignKey(
        Company,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("active company"),
    )
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default="en"
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def get_full_name(self) -> str:
        """Family name first and unspaced for Chinese names (王伟), given name first otherwise."""
        first, last = self.first_name.strip(), self.last_name.strip()
        if any("\u3400" <= ch <= "\u9fff" for ch in first + last):
            return f"{last}{first}"
        return f"{first} {last}".strip()

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Role(models.Model):
    """A set of permission codes. System roles (company empty) are shipped as data; a company may
    add its own."""

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, related_name="roles"
    )
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=80)
    permissions = models.JSONField(_("permissions"), default=list)
    is_portal = models.BooleanField(
        _("portal role"), default=False, help_text=_("Customers and suppliers on the web portals.")
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        constraints = [
            models.UniqueConstraint(
                fields=["code"], condition=Q(company__isnull=True), name="core_role_system_code"
            ),
            models.UniqueConstraint(fields=["company", "code"], name="core_role_company_code"),
        ]

    def __str__(self) -> str:
        from xietong.core.roles import role_label

        return str(role_label(self.code, self.name))


class Membership(CompanyOwned):
    """A user's place in one company: roles, and what task dispatch needs to know of them."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    roles = models.ManyToManyField(Role, related_name="memberships", verbose_name=_("roles"))
    is_active = models.BooleanField(_("active"), default=True)
    job_title = models.CharField(_("job title"), max_length=80, blank=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("manager"),
    )
    territory = models.CharField(_("territory"), max_length=80, blank=True)
    skills = models.JSONField(_("skills"), default=list, blank=True)
    out_of_office_until = models.DateField(_("out of office until"), null=True, blank=True)
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("delegate while away"),
    )

    class Meta(CompanyOwned.Meta):
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["company", "user"], name="core_membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.company_id}"


class UnitCategory(models.Model):
    code = models.SlugField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=60)

    class Meta:
        ordering = ["code"]
        verbose_name = _("unit category")
        verbose_name_plural = _("unit categories")

    def __str__(self) -> str:
        return self.name


class UnitOfMeasure(models.Model):
    """1 of this unit = `factor` × the category's reference unit (whose factor is 1)."""

    category = models.ForeignKey(
        UnitCategory, on_delete=models.PROTECT, related_name="units", verbose_name=_("category")
    )
    code = models.CharField(_("code"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=60)
    factor = models.DecimalField(_("factor"), max_digits=24, decimal_places=12)
    rounding = models.DecimalField(
        _("rounding"), max_digits=16, decimal_places=6, default=Decimal("0.001")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["category__code", "factor"]
        verbose_name = _("unit of measure")
        verbose_name_plural = _("units of measure")
        constraints = [
            models.CheckConstraint(condition=Q(factor__gt=0), name="core_uom_factor_positive"),
            models.CheckConstraint(condition=Q(rounding__gt=0), name="core_uom_rounding_positive"),
        ]

    def __str__(self) -> str:
        return self.code


class ExchangeRate(CompanyOwned):
    """On `date`, 1 `currency` = `rate` units of the company's base currency."""

    currency = models.ForeignKey(
        Currency, on_delete=models.PROTECT, related_name="+", verbose_name=_("currency")
    )
    date = models.DateField(_("date"))
    rate = models.DecimalField(_("rate"), max_digits=20, decimal_places=10)
    source = models.CharField(_("source"), max_length=40, blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-date", "currency_id"]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "currency", "date"], name="core_rate_unique_per_day"
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="core_rate_positive"),
        ]
        # The list screen and the API filter by company and sort by date, newest first.
        indexes = [models.Index(fields=["company", "-date", "-id"], name="core_rate_company_date")]

    def __str__(self) -> str:
        return f"{self.currency_id} {self.date}: {self.rate}"


class Sequence(CompanyOwned):
    """A document numbering series, e.g. code `sales.order`, pattern `SO{year}-{number:06d}`.

    Counters run per year and are row-locked until the numbering transaction ends. Gap-free
    series must be numbered inside the transaction that saves the document, so a rolled-back
    document gives its number back.
    """

    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=80)
    pattern = models.CharField(_("pattern"), max_length=60, default="{year}-{number:06d}")
    gap_free = models.BooleanField(_("gap-free"), default=False)

    class Meta(CompanyOwned.Meta):
        ordering = ["code"]
        verbose_name = _("document sequence")
        verbose_name_plural = _("document sequences")
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="core_sequence_unique")
        ]

    def __str__(self) -> str:
        return self.code


class SequenceCounter(models.Model):
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="counters")
    year = models.PositiveSmallIntegerField(_("year"))
    last_number = models.PositiveBigIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("sequence counter")
        verbose_name_plural = _("sequence counters")
        constraints = [
            models.UniqueConstraint(fields=["sequence", "year"], name="core_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.sequence_id}/{self.year}: {self.last_number}"


class ApiToken(CompanyOwned):
    """A revocable per-user API token bound to one company; only its SHA-256 hash is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=80)
    prefix = models.CharField(_("prefix"), max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyKey(CompanyOwned):
    """The first response to a creating POST with an `Idempotency-Key`, replayed on retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["company", "key"], name="core_idempotency_unique")
        ]


class Job(CompanyOwned):
    """A background job as users see it: who started it, progress, outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=80)
    params = models.JSONField(default=dict, blank=True)
    task_result_id = models.CharField(max_length=64, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    done = models.PositiveIntegerField(_("done"), default=0)
    total = models.PositiveIntegerField(_("total"), default=0)
    message = models.CharField(_("message"), max_length=255, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-created_at"]
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")

    def __str__(self) -> str:
        return self.name

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0


class AuditEntryManager(LogEntryManager):
    def log_create(self, instance, force_log: bool = False, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("company_id", getattr(instance, "company_id", None))
        return super().log_create(instance, force_log=force_log, **kwargs)


class AuditEntry(AbstractLogEntry):
    """django-auditlog's entry plus the company the changed row belongs to."""

    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = AuditEntryManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["company", "-timestamp"], name="core_audit_company_time")]
