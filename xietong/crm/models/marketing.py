"""Marketing: segments, campaigns with promotions, e-mail campaigns and their tracking.

A `Segment` is either a saved filter (`rules`: a JSON list of whitelisted conditions, evaluated
live by `xietong.crm.segments`) or a static list of parties (`SegmentMember`). A `Campaign` has
a budget, a channel, a target segment, dates and a state; its `Promotion`s (with their coupon
codes) are applied by the price engine to quotations and orders during the campaign
(`xietong.crm.promotions`). An e-mail campaign has a template per language
(`EmailTemplate`) and one `Recipient` row per contact it was sent to, which tracks delivery,
opens, clicks (`EmailClick`) and unsubscribes (`xietong.crm.mailing`)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xietong.core.tenancy import CompanyOwned
from xietong.crm.models.pipeline import AMOUNT, ZERO

__all__ = [
    "Campaign",
    "Coupon",
    "EmailClick",
    "EmailTemplate",
    "Promotion",
    "Recipient",
    "Segment",
    "SegmentMember",
]


class Segment(CompanyOwned):
    """A target group of parties: rules over party, order and behaviour data, or a list."""

    class Kind(models.TextChoices):
        RULES = "rules", _("Rules (evaluated live)")
        STATIC = "static", _("Static list")

    class Match(models.TextChoices):
        ALL = "all", _("All conditions")
        ANY = "any", _("Any condition")

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.RULES)
    match = models.CharField(_("match"), max_length=4, choices=Match.choices, default=Match.ALL)
    rules = models.JSONField(_("rules"), default=list, blank=True)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["name"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="crm_segment_unique")
        ]

    def __str__(self) -> str:
        return self.name


class SegmentMember(CompanyOwned):
    """A party on a static list."""

    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="members", verbose_name=_("segment")
    )
    party = models.ForeignKey(
        "party.Party", on_delete=models.CASCADE, related_name="+", verbose_name=_("party")
    )
    added_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["segment_id", "party_id"]
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")
        constraints = [
            models.UniqueConstraint(fields=["segment", "party"], name="crm_segment_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.segment_id}/{self.party_id}"


class Campaign(CompanyOwned):
    """A marketing campaign: budget, channel, target segment, schedule, state and cost."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        EVENT = "event", _("Event")
        WEB = "web", _("Web")
        SOCIAL = "social", _("Social media")
        PRINT = "print", _("Print")
        OTHER = "other", _("Other")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    name = models.CharField(_("name"), max_length=120)
    code = models.SlugField(
        _("code"),
        max_length=60,
        help_text=_("Short code used in links and web forms (utm_campaign)."),
    )
    channel = models.CharField(
        _("channel"), max_length=8, choices=Channel.choices, default=Channel.EMAIL
    )
    segment = models.ForeignKey(
        Segment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
        verbose_name=_("target segment"),
    )
    budget = models.DecimalField(_("budget"), default=ZERO, **AMOUNT)
    cost = models.DecimalField(_("actual cost"), default=ZERO, **AMOUNT)
    currency = models.ForeignKey(
        "core.Currency", on_delete=models.PROTECT, related_name="+", verbose_name=_("currency")
    )
    start_date = models.DateField(_("start date"), null=True, blank=True)
    end_date = models.DateField(_("end date"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    language = models.CharField(
        _("default language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans"
    )
    holdout_percent = models.PositiveSmallIntegerField(
        _("control group (%)"),
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(50)],
        help_text=_(
            "Share of the e-mail recipients held out as a control group (0–50 %): they get no "
            "e-mail, so the campaign's uplift can be measured against them."
        ),
    )
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-start_date", "-id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="crm_campaign_code_unique"),
            models.CheckConstraint(
                condition=Q(budget__gte=0) & Q(cost__gte=0), name="crm_campaign_amounts"
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True)
                | Q(start_date__isnull=True)
                | Q(end_date__gte=models.F("start_date")),
                name="crm_campaign_period",
            ),
            models.CheckConstraint(
                condition=Q(holdout_percent__lte=50), name="crm_campaign_holdout"
            ),
        ]
        indexes = [models.Index(fields=["company", "state"], name="crm_campaign_state")]

    def __str__(self) -> str:
        return self.name


