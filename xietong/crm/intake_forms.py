"""Forms of the lead-intake screens (territories, sales mailboxes, lead import); they parse
input, the services check it."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from xietong.core.ui.records import ShellForm
from xietong.crm.lead_import import MAX_BYTES, MAX_ROWS
from xietong.party.models import Country, Region

DUPLICATE_CHOICES = (
    ("report", _("Report them and import nothing")),
    ("skip", _("Skip them, import the other rows")),
    ("import", _("Import them too")),
)


def _people(users):  # type: ignore[no-untyped-def]
    return [(u.pk, u.get_full_name() or u.username) for u in users]


class TerritoryForm(ShellForm):
    name = forms.CharField(label=_("Name"), max_length=80)
    team = forms.TypedChoiceField(label=_("Sales team"), coerce=int)
    countries = forms.MultipleChoiceField(label=_("Countries"), required=False,
                                          widget=forms.SelectMultiple(attrs={"size": 6}))  # fmt: skip
    regions = forms.TypedMultipleChoiceField(label=_("Regions"), required=False, coerce=int,
                                             widget=forms.SelectMultiple(attrs={"size": 10}),
                                             help_text=_("A region covers its sub-regions; a "
                                                         "region match beats a country match."))  # fmt: skip
    members = forms.TypedMultipleChoiceField(label=_("Covered by"), required=False, coerce=int,
                                             widget=forms.CheckboxSelectMultiple,
                                             help_text=_("Members of the team."))  # fmt: skip
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, teams=(), users=(), **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "—"), *((t.pk, t.name) for t in teams)]
        self.fields["countries"].choices = [
            (c.code, f"{c.code} {c.name_zh or c.name}") for c in Country.objects.all()]  # fmt: skip
        groups: dict[str, list[tuple[int, str]]] = {}
        for region in Region.objects.order_by("country_id", "code"):
            groups.setdefault(region.country_id, []).append(
                (region.pk, f"{region.code} {region.name_zh or region.name}"))  # fmt: skip
        self.fields["regions"].choices = list(groups.items())
        self.fields["members"].choices = _people(users)


class MailboxForm(ShellForm):
    address = forms.EmailField(label=_("E-mail address"), max_length=254,
                               help_text=_("Mail to this address, or to address+tag where the "
                                           "tag is a campaign's code, becomes a lead."))  # fmt: skip
    team = forms.TypedChoiceField(label=_("Sales team"), coerce=int)
    campaign = forms.TypedChoiceField(label=_("Campaign"), required=False, coerce=int,
                                      empty_value=None)  # fmt: skip
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, teams=(), campaigns=(), **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "—"), *((t.pk, t.name) for t in teams)]
        self.fields["campaign"].choices = [("", "—"), *((c.pk, c.name) for c in campaigns)]


class LeadImportForm(ShellForm):
    file = forms.FileField(label=_("CSV or XLSX file"))
    team = forms.TypedChoiceField(label=_("Sales team"), coerce=int,
                                  help_text=_("Its assignment strategy chooses each lead's "
                                              "owner."))  # fmt: skip
    duplicates = forms.ChoiceField(label=_("Duplicates (same e-mail as a lead or customer)"),
                                   choices=DUPLICATE_CHOICES, initial="report")  # fmt: skip

    def __init__(self, *args, teams=(), **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "—"), *((t.pk, t.name) for t in teams)]
        self.fields["file"].help_text = _(
            "Columns: name, company_name, email, phone, country, region, campaign, description. "
            "At most %(rows)s rows and %(size)s MB.") % {"rows": MAX_ROWS,
                                                          "size": MAX_BYTES // 2**20}  # fmt: skip


class LeadImportConfirmForm(ShellForm):
    upload = forms.CharField(max_length=80, widget=forms.HiddenInput)
    filename = forms.CharField(max_length=255, widget=forms.HiddenInput)
    team = forms.TypedChoiceField(label=_("Sales team"), coerce=int)
    duplicates = forms.ChoiceField(label=_("Duplicates"), choices=DUPLICATE_CHOICES)

    def __init__(self, *args, teams=(), **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "—"), *((t.pk, t.name) for t in teams)]
