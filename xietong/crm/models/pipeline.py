"""The sales pipeline: sales teams with their pipeline stages, leads, opportunities, lost
reasons and the activities (calls, meetings, e-mails, tasks) on a lead or an opportunity.

A lead is an enquiry not yet known to be a customer; qualifying it makes (or reuses) a party,
a contact and an opportunity (`xietong.crm.services.lead_qualify`). An opportunity moves through
its team's stages; its probability follows the stage unless the salesperson overrides it, and it
ends won or lost (a lost one names a `LostReason`). Every write goes through the services, which
also write the customer timeline of the party."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xietong.core.tenancy import CompanyOwned

ZERO = Decimal(0)
AMOUNT = {"max_digits": 19, "decimal_places": 4}
PERCENT = {
    "max_digits": 5,
    "decimal_places": 2,
    "validators": [MinValueValidator(0), MaxValueValidator(100)],
}


def _user(verbose: object, *, related: str = "+") -> models.ForeignKey:
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name=related,
        verbose_name=verbose,
    )


class AssignmentStrategy(models.TextChoices):
    """The workflow dispatch strategies (xietong.workflow.dispatch.Strategy) a team uses."""

    LEAST_LOADED = "least_loaded", _("Least loaded (open opportunities weighted by revenue)")
    ROUND_ROBIN = "round_robin", _("Round robin")
    TERRITORY = "territory", _("Territory (least loaded among its members)")
    MANUAL = "manual", _("Manual")


class SalesTeam(CompanyOwned):
    """A group of salespeople with its own pipeline (stages) and assignment strategy."""

    name = models.CharField(_("name"), max_length=80)
    manager = _user(_("manager"))
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="crm_teams", verbose_name=_("members")
    )
    assignment = models.CharField(
        _("assignment"),
        max_length=20,
        choices=AssignmentStrategy.choices,
        default=AssignmentStrategy.LEAST_LOADED,
    )
    last_assigned = _user(_("last assigned (round robin)"))
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["name"]
        verbose_name = _("sales team")
        verbose_name_plural = _("sales teams")
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="crm_team_unique")]

    def __str__(self) -> str:
        return self.name


class PipelineStage(CompanyOwned):
    """A column of a team's pipeline; `probability` is the default chance of winning there."""

    team = models.ForeignKey(
        SalesTeam, on_delete=models.CASCADE, related_name="stages", verbose_name=_("team")
    )
    name = models.CharField(_("name"), max_length=60)
    sequence = models.PositiveSmallIntegerField(_("sequence"), default=10)
    probability = models.DecimalField(_("probability (%)"), default=ZERO, **PERCENT)
    is_won = models.BooleanField(_("won stage"), default=False)
    is_lost = models.BooleanField(_("lost stage"), default=False)

    class Meta(CompanyOwned.Meta):
        ordering = ["team_id", "sequence", "pk"]
        verbose_name = _("pipeline stage")
        verbose_name_plural = _("pipeline stages")
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="crm_stage_unique"),
            models.CheckConstraint(
                condition=Q(probability__gte=0) & Q(probability__lte=100),
                name="crm_stage_probability",
            ),
            models.CheckConstraint(
                condition=~(Q(is_won=True) & Q(is_lost=True)), name="crm_stage_won_or_lost"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class LostReason(CompanyOwned):
    name = models.CharField(_("name"), max_length=80)
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["name"]
        verbose_name = _("lost reason")
        verbose_name_plural = _("lost reasons")
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="crm_lost_reason_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Lead(CompanyOwned):
    """An enquiry from a web form, an import, an e-mail or entered by hand."""

    class Source(models.TextChoices):
        WEB_FORM = "web_form", _("Web form")
        IMPORT = "import", _("Import")
        EMAIL = "email", _("E-mail")
        MANUAL = "manual", _("Manual")
        OTHER = "other", _("Other")

    class State(models.TextChoices):
        NEW = "new", _("New")
        QUALIFIED = "qualified", _("Qualified")
        DISQUALIFIED = "disqualified", _("Disqualified")

    name = models.CharField(_("contact name"), max_length=120)
    company_name = models.CharField(_("company name"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.MANUAL
    )
    campaign = models.CharField(_("campaign"), max_length=120, blank=True)
    marketing_campaign = models.ForeignKey(
        "crm.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
        verbose_name=_("marketing campaign"),
    )
    description = models.TextField(_("description"), blank=True)
    country = models.ForeignKey(
        "party.Country",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("country"),
    )
    region = models.ForeignKey(
        "party.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("region"),
    )
    team = models.ForeignKey(
        SalesTeam,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leads",
        verbose_name=_("team"),
    )
    owner = _user(_("owner"))
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.NEW)
    disqualify_reason = models.CharField(_("reason"), max_length=200, blank=True)
    party = models.ForeignKey(
        "party.Party",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("customer"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    qualified_at = models.DateTimeField(_("qualified"), null=True, blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-created_at", "-id"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [models.Index(fields=["company", "state", "-created_at"], name="crm_lead_state")]

    def __str__(self) -> str:
        return f"{self.company_name} – {self.name}" if self.company_name else self.name


class Opportunity(CompanyOwned):
    """A possible sale to a party, in a stage of its team's pipeline."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    name = models.CharField(_("name"), max_length=200)
    party = models.ForeignKey(
        "party.Party", on_delete=models.PROTECT, related_name="+", verbose_name=_("customer")
    )
    contact = models.ForeignKey(
        "party.Contact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("contact"),
    )
    team = models.ForeignKey(
        SalesTeam, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("team")
    )
    stage = models.ForeignKey(
        PipelineStage,
        on_delete=models.PROTECT,
        related_name="opportunities",
        verbose_name=_("stage"),
    )
    owner = _user(_("owner"))
    lead = models.ForeignKey(
        Lead,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="opportunities",
        verbose_name=_("lead"),
    )
    expected_revenue = models.DecimalField(_("expected revenue"), default=ZERO, **AMOUNT)
    currency = models.ForeignKey(
        "core.Currency", on_delete=models.PROTECT, related_name="+", verbose_name=_("currency")
    )
    probability = models.DecimalField(_("probability (%)"), default=ZERO, **PERCENT)
    probability_overridden = models.BooleanField(_("probability set by hand"), default=False)
    close_date = models.DateField(_("expected close date"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.OPEN)
    lost_reason = models.ForeignKey(
        LostReason,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("lost reason"),
    )
    lost_note = models.CharField(_("lost note"), max_length=255, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-created_at", "-id"]
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__gte=0) & Q(probability__lte=100),
                name="crm_opportunity_probability",
            ),
            models.CheckConstraint(
                condition=Q(expected_revenue__gte=0), name="crm_opportunity_revenue"
            ),
            models.CheckConstraint(
                condition=~Q(state="lost") | Q(lost_reason__isnull=False),
                name="crm_opportunity_lost_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "team", "state"], name="crm_opp_team_state"),
            models.Index(fields=["company", "owner", "state"], name="crm_opp_owner_state"),
            models.Index(fields=["company", "state", "close_date"], name="crm_opp_close"),
            # the kanban's columns: the first cards of a stage by close date
            models.Index(fields=["stage", "close_date", "id"], name="crm_opp_stage_close"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def weighted_revenue(self) -> Decimal:
        """Expected revenue × probability, to 4 decimals (as stored amounts)."""
        return (self.expected_revenue * self.probability / 100).quantize(Decimal("0.0001"))


class SalesTarget(CompanyOwned):
    """What a team (or one of its salespeople) is to win in a period, in the company currency;
    attainment is the revenue of the opportunities won in the period
    (`xietong.crm.selectors.targets_with_attainment`)."""

    team = models.ForeignKey(
        SalesTeam, on_delete=models.CASCADE, related_name="targets", verbose_name=_("team")
    )
    user = _user(_("salesperson"))
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    amount = models.DecimalField(_("target"), **AMOUNT)

    class Meta(CompanyOwned.Meta):
        ordering = ["-period_start", "team_id", "user_id"]
        verbose_name = _("sales target")
        verbose_name_plural = _("sales targets")
        constraints = [
            models.UniqueConstraint(
                fields=["team", "user", "period_start"],
                condition=Q(user__isnull=False),
                name="crm_target_user_unique",
            ),
            models.UniqueConstraint(
                fields=["team", "period_start"],
                condition=Q(user__isnull=True),
                name="crm_target_team_unique",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="crm_target_amount"),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="crm_target_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team_id}/{self.user_id or '-'} {self.period_start}"


class Activity(CompanyOwned):
    """A call, meeting, e-mail or task to do about a lead or an opportunity."""

    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        MEETING = "meeting", _("Meeting")
        EMAIL = "email", _("E-mail")
        TASK = "task", _("Task")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.CALL)
    subject = models.CharField(_("subject"), max_length=200)
    note = models.TextField(_("note"), blank=True)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    owner = _user(_("owner"))
    lead = models.ForeignKey(
        Lead,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="activities",
        verbose_name=_("lead"),
    )
    opportunity = models.ForeignKey(
        Opportunity,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="activities",
        verbose_name=_("opportunity"),
    )
    done = models.BooleanField(_("done"), default=False)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    # when its owner was e-mailed that it is due (`xietong.crm.reminders`): once per activity
    reminded_at = models.DateTimeField(_("reminded"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["done", "due_date", "due_at", "pk"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        constraints = [
            models.CheckConstraint(
                condition=(Q(lead__isnull=False) & Q(opportunity__isnull=True))
                | (Q(lead__isnull=True) & Q(opportunity__isnull=False)),
                name="crm_activity_on_one_record",
            )
        ]
        indexes = [
            models.Index(fields=["company", "owner", "done"], name="crm_activity_owner"),
            models.Index(
                fields=["due_date"],
                condition=Q(done=False, reminded_at__isnull=True),
                name="crm_activity_to_remind",
            ),
        ]

    def __str__(self) -> str:
        return self.subject
