"""Lead intake: sales territories and the sales mailboxes that turn e-mail into leads.

A territory is a set of countries and regions (a region covers its sub-regions, following
`party.Region.parent`) covered by some members of one sales team. A team whose assignment is
"territory" (`xietong.crm.assignment`) gives a lead or an opportunity to the least-loaded
member covering the most specific territory that matches it: a region match beats a country
match, a deeper region beats its parent.

A sales mailbox is an address of the company (sales@…) whose mail becomes leads of a team
(`xietong.crm.lead_inbound`), optionally of a marketing campaign; a plus-tag (sales+spring@…)
names a campaign by its code."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from xietong.core.tenancy import CompanyOwned


class Territory(CompanyOwned):
    """Countries and regions covered by some members of a sales team."""

    name = models.CharField(_("name"), max_length=80)
    team = models.ForeignKey(
        "crm.SalesTeam",
        on_delete=models.CASCADE,
        related_name="territories",
        verbose_name=_("team"),
    )
    countries = models.ManyToManyField(
        "party.Country", blank=True, related_name="+", verbose_name=_("countries")
    )
    regions = models.ManyToManyField(
        "party.Region",
        blank=True,
        related_name="+",
        verbose_name=_("regions"),
        help_text=_("A region covers its sub-regions."),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="crm_territories",
        verbose_name=_("covered by"),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["team_id", "name"]
        verbose_name = _("territory")
        verbose_name_plural = _("territories")
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="crm_territory_unique")
        ]

    def __str__(self) -> str:
        return self.name


class LeadMailbox(CompanyOwned):
    """An address whose inbound mail becomes leads of `team` (source e-mail)."""

    address = models.EmailField(_("address"))
    team = models.ForeignKey(
        "crm.SalesTeam",
        on_delete=models.CASCADE,
        related_name="mailboxes",
        verbose_name=_("team"),
    )
    campaign = models.ForeignKey(
        "crm.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("campaign"),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["address"]
        verbose_name = _("sales mailbox")
        verbose_name_plural = _("sales mailboxes")
        constraints = [
            models.UniqueConstraint(fields=["company", "address"], name="crm_mailbox_unique")
        ]

    def __str__(self) -> str:
        return self.address


class LeadMessage(CompanyOwned):
    """An inbound e-mail that made a lead, by its Message-ID: a second delivery of the same
    message finds it here and creates nothing."""

    message_id = models.CharField(_("Message-ID"), max_length=255)
    lead = models.ForeignKey(
        "crm.Lead", on_delete=models.CASCADE, related_name="messages", verbose_name=_("lead")
    )
    mailbox = models.ForeignKey(
        LeadMailbox,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("mailbox"),
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-received_at", "-id"]
        verbose_name = _("lead e-mail")
        verbose_name_plural = _("lead e-mails")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "message_id"], name="crm_lead_message_unique"
            )
        ]

    def __str__(self) -> str:
        return self.message_id
