"""Forms of the customer-service screens: they parse and offer choices of the user's company;
the services validate and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from xietong.core.models import Company
from xietong.crm.models import ServiceCategory, Ticket, TicketPriority
from xietong.inventory.models import Lot
from xietong.party.models import Party
from xietong.product.models import Product
from xietong.sales import selectors as sales_selectors

CONTROL = {"class": "form-control"}
SELECT = {"class": "form-select"}


class TicketForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200,
                              widget=forms.TextInput(attrs=CONTROL))  # fmt: skip
    description = forms.CharField(label=_("Description"), required=False,
                                  widget=forms.Textarea(attrs={**CONTROL, "rows": 5}))  # fmt: skip
    party = forms.ModelChoiceField(label=_("Customer"), queryset=Party.unscoped.none(),
                                   required=False, widget=forms.Select(attrs=SELECT))  # fmt: skip
    requester_email = forms.EmailField(label=_("Requester's e-mail"), required=False,
                                       widget=forms.EmailInput(attrs=CONTROL))  # fmt: skip
    channel = forms.ChoiceField(label=_("Channel"), widget=forms.Select(attrs=SELECT),
                                choices=[(Ticket.Channel.PHONE, _("Phone")),
                                         (Ticket.Channel.WEB, _("Web form")),
                                         (Ticket.Channel.EMAIL, _("E-mail"))])  # fmt: skip
    category = forms.ModelChoiceField(label=_("Category"), queryset=ServiceCategory.unscoped.none(),
                                      required=False, widget=forms.Select(attrs=SELECT))  # fmt: skip
    priority = forms.ChoiceField(label=_("Priority"), choices=TicketPriority.choices,
                                 initial=TicketPriority.NORMAL, widget=forms.Select(attrs=SELECT))  # fmt: skip
    sales_order = forms.ModelChoiceField(label=_("Sales order"), queryset=sales_selectors.company_orders(company_id=0).none(),
                                         required=False, widget=forms.Select(attrs=SELECT))  # fmt: skip
    product = forms.ModelChoiceField(label=_("Product"), queryset=Product.unscoped.none(),
                                     required=False, widget=forms.Select(attrs=SELECT))  # fmt: skip
    lot = forms.CharField(label=_("Lot or serial number"), required=False, max_length=80,
                          widget=forms.TextInput(attrs=CONTROL))  # fmt: skip

    def __init__(self, *args: Any, company: Company, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.company = company
        self.fields["party"].queryset = Party.unscoped.filter(company=company, is_customer=True)  # type: ignore[attr-defined]
        self.fields["category"].queryset = ServiceCategory.unscoped.filter(company=company,  # type: ignore[attr-defined]
                                                                           active=True)  # fmt: skip
        self.fields["sales_order"].queryset = sales_selectors.company_orders(company_id=company.pk)  # type: ignore[attr-defined]
        self.fields["product"].queryset = Product.unscoped.filter(company=company)  # type: ignore[attr-defined]

    def clean_lot(self) -> Lot | None:
        name = (self.cleaned_data.get("lot") or "").strip()
        if not name:
            return None
        lots = Lot.unscoped.filter(company=self.company, name=name)
        if len(lots) != 1:
            raise forms.ValidationError(_("No single lot or serial number has this name."))
        return lots[0]


class ArticleForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200, widget=forms.TextInput(attrs=CONTROL))
    body = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={**CONTROL, "rows": 10}))
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES,
                                 widget=forms.Select(attrs=SELECT))  # fmt: skip
    category = forms.ModelChoiceField(label=_("Category"), queryset=ServiceCategory.unscoped.none(),
                                      required=False, widget=forms.Select(attrs=SELECT))  # fmt: skip
    publish = forms.BooleanField(label=_("Publish"), required=False)

    def __init__(self, *args: Any, company: Company, with_meta: bool = True, **kwargs: Any
                 ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = ServiceCategory.unscoped.filter(company=company)  # type: ignore[attr-defined]
        if not with_meta:
            for name in ("category", "publish"):
                del self.fields[name]


class SurveyForm(forms.Form):
    score = forms.TypedChoiceField(label=_("How satisfied are you with our help?"), coerce=int,
                                   choices=[(n, str(n)) for n in range(5, 0, -1)],
                                   widget=forms.RadioSelect)  # fmt: skip
    comment = forms.CharField(label=_("Comment"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={**CONTROL, "rows": 4}))  # fmt: skip


class SupportForm(forms.Form):
    """The public support form; `website` is a trap for robots (people leave it empty)."""

    name = forms.CharField(label=_("Your name"), max_length=120,
                           widget=forms.TextInput(attrs=CONTROL))  # fmt: skip
    email = forms.EmailField(label=_("Your e-mail"), widget=forms.EmailInput(attrs=CONTROL))
    subject = forms.CharField(label=_("Subject"), max_length=200,
                              widget=forms.TextInput(attrs=CONTROL))  # fmt: skip
    description = forms.CharField(label=_("How can we help?"), max_length=5000,
                                  widget=forms.Textarea(attrs={**CONTROL, "rows": 6}))  # fmt: skip
    website = forms.CharField(required=False, widget=forms.TextInput(
        attrs={"tabindex": "-1", "autocomplete": "off", "class": "d-none"}))  # fmt: skip
