"""Parties: the one set of customers, suppliers and carriers every module shares, with their
contacts, addresses, bank accounts, commercial terms and the customer timeline."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xietong.core.tenancy import CompanyOwned


class InvoicePolicy(models.TextChoices):
    """What a sales order line bills: its ordered quantity at once, or what was delivered.

    Sales uses it; it lives here, the lowest app that names it, so that a customer
    (`Party.invoice_policy`) and a product (`Product.invoice_policy`) can carry their own."""

    ORDER = "order", _("Ordered quantities")
    DELIVERY = "delivery", _("Delivered quantities")


class Country(models.Model):
    """ISO 3166-1 country (reference data shared by all companies)."""

    code = models.CharField(_("code"), max_length=2, primary_key=True)
    name = models.CharField(_("name"), max_length=80)
    name_zh = models.CharField(_("Chinese name"), max_length=80, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("country")
        verbose_name_plural = _("countries")

    def __str__(self) -> str:
        return self.name


class Region(models.Model):
    """A province, state, prefecture or city inside a country; `parent` builds the hierarchy."""

    country = models.ForeignKey(
        Country, on_delete=models.PROTECT, related_name="regions", verbose_name=_("country")
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent region"),
    )
    code = models.CharField(_("code"), max_length=12)
    name = models.CharField(_("name"), max_length=80)
    name_zh = models.CharField(_("Chinese name"), max_length=80, blank=True)

    class Meta:
        ordering = ["country_id", "code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        constraints = [
            models.UniqueConstraint(fields=["country", "code"], name="party_region_unique")
        ]

    def __str__(self) -> str:
        return self.name


class CustomerGroup(CompanyOwned):
    """A segment of customers sharing prices and a discount limit (above it, approval)."""

    code = models.SlugField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=80)
    max_discount_percent = models.DecimalField(
        _("discount without approval (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("10"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["code"]
        verbose_name = _("customer group")
        verbose_name_plural = _("customer groups")
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="party_group_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Tag(CompanyOwned):
    name = models.CharField(_("name"), max_length=40)

    class Meta(CompanyOwned.Meta):
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="party_tag_unique")]

    def __str__(self) -> str:
        return self.name


class PaymentTerm(CompanyOwned):
    """E.g. "30% now, 70% net 60" or "net 30, 2% if paid within 10 days"."""

    name = models.CharField(_("name"), max_length=80)
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["name"]
        verbose_name = _("payment term")
        verbose_name_plural = _("payment terms")
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="party_term_unique")
        ]

    def __str__(self) -> str:
        return self.name


class PaymentTermLine(models.Model):
    """One installment: `percent` of the total due `days` after the invoice date, with an optional
    early-payment discount of `discount_percent` when paid within `discount_days`."""

    term = models.ForeignKey(PaymentTerm, on_delete=models.CASCADE, related_name="lines")
    sequence = models.PositiveSmallIntegerField(_("sequence"), default=1)
    percent = models.DecimalField(
        _("share (%)"),
        max_digits=6,
        decimal_places=3,
        validators=[MinValueValidator(Decimal("0.001")), MaxValueValidator(100)],
    )
    days = models.PositiveSmallIntegerField(_("days after invoice"), default=0)
    discount_percent = models.DecimalField(
        _("early-payment discount (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    discount_days = models.PositiveSmallIntegerField(_("discount if paid within (days)"), default=0)

    class Meta:
        ordering = ["term_id", "sequence"]
        verbose_name = _("payment term line")
        verbose_name_plural = _("payment term lines")

    def __str__(self) -> str:
        return f"{self.percent}% / {self.days}d"


class Party(CompanyOwned):
    """An organisation or a person; customer, supplier and carrier at once if need be."""

    class Kind(models.TextChoices):
        ORGANISATION = "organisation", _("Organisation")
        PERSON = "person", _("Person")

    kind = models.CharField(
        _("kind"), max_length=12, choices=Kind.choices, default=Kind.ORGANISATION
    )
    code = models.CharField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=200)
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    normalized_name = models.CharField(max_length=200, db_index=True, editable=False)
    tax_id = models.CharField(_("tax ID"), max_length=40, blank=True)
    tax_scheme = models.CharField(
        _("tax ID scheme"),
        max_length=20,
        blank=True,
        help_text=_("e.g. cn.uscc, eu.vat; chosen from the country when empty"),
    )
    is_customer = models.BooleanField(_("customer"), default=False)
    is_supplier = models.BooleanField(_("supplier"), default=False)
    is_carrier = models.BooleanField(_("carrier"), default=False)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    normalized_phone = models.CharField(max_length=40, blank=True, db_index=True, editable=False)
    website = models.URLField(_("website"), blank=True)
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans"
    )
    country = models.ForeignKey(
        Country,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("country"),
    )
    currency = models.ForeignKey(
        "core.Currency", on_delete=models.PROTECT, related_name="+", verbose_name=_("currency")
    )
    payment_term = models.ForeignKey(
        PaymentTerm,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("payment term"),
    )
    price_list = models.ForeignKey(
        "product.PriceList",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("price list"),
    )
    credit_limit = models.DecimalField(
        _("credit limit"),
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    salesperson = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("salesperson"),
    )
    customer_group = models.ForeignKey(
        CustomerGroup,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="parties",
        verbose_name=_("customer group"),
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="parties", verbose_name=_("tags"))
    supplier_lead_days = models.PositiveSmallIntegerField(
        _("supplier lead time (days)"), null=True, blank=True
    )
    invoice_policy = models.CharField(
        _("invoicing policy"),
        max_length=10,
        choices=InvoicePolicy.choices,
        blank=True,
        help_text=_(
            "How this customer's order lines are invoiced when the product has no policy of its "
            "own. Empty: the company's sales settings."
        ),
    )
    notes = models.TextField(_("notes"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("merged into"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["name"]
        verbose_name = _("party")
        verbose_name_plural = _("parties")
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="party_code_unique"),
            models.CheckConstraint(
                condition=Q(credit_limit__isnull=True) | Q(credit_limit__gte=0),
                name="party_credit_limit_positive",
            ),
        ]
        indexes = [models.Index(fields=["company", "tax_id"], name="party_tax_id")]

    def __str__(self) -> str:
        return self.name


class Contact(CompanyOwned):
    """A person at an organisation, with the role and channels to reach them by."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        PHONE = "phone", _("Phone")
        WECHAT = "wechat", _("WeChat")
        SMS = "sms", _("SMS")
        POST = "post", _("Post")

    party = models.ForeignKey(
        Party, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("party")
    )
    name = models.CharField(_("name"), max_length=120)
    role = models.CharField(_("role"), max_length=80, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    mobile = models.CharField(_("mobile"), max_length=40, blank=True)
    wechat = models.CharField(_("WeChat ID"), max_length=60, blank=True)
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=10, choices=Channel.choices, default=Channel.EMAIL
    )
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans"
    )
    is_primary = models.BooleanField(_("primary contact"), default=False)
    opt_out = models.BooleanField(_("no marketing"), default=False)
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["party_id", "-is_primary", "name"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(
                fields=["party"], condition=Q(is_primary=True), name="party_one_primary_contact"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Address(CompanyOwned):
    class Kind(models.TextChoices):
        BILLING = "billing", _("Billing")
        SHIPPING = "shipping", _("Shipping")
        OTHER = "other", _("Other")

    party = models.ForeignKey(
        Party, on_delete=models.CASCADE, related_name="addresses", verbose_name=_("party")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.BILLING)
    street = models.CharField(_("street"), max_length=200)
    street2 = models.CharField(_("street (line 2)"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=80)
    region = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("region"),
    )
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    country = models.ForeignKey(
        Country, on_delete=models.PROTECT, related_name="+", verbose_name=_("country")
    )
    is_default = models.BooleanField(_("default"), default=False)
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["party_id", "kind", "-is_default"]
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        constraints = [
            models.UniqueConstraint(
                fields=["party", "kind"],
                condition=Q(is_default=True),
                name="party_one_default_address",
            )
        ]

    def __str__(self) -> str:
        return ", ".join(
            p for p in (self.street, self.city, self.postal_code, self.country_id) if p
        )


class BankAccount(CompanyOwned):
    party = models.ForeignKey(
        Party, on_delete=models.CASCADE, related_name="bank_accounts", verbose_name=_("party")
    )
    bank_name = models.CharField(_("bank"), max_length=120)
    account_number = models.CharField(_("account number or IBAN"), max_length=40)
    holder = models.CharField(_("account holder"), max_length=120, blank=True)
    swift = models.CharField(_("SWIFT/BIC"), max_length=11, blank=True)
    currency = models.ForeignKey(
        "core.Currency",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("currency"),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["party_id", "bank_name"]
        verbose_name = _("bank account")
        verbose_name_plural = _("bank accounts")

    def __str__(self) -> str:
        return f"{self.bank_name} {self.account_number[-4:]}"


class TimelineEntry(CompanyOwned):
    """One event in a party's history, written by any module through `timeline_add`."""

    party = models.ForeignKey(
        Party, on_delete=models.CASCADE, related_name="timeline", verbose_name=_("party")
    )
    kind = models.CharField(_("kind"), max_length=30, db_index=True)
    occurred_at = models.DateTimeField(_("when"), db_index=True)
    summary = models.CharField(_("summary"), max_length=255)
    url = models.CharField(_("link"), max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    source_type = models.ForeignKey(
        ContentType, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source_id = models.CharField(max_length=40, blank=True)
    source = GenericForeignKey("source_type", "source_id")

    class Meta(CompanyOwned.Meta):
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")
        indexes = [
            models.Index(fields=["party", "-occurred_at"], name="party_timeline_party_time"),
            # the kinds a party's timeline holds (its filter's choices), from the index alone
            models.Index(fields=["party", "kind"], name="party_timeline_party_kind"),
        ]

    def __str__(self) -> str:
        return self.summary