class Promotion(CompanyOwned):
    """A discount of a campaign, valid during the campaign: on every line (or the lines of
    `products`), or — as a bundle — on the lines of `products` when all of them are ordered
    together. With coupon codes it applies only to documents carrying one of them."""

    class Kind(models.TextChoices):
        LINES = "lines", _("Discount on products")
        BUNDLE = "bundle", _("Bundle (all products together)")

    class DiscountType(models.TextChoices):
        PERCENT = "percent", _("Percentage")
        FIXED = "fixed", _("Fixed amount per unit")

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="promotions", verbose_name=_("campaign")
    )
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.LINES)
    discount_type = models.CharField(
        _("discount type"),
        max_length=8,
        choices=DiscountType.choices,
        default=DiscountType.PERCENT,
    )
    value = models.DecimalField(_("discount"), **AMOUNT)
    products = models.ManyToManyField(
        "product.Product", blank=True, related_name="+", verbose_name=_("products")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["campaign_id", "pk"]
        verbose_name = _("promotion")
        verbose_name_plural = _("promotions")
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="crm_promotion_value"),
            models.CheckConstraint(
                condition=~Q(discount_type="percent") | Q(value__lte=100),
                name="crm_promotion_percent",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Coupon(CompanyOwned):
    """A code a customer gives to get a promotion; unique in the company."""

    promotion = models.ForeignKey(
        Promotion, on_delete=models.CASCADE, related_name="coupons", verbose_name=_("promotion")
    )
    code = models.CharField(_("code"), max_length=40)

    class Meta(CompanyOwned.Meta):
        ordering = ["code"]
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="crm_coupon_unique")
        ]

    def __str__(self) -> str:
        return self.code


class EmailTemplate(CompanyOwned):
    """The subject and body of a campaign's e-mail in one language, with merge fields
    (`{{ contact_name }}` …, see `xietong.crm.mailing.MERGE_FIELDS`)."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="templates", verbose_name=_("campaign")
    )
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))

    class Meta(CompanyOwned.Meta):
        ordering = ["campaign_id", "language"]
        verbose_name = _("e-mail template")
        verbose_name_plural = _("e-mail templates")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "language"], name="crm_template_unique")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.language}"


class Recipient(CompanyOwned):
    """One contact an e-mail campaign goes to, and what became of the e-mail."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SKIPPED = "skipped", _("Skipped (no marketing)")
        CONTROL = "control", _("Held out (control group)")
        SENT = "sent", _("Sent")
        BOUNCED = "bounced", _("Bounced")
        OPENED = "opened", _("Opened")
        CLICKED = "clicked", _("Clicked")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="recipients", verbose_name=_("campaign")
    )
    party = models.ForeignKey(
        "party.Party", on_delete=models.CASCADE, related_name="+", verbose_name=_("party")
    )
    contact = models.ForeignKey(
        "party.Contact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("contact"),
    )
    email = models.EmailField(_("e-mail"))
    language = models.CharField(_("language"), max_length=10, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    links = models.JSONField(_("links"), default=list, blank=True)
    error = models.CharField(_("error"), max_length=255, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["campaign_id", "pk"]
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "email"], name="crm_recipient_unique")
        ]
        indexes = [
            models.Index(fields=["campaign", "status"], name="crm_recipient_status"),
            models.Index(fields=["company", "party"], name="crm_recipient_party"),
        ]

    def __str__(self) -> str:
        return self.email


class EmailClick(CompanyOwned):
    """A click on a link of a campaign e-mail (through our redirect)."""

    recipient = models.ForeignKey(
        Recipient, on_delete=models.CASCADE, related_name="clicks", verbose_name=_("recipient")
    )
    url = models.URLField(_("link"), max_length=500)
    clicked_at = models.DateTimeField(_("clicked"))

    class Meta(CompanyOwned.Meta):
        ordering = ["clicked_at", "pk"]
        verbose_name = _("e-mail click")
        verbose_name_plural = _("e-mail clicks")

    def __str__(self) -> str:
        return self.url
