"""Screens of marketing: segments (list, new, edit, detail with a live preview of the members
and the static list's members), campaigns (list, new, edit, detail with state moves,
promotions, the e-mail templates, sending with a progress bar, and the results page), and the
public tracking endpoints of campaign e-mails (open pixel, click redirect, unsubscribe), which
need no login and answer 404 to a bad token.

Reading needs `crm.marketing.view`, changing `crm.marketing.manage`; each view declares it."""

from __future__ import annotations

import base64
import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from xietong.core.permissions import has_perm, public, requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import apply_errors, get_or_404
from xietong.crm import attribution, campaign_selectors, campaigns, mailing, segments
from xietong.crm.models import Campaign, Promotion, Recipient, Segment
from xietong.finance.views.common import Amount, Badge

STYLES = {"draft": "secondary", "scheduled": "info", "running": "primary", "done": "success",
          "cancelled": "dark"}  # fmt: skip
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(m for messages_ in exc.message_dict.values() for m in messages_)
    return " ".join(exc.messages)


def _badge(campaign: Campaign) -> Badge:
    return Badge(campaign.get_state_display(), STYLES.get(campaign.state, "secondary"))


# --- forms --------------------------------------------------------------------------------------


# What the campaign page's buttons say: the action that leads to each state, not its name.
MOVE_LABELS = {
    Campaign.State.DRAFT: pgettext_lazy("campaign action", "Back to draft"),
    Campaign.State.SCHEDULED: pgettext_lazy("campaign action", "Schedule"),
    Campaign.State.RUNNING: pgettext_lazy("campaign action", "Start"),
    Campaign.State.DONE: pgettext_lazy("campaign action", "Finish"),
    Campaign.State.CANCELLED: pgettext_lazy("campaign action", "Cancel the campaign"),
}


class SegmentForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Segment.Kind.choices)
    match = forms.ChoiceField(label=gettext_lazy("Match"), choices=Segment.Match.choices)
    rules = forms.CharField(
        label=gettext_lazy("Rules (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "form-control font-monospace"}),
        help_text=gettext_lazy(
            'A list of conditions, e.g. [{"field": "country", "op": "in", "value": ["CN"]}, '
            '{"field": "revenue", "op": "gte", "value": "10000", "days": 365}].'
        ),
    )
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea({"rows": 2})
    )

    def clean_rules(self) -> Any:
        text = self.cleaned_data.get("rules") or ""
        if not text.strip():
            return []
        try:
            return json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(_("The rules are not valid JSON.")) from exc


class CampaignForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    code = forms.CharField(label=gettext_lazy("Code"), max_length=60, required=False)
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), choices=Campaign.Channel.choices)
    segment = forms.ModelChoiceField(
        label=gettext_lazy("Target segment"), queryset=Segment.unscoped.none(), required=False
    )
    budget = forms.DecimalField(label=gettext_lazy("Budget"), min_value=0, required=False)
    cost = forms.DecimalField(label=gettext_lazy("Actual cost"), min_value=0, required=False)
    currency = forms.CharField(label=gettext_lazy("Currency"), max_length=3, required=False)
    start_date = forms.DateField(label=gettext_lazy("Start date"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))  # fmt: skip
    end_date = forms.DateField(label=gettext_lazy("End date"), required=False,
                               widget=forms.DateInput(attrs={"type": "date"}))  # fmt: skip
    language = forms.ChoiceField(label=gettext_lazy("Default language"),
                                 choices=settings.LANGUAGES)  # fmt: skip
    holdout_percent = forms.IntegerField(
        label=gettext_lazy("Control group (%)"), min_value=0, max_value=50, required=False,
        help_text=gettext_lazy("E-mail campaigns: the share of recipients who get no e-mail, to "
                               "measure the uplift against them."),
    )  # fmt: skip
    description = forms.CharField(label=gettext_lazy("Description"), required=False,
                                  widget=forms.Textarea({"rows": 3}))  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = Segment.objects.order_by("name")  # type: ignore[attr-defined]
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)


class PromotionForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Promotion.Kind.choices)
    discount_type = forms.ChoiceField(label=gettext_lazy("Discount type"),
                                      choices=Promotion.DiscountType.choices)  # fmt: skip
    value = forms.CharField(label=gettext_lazy("Discount"))
    products = forms.CharField(label=gettext_lazy("Products (SKUs, comma separated)"),
                               required=False)  # fmt: skip
    coupons = forms.CharField(label=gettext_lazy("Coupon codes (comma separated)"),
                              required=False)  # fmt: skip


for _form in (SegmentForm, PromotionForm):
    for _field in _form.base_fields.values():
        _css = "form-select" if isinstance(_field.widget, forms.Select) else "form-control"
        _field.widget.attrs.setdefault("class", _css)


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").replace("\n", ",").split(",") if part.strip()]


# --- segments -----------------------------------------------------------------------------------

SEGMENT_LIST = ListScreen(
    key="crm-segments",
    title=gettext_lazy("Segments"),
    columns=[
        Column("name", gettext_lazy("Segment"), order_by="name", link=True),
        Column(
            "kind", gettext_lazy("Kind"), accessor=lambda r: r.get_kind_display(), order_by="kind"
        ),
        Column("static_count", gettext_lazy("Listed members"), order_by="static_count"),
        Column("campaign_count", gettext_lazy("Campaigns"), order_by="campaign_count"),
        Column("updated_at", gettext_lazy("Updated"), order_by="updated_at"),
    ],  # fmt: skip
    search_fields=["name", "description"],
    filters=[
        Filter(
            "kind",
            gettext_lazy("Kind"),
            "kind",
            choices=lambda r: [(str(v), str(lb)) for v, lb in Segment.Kind.choices],
        ),
    ],  # fmt: skip
    default_sort="name",
    detail_url=lambda r: reverse("crm:segment_detail", args=[r.pk]),
)


@requires("crm.marketing.view")
def segment_list(request: HttpRequest) -> HttpResponse:
    actions = ([(_("New segment"), reverse("crm:segment_create"))]
               if has_perm(request, "crm.marketing.manage") else [])  # fmt: skip
    return list_response(request, SEGMENT_LIST, campaign_selectors.segments(),
                         extra={"actions": actions})  # fmt: skip


def _segment_form_page(request: HttpRequest, form: SegmentForm, title: str, cancel: str
                       ) -> HttpResponse:  # fmt: skip
    return render(request, "crm/marketing/segment_form.html", {
        "title": title, "form": form, "cancel_url": cancel,
        "fields": [(name, spec.label, spec.ops) for name, spec in segments.FIELDS.items()],
    })  # fmt: skip


@requires("crm.marketing.manage")
def segment_create(request: HttpRequest) -> HttpResponse:
    form = SegmentForm(request.POST or None, initial={"kind": "rules", "match": "all"})
    if request.method == "POST" and form.is_valid():
        try:
            segment = segments.segment_create(company=request.company, actor=request.user,
                                              **form.cleaned_data)  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Segment saved."))
            return redirect("crm:segment_detail", segment.pk)
    return _segment_form_page(request, form, _("New segment"), reverse("crm:segment_list"))


