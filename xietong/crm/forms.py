"""Forms of the sales-pipeline screens; they parse input, the services check it."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from xietong.core.forms import DateInput
from xietong.core.ui.records import ShellForm
from xietong.crm.models import Activity, AssignmentStrategy, Lead
from xietong.party.models import Country, Region


class LeadForm(ShellForm):
    name = forms.CharField(label=_("Contact name"), max_length=120)
    company_name = forms.CharField(label=_("Company name"), max_length=200, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    source = forms.ChoiceField(label=_("Source"), choices=Lead.Source.choices,
                               initial=Lead.Source.MANUAL)  # fmt: skip
    campaign = forms.CharField(label=_("Campaign"), max_length=120, required=False)
    team = forms.TypedChoiceField(label=_("Sales team"), required=False, coerce=int,
                                  empty_value=None)  # fmt: skip
    country = forms.ChoiceField(label=_("Country"), required=False)
    region = forms.TypedChoiceField(label=_("Region"), required=False, coerce=int,
                                    empty_value=None,
                                    help_text=_("Where the lead is: its team's territories "
                                                "match it."))  # fmt: skip
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(
        attrs={"rows": 3}))  # fmt: skip

    def __init__(self, *args, teams=(), **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "—"), *((t.pk, t.name) for t in teams)]
        self.fields["country"].choices = [("", "—"), *(
            (c.code, f"{c.code} {c.name_zh or c.name}") for c in Country.objects.all())]  # fmt: skip
        groups: dict[str, list[tuple[int, str]]] = {}
        for region in Region.objects.order_by("country_id", "code"):
            groups.setdefault(region.country_id, []).append(
                (region.pk, f"{region.code} {region.name_zh or region.name}"))  # fmt: skip
        self.fields["region"].choices = [("", "—"), *groups.items()]


class QualifyForm(ShellForm):
    party = forms.TypedChoiceField(label=_("Customer"), required=False, coerce=int,
                                   empty_value=None)  # fmt: skip
    create_party = forms.BooleanField(label=_("Create a new customer"), required=False)
    team = forms.TypedChoiceField(label=_("Sales team"), required=False, coerce=int,
                                  empty_value=None)  # fmt: skip
    name = forms.CharField(label=_("Opportunity"), max_length=200, required=False)
    expected_revenue = forms.DecimalField(label=_("Expected revenue"), required=False,
                                          max_digits=19, decimal_places=4, min_value=0)  # fmt: skip
    close_date = forms.DateField(label=_("Expected close date"), required=False,
                                 widget=DateInput())  # fmt: skip

    def __init__(self, *args, teams=(), candidates=(), **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "—"), *((t.pk, t.name) for t in teams)]
        self.fields["party"].choices = [("", "—"), *((c.party.pk, c.describe())
                                                      for c in candidates)]  # fmt: skip


class ActivityForm(ShellForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=Activity.Kind.choices)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    due_date = forms.DateField(label=_("Due date"), required=False, widget=DateInput())
    note = forms.CharField(label=_("Note"), required=False)
    done = forms.BooleanField(label=_("Done already"), required=False)


class LostForm(ShellForm):
    lost_reason = forms.TypedChoiceField(label=_("Lost reason"), coerce=int, required=False,
                                         empty_value=None)  # fmt: skip
    note = forms.CharField(label=_("Note"), max_length=255, required=False)

    def __init__(self, *args, reasons=(), **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["lost_reason"].choices = [("", "—"), *((r.pk, r.name) for r in reasons)]


class TeamForm(ShellForm):
    name = forms.CharField(label=_("Name"), max_length=80)
    manager = forms.TypedChoiceField(label=_("Manager (team leader)"), required=False,
                                     coerce=int, empty_value=None)  # fmt: skip
    assignment = forms.ChoiceField(label=_("Assignment"), choices=AssignmentStrategy.choices)
    members = forms.TypedMultipleChoiceField(label=_("Members"), required=False, coerce=int,
                                             widget=forms.CheckboxSelectMultiple)  # fmt: skip
    active = forms.BooleanField(label=_("Active"), required=False)

    def __init__(self, *args, users=(), **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        choices = [(u.pk, u.get_full_name() or u.username) for u in users]
        self.fields["manager"].choices = [("", "—"), *choices]
        self.fields["members"].choices = choices
