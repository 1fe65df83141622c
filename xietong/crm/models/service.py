"""Customer service and support: tickets with their message thread, the categories and SLA
policies that route and time them, the business-hours calendars the SLA clocks run on, the
knowledge base (articles in several languages, translations linked to their original), the
warranty rules per product category and the satisfaction surveys sent after resolution.

Every write goes through `xietong.crm.tickets` (and its purpose-named helpers `sla`,
`inbound`, `knowledge`, `warranty`), which also write the customer timeline."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xietong.core.tenancy import CompanyOwned

__all__ = [
    "BusinessCalendar",
    "KnowledgeArticle",
    "SatisfactionSurvey",
    "ServiceCategory",
    "SlaPolicy",
    "Ticket",
    "TicketMessage",
    "TicketPriority",
    "WarrantyRule",
]


def _user(verbose: object, *, related: str = "+") -> models.ForeignKey:
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name=related,
        verbose_name=verbose,
    )


def _weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


def _empty() -> list[str]:
    return []


class TicketPriority(models.TextChoices):
    URGENT = "urgent", _("Urgent")
    HIGH = "high", _("High")
    NORMAL = "normal", _("Normal")
    LOW = "low", _("Low")


class BusinessCalendar(CompanyOwned):
    """Working hours on which SLA clocks run: the same hours (`start`–`end`, in the company's
    time zone) on each working weekday (0 = Monday), except on `holidays` (ISO dates)."""

    name = models.CharField(_("name"), max_length=80)
    weekdays = models.JSONField(_("working weekdays (0 = Monday)"), default=_weekdays)
    start = models.TimeField(_("work starts"), default=dt.time(9, 0))
    end = models.TimeField(_("work ends"), default=dt.time(18, 0))
    holidays = models.JSONField(_("holidays"), default=_empty, blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["name"]
        verbose_name = _("business-hours calendar")
        verbose_name_plural = _("business-hours calendars")
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="crm_calendar_unique"),
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="crm_calendar_hours"
            ),  # fmt: skip
        ]

    def __str__(self) -> str:
        return self.name


class ServiceCategory(CompanyOwned):
    """What a ticket is about (repair, delivery, invoice …); `skill` is what an agent needs to
    get its tickets (matched against the memberships' skills)."""

    name = models.CharField(_("name"), max_length=80)
    skill = models.CharField(_("skill needed"), max_length=40, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["name"]
        verbose_name = _("service category")
        verbose_name_plural = _("service categories")
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="crm_service_category_unique")
        ]

    def __str__(self) -> str:
        return self.name


class SlaPolicy(CompanyOwned):
    """Targets for a priority and a customer tier (a customer group; none: every customer not in
    a group with a policy of its own), in business hours of `calendar`. A ticket is at risk once
    `at_risk_percent` of a target's time is used up."""

    name = models.CharField(_("name"), max_length=80)
    priority = models.CharField(_("priority"), max_length=8, choices=TicketPriority.choices)
    customer_group = models.ForeignKey(
        "party.CustomerGroup",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("customer tier (group)"),
    )
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.PROTECT, related_name="+", verbose_name=_("calendar")
    )
    first_response_hours = models.DecimalField(
        _("first response (business hours)"), max_digits=7, decimal_places=2,
        validators=[MinValueValidator(0)],
    )  # fmt: skip
    resolution_hours = models.DecimalField(
        _("resolution (business hours)"), max_digits=7, decimal_places=2,
        validators=[MinValueValidator(0)],
    )  # fmt: skip
    at_risk_percent = models.PositiveSmallIntegerField(
        # xgettext:no-python-format
        _("at risk after (% of the target)"), default=75,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )  # fmt: skip
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["priority", "name"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="crm_sla_unique"),
            models.CheckConstraint(
                condition=Q(first_response_hours__gt=0) & Q(resolution_hours__gt=0),
                name="crm_sla_positive",
            ),  # fmt: skip
        ]

    def __str__(self) -> str:
        return self.name