@requires("crm.marketing.manage")
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_or_404(Segment.objects.all(), pk)
    initial = {"name": segment.name, "kind": segment.kind, "match": segment.match,
               "rules": json.dumps(segment.rules, ensure_ascii=False),
               "description": segment.description}  # fmt: skip
    form = SegmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            segments.segment_update(segment=segment, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Segment saved."))
            return redirect("crm:segment_detail", segment.pk)
    return _segment_form_page(request, form, segment.name,
                              reverse("crm:segment_detail", args=[pk]))  # fmt: skip


@requires("crm.marketing.view")
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_or_404(Segment.objects.all(), pk)
    count, preview = segments.segment_preview(segment)
    return render(request, "crm/marketing/segment_detail.html", {
        "segment": segment, "count": count, "preview": preview,
        "rules": [segments.rule_text(c) for c in segment.rules or []],
        "can_manage": has_perm(request, "crm.marketing.manage"),
        "campaigns": list(segment.campaigns.order_by("-start_date", "-pk")[:20]),
    })  # fmt: skip


@require_POST
@requires("crm.marketing.manage")
def segment_member_add(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_or_404(Segment.objects.all(), pk)
    try:
        added = segments.segment_members_add(segment=segment, actor=request.user,
                                             parties=_split(request.POST.get("parties", "")))  # fmt: skip
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("%(n)s added to the list.") % {"n": added})
    return redirect("crm:segment_detail", pk)


@require_POST
@requires("crm.marketing.manage")
def segment_member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_or_404(Segment.objects.all(), pk)
    segments.segment_member_remove(segment=segment, actor=request.user,
                                   party=request.POST.get("party") or 0)  # fmt: skip
    messages.success(request, _("Taken off the list."))
    return redirect("crm:segment_detail", pk)


# --- campaigns ----------------------------------------------------------------------------------

CAMPAIGN_LIST = ListScreen(
    key="crm-campaigns",
    title=gettext_lazy("Campaigns"),
    columns=[
        Column("name", gettext_lazy("Campaign"), order_by="name", link=True),
        Column(
            "channel",
            gettext_lazy("Channel"),
            accessor=lambda r: r.get_channel_display(),
            order_by="channel",
        ),
        Column("segment", gettext_lazy("Segment"), accessor="segment", order_by="segment__name"),
        Column("start_date", gettext_lazy("Start"), order_by="start_date"),
        Column("end_date", gettext_lazy("End"), order_by="end_date"),
        Column(
            "budget",
            gettext_lazy("Budget"),
            accessor=lambda r: Amount(r.budget, r.currency_id),
            order_by="budget",
        ),
        Column(
            "cost",
            gettext_lazy("Cost"),
            accessor=lambda r: Amount(r.cost, r.currency_id),
            order_by="cost",
        ),
        Column("lead_count", gettext_lazy("Leads"), order_by="lead_count"),
        Column("state", gettext_lazy("State"), accessor=_badge, order_by="state"),
    ],  # fmt: skip
    search_fields=["name", "code", "description"],
    filters=[
        Filter(
            "state",
            gettext_lazy("State"),
            "state",
            choices=lambda r: [(str(v), str(lb)) for v, lb in Campaign.State.choices],
        ),
        Filter(
            "channel",
            gettext_lazy("Channel"),
            "channel",
            choices=lambda r: [(str(v), str(lb)) for v, lb in Campaign.Channel.choices],
        ),
    ],  # fmt: skip
    default_sort="-start_date",
    detail_url=lambda r: reverse("crm:campaign_detail", args=[r.pk]),
)


@requires("crm.marketing.view")
def campaign_list(request: HttpRequest) -> HttpResponse:
    actions = ([(_("New campaign"), reverse("crm:campaign_create"))]
               if has_perm(request, "crm.marketing.manage") else [])  # fmt: skip
    return list_response(request, CAMPAIGN_LIST, campaign_selectors.campaigns(),
                         extra={"actions": actions})  # fmt: skip


def _campaign_fields(data: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in data.items() if k != "name"}
    if not fields.get("currency"):
        fields.pop("currency", None)
    for key in ("budget", "cost", "holdout_percent"):
        if fields.get(key) is None:
            fields.pop(key, None)
    return fields


@requires("crm.marketing.manage")
def campaign_create(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None, initial={
        "channel": "email", "currency": request.company.base_currency_id,
        "language": campaigns.company_language(request.company)})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            campaign = campaigns.campaign_create(
                company=request.company, actor=request.user, name=form.cleaned_data["name"],
                **_campaign_fields(form.cleaned_data),
            )  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Campaign saved."))
            return redirect("crm:campaign_detail", campaign.pk)
    return render(request, "core/form.html", {"title": _("New campaign"), "form": form,
                                              "cancel_url": reverse("crm:campaign_list")})  # fmt: skip


def _campaign(pk: int) -> Campaign:
    try:
        return campaign_selectors.campaign_detail(pk)
    except (Campaign.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


@requires("crm.marketing.manage")
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    initial = {name: getattr(campaign, name) for name in (
        "name", "code", "channel", "budget", "cost", "start_date", "end_date", "language",
        "description", "holdout_percent")}  # fmt: skip
    initial.update(segment=campaign.segment_id, currency=campaign.currency_id)
    form = CampaignForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            campaigns.campaign_update(campaign=campaign, actor=request.user,
                                      name=form.cleaned_data["name"],
                                      **_campaign_fields(form.cleaned_data))  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Campaign saved."))
            return redirect("crm:campaign_detail", pk)
    return render(request, "core/form.html", {"title": campaign.name, "form": form,
                  "cancel_url": reverse("crm:campaign_detail", args=[pk])})  # fmt: skip


@requires("crm.marketing.view")
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    manage = has_perm(request, "crm.marketing.manage")
    job = None
    if request.GET.get("job", "").isdigit():
        from xietong.core.models import Job

        job = Job.objects.filter(pk=request.GET["job"], kind=mailing.JOB_KIND).first()
    return render(request, "crm/marketing/campaign_detail.html", {
        "campaign": campaign, "state_badge": _badge(campaign), "can_manage": manage,
        "moves": [(s, MOVE_LABELS[s])
                  for s in sorted(campaigns.TRANSITIONS[campaign.state])] if manage else [],
        "promotions": list(campaign.promotions.all()),
        "templates": list(campaign.templates.all()),
        "counts": mailing.delivery_counts(campaign),
        "recipients": list(Recipient.objects.filter(campaign=campaign)
                           .select_related("party", "contact").order_by("pk")[:100]),
        "promotion_form": PromotionForm(), "languages": settings.LANGUAGES,
        "merge_fields": list(mailing.MERGE_FIELDS), "job": job,
        "budget": Amount(campaign.budget, campaign.currency_id),
        "cost": Amount(campaign.cost, campaign.currency_id),
    })  # fmt: skip


@require_POST
@requires("crm.marketing.manage")
def campaign_state(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    try:
        campaigns.campaign_transition(campaign=campaign, actor=request.user,
                                      state=request.POST.get("state", ""))  # fmt: skip
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("The campaign is now %(state)s.")
                         % {"state": campaign.get_state_display()})  # fmt: skip
    return redirect("crm:campaign_detail", pk)


@require_POST
@requires("crm.marketing.manage")
def promotion_create(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    form = PromotionForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError({k: [e["message"] for e in v]
                                   for k, v in form.errors.get_json_data().items()})  # fmt: skip
        data = form.cleaned_data
        campaigns.promotion_create(
            campaign=campaign, actor=request.user, name=data["name"], kind=data["kind"],
            discount_type=data["discount_type"], value=data["value"],
            products=_split(data["products"]), coupons=_split(data["coupons"]),
        )  # fmt: skip
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("Promotion added."))
    return redirect("crm:campaign_detail", pk)


@require_POST
@requires("crm.marketing.manage")
def template_save(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    try:
        campaigns.template_save(campaign=campaign, actor=request.user,
                                language=request.POST.get("language", ""),
                                subject=request.POST.get("subject", ""),
                                body=request.POST.get("body", ""))  # fmt: skip
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("E-mail saved."))
    return redirect("crm:campaign_detail", pk)


@require_POST
@requires("crm.marketing.manage")
def campaign_send(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    try:
        job = mailing.email_campaign_send(campaign=campaign, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _messages(exc))
        return redirect("crm:campaign_detail", pk)
    messages.success(request, _("Sending started."))
    return redirect(reverse("crm:campaign_detail", args=[pk]) + f"?job={job.pk}")


@requires("crm.marketing.view")
def campaign_results(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    results = attribution.campaign_results(campaign)
    currency = campaign.currency_id
    return render(request, "crm/marketing/campaign_results.html", {
        "campaign": campaign, "r": results,
        "cost": Amount(campaign.cost, currency), "budget": Amount(campaign.budget, currency),
        "won_revenue": Amount(results.won_revenue, currency),
        "first_revenue": Amount(results.first_touch_revenue, currency),
        "last_revenue": Amount(results.last_touch_revenue, currency),
        "cost_per_lead": (Amount(results.cost_per_lead, currency)
                          if results.cost_per_lead is not None else None),
        "leads": list(campaign.leads.select_related("party").order_by("-created_at")[:50]),
    })  # fmt: skip


# --- public tracking ----------------------------------------------------------------------------


@public
def marketing_open(request: HttpRequest, token: str) -> HttpResponse:
    """The open-tracking pixel: a 1×1 GIF; 404 for a bad token."""
    if mailing.track_open(token=token) is None:
        raise Http404
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response


@public
def marketing_click(request: HttpRequest, token: str) -> HttpResponse:
    """Record the click and go to the link of the e-mail the token names; 404 otherwise."""
    url = mailing.track_click(token=token)
    if url is None:
        raise Http404
    return HttpResponseRedirect(url)


@public
@csrf_exempt  # the signed token is the authority; mail clients post one-click unsubscribes
def marketing_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: ask to confirm; POST: unsubscribe (also RFC 8058 one-click). 404 for a bad token."""
    if request.method == "POST":
        recipient = mailing.unsubscribe(token=token)
        done = True
    else:
        recipient = mailing.unsubscribe_recipient(token=token)
        done = False
    if recipient is None:
        raise Http404
    return render(request, "crm/marketing/unsubscribe.html",
                  {"recipient": recipient, "done": done, "token": token})  # fmt: skip


urlpatterns = [
    path("marketing/segments/", segment_list, name="segment_list"),
    path("marketing/segments/new/", segment_create, name="segment_create"),
    path("marketing/segments/<int:pk>/", segment_detail, name="segment_detail"),
    path("marketing/segments/<int:pk>/edit/", segment_edit, name="segment_edit"),
    path("marketing/segments/<int:pk>/members/add/", segment_member_add,
         name="segment_member_add"),
    path("marketing/segments/<int:pk>/members/remove/", segment_member_remove,
         name="segment_member_remove"),
    path("marketing/campaigns/", campaign_list, name="campaign_list"),
    path("marketing/campaigns/new/", campaign_create, name="campaign_create"),
    path("marketing/campaigns/<int:pk>/", campaign_detail, name="campaign_detail"),
    path("marketing/campaigns/<int:pk>/edit/", campaign_edit, name="campaign_edit"),
    path("marketing/campaigns/<int:pk>/state/", campaign_state, name="campaign_state"),
    path("marketing/campaigns/<int:pk>/promotions/", promotion_create, name="promotion_create"),
    path("marketing/campaigns/<int:pk>/template/", template_save, name="template_save"),
    path("marketing/campaigns/<int:pk>/send/", campaign_send, name="campaign_send"),
    path("marketing/campaigns/<int:pk>/results/", campaign_results, name="campaign_results"),
    path("marketing/t/o/<str:token>/", marketing_open, name="marketing_open"),
    path("marketing/t/c/<str:token>/", marketing_click, name="marketing_click"),
    path("marketing/unsubscribe/<str:token>/", marketing_unsubscribe,
         name="marketing_unsubscribe"),
]  # fmt: skip