class Ticket(CompanyOwned):
    """A customer's request for help. `state`: new → open → waiting (on the customer) →
    resolved → closed, reopened from resolved/closed. SLA due times are stored here and moved
    on by the time the ticket waited on the customer."""

    class State(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", _("Open")
        WAITING = "waiting", _("Waiting on customer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    class Channel(models.TextChoices):
        WEB = "web", _("Web form")
        EMAIL = "email", _("E-mail")
        PHONE = "phone", _("Phone")
        PORTAL = "portal", _("Portal")

    class Sla(models.TextChoices):
        NONE = "none", _("No SLA")
        OK = "ok", _("On track")
        AT_RISK = "at_risk", _("At risk")
        BREACHED = "breached", _("Breached")

    number = models.CharField(_("number"), max_length=40)
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    party = models.ForeignKey(
        "party.Party", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("customer"),
    )  # fmt: skip
    contact = models.ForeignKey(
        "party.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("contact"),
    )  # fmt: skip
    requester_name = models.CharField(_("requester"), max_length=120, blank=True)
    requester_email = models.EmailField(_("requester's e-mail"), blank=True)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices,
                               default=Channel.PHONE)  # fmt: skip
    category = models.ForeignKey(
        ServiceCategory, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("category"),
    )  # fmt: skip
    priority = models.CharField(_("priority"), max_length=8, choices=TicketPriority.choices,
                                default=TicketPriority.NORMAL)  # fmt: skip
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.NEW)
    assignee = _user(_("assignee"))
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES,
                                default="zh-hans")  # fmt: skip
    sales_order = models.ForeignKey(
        "sales.SalesOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("sales order"),
    )  # fmt: skip
    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("product"),
    )  # fmt: skip
    lot = models.ForeignKey(
        "inventory.Lot", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("lot or serial number"),
    )  # fmt: skip
    rma = models.ForeignKey(
        "sales.ReturnOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("return (RMA)"),
    )  # fmt: skip
    sla_policy = models.ForeignKey(
        SlaPolicy, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("SLA policy"),
    )  # fmt: skip
    sla_state = models.CharField(_("SLA"), max_length=8, choices=Sla.choices, default=Sla.NONE)
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    sla_risk_at = models.DateTimeField(_("at risk from"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    first_response_met = models.BooleanField(_("first response in time"), null=True)
    resolution_met = models.BooleanField(_("resolved in time"), null=True)
    sla_started_at = models.DateTimeField(_("SLA clock started"), null=True, blank=True)
    sla_paused_seconds = models.PositiveIntegerField(_("business seconds paused"), default=0)
    waiting_since = models.DateTimeField(_("waiting since"), null=True, blank=True)
    escalation = models.ForeignKey(
        "workflow.ProcessInstance", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("escalation process"),
    )  # fmt: skip
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    reopened = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-created_at", "-id"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="crm_ticket_number"),
        ]
        indexes = [
            models.Index(fields=["company", "state", "sla_risk_at"], name="crm_ticket_risk"),
            models.Index(fields=["company", "assignee", "state"], name="crm_ticket_assignee"),
            models.Index(fields=["company", "party", "state"], name="crm_ticket_party"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"

    @property
    def is_active(self) -> bool:
        return self.state in (self.State.NEW, self.State.OPEN, self.State.WAITING)


class TicketMessage(CompanyOwned):
    """One entry of a ticket's thread: a message from the customer, a reply to them, or an
    internal note. `message_id` (RFC 5322 Message-ID, without brackets) makes inbound mail
    idempotent and threads replies."""

    class Kind(models.TextChoices):
        INBOUND = "inbound", _("From the customer")
        REPLY = "reply", _("Reply to the customer")
        NOTE = "note", _("Internal note")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages",
                               verbose_name=_("ticket"))  # fmt: skip
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    author = _user(_("author"))
    from_email = models.CharField(_("from"), max_length=254, blank=True)
    body = models.TextField(_("text"))
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    attachments = models.JSONField(_("attachments"), default=list, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["created_at", "id"]
        verbose_name = _("ticket message")
        verbose_name_plural = _("ticket messages")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "message_id"],
                condition=~Q(message_id=""),
                name="crm_ticket_message_id",
            ),  # fmt: skip
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.get_kind_display()}"


class KnowledgeArticle(CompanyOwned):
    """A knowledge-base article in one language; its translations point at it
    (`translation_of`), so one article is a group: the original and its translations."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        ARCHIVED = "archived", _("Archived")

    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES,
                                default="zh-hans")  # fmt: skip
    translation_of = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="translations",
        verbose_name=_("translation of"),
    )  # fmt: skip
    category = models.ForeignKey(
        ServiceCategory, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("category"),
    )  # fmt: skip
    state = models.CharField(_("state"), max_length=10, choices=State.choices,
                             default=State.DRAFT)  # fmt: skip
    source_ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("written from ticket"),
    )  # fmt: skip
    author = _user(_("author"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["title", "id"]
        verbose_name = _("knowledge-base article")
        verbose_name_plural = _("knowledge-base articles")
        constraints = [
            models.UniqueConstraint(
                fields=["translation_of", "language"], name="crm_article_one_translation"
            ),  # fmt: skip
        ]

    def __str__(self) -> str:
        return self.title


class WarrantyRule(CompanyOwned):
    """How many months of warranty products of a category carry from their delivery (no
    category: the company's default for the others)."""

    product_category = models.ForeignKey(
        "product.Category", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("product category"),
    )  # fmt: skip
    months = models.PositiveSmallIntegerField(_("warranty (months)"),
                                              validators=[MaxValueValidator(240)])  # fmt: skip

    class Meta(CompanyOwned.Meta):
        verbose_name = _("warranty rule")
        verbose_name_plural = _("warranty rules")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "product_category"], name="crm_warranty_category"
            ),  # fmt: skip
            models.UniqueConstraint(
                fields=["company"], condition=Q(product_category=None), name="crm_warranty_default"
            ),  # fmt: skip
        ]

    def __str__(self) -> str:
        return f"{self.product_category or '*'}: {self.months}"


class SatisfactionSurvey(CompanyOwned):
    """The survey of a resolved ticket, answered once through its public tokenised link."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="survey",
                                  verbose_name=_("ticket"))  # fmt: skip
    token = models.CharField(_("token"), max_length=64, unique=True)
    score = models.PositiveSmallIntegerField(
        _("score"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(_("comment"), blank=True)
    sent_at = models.DateTimeField(_("sent"), auto_now_add=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-sent_at", "-id"]
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")
        constraints = [
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=1, score__lte=5),
                name="crm_survey_score",
            ),  # fmt: skip
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.score or '-'}"
