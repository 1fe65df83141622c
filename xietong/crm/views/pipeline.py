"""Screens of the sales pipeline: leads (list, new, detail with the duplicate candidates and
qualification), opportunities (list, detail with stage moves, won/lost and activities), the
kanban board of a team (drag and drop between stages, or a "move to" select on each card) and
the weighted forecast. Each view parses input, calls one service or selector and renders; its
permission is declared right on it (`@requires`). Who sees what is the selectors' rule: all
teams with `crm.manage`, else one's own teams."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import apply_errors, get_or_404
from xietong.crm import selectors, services
from xietong.crm.forms import ActivityForm, LeadForm, LostForm, QualifyForm, TeamForm
from xietong.crm.models import (
    Activity,
    AssignmentStrategy,
    Lead,
    Opportunity,
    PipelineStage,
    SalesTeam,
)
from xietong.finance.views.common import Amount, Badge
from xietong.party.selectors import salespeople, timeline_for
from xietong.sales import selectors as sales_selectors
from xietong.sales import services as sales_services

STYLES = {"new": "info", "qualified": "success", "disqualified": "secondary", "open": "info",
          "won": "success", "lost": "danger"}  # fmt: skip


def _see_all(request: HttpRequest) -> bool:
    return has_perm(request, "crm.manage")


def _badge(obj: Any) -> Badge:
    return Badge(obj.get_state_display(), STYLES.get(obj.state, "secondary"))


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(m for messages_ in exc.message_dict.values() for m in messages_)
    return " ".join(exc.messages)


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


def _stages(request: HttpRequest) -> list[PipelineStage]:
    teams = selectors.teams_visible(user=request.user, see_all=_see_all(request))
    return list(
        PipelineStage.objects.filter(team__in=teams.values("pk"))
        .select_related("team")
        .order_by("team__name", "sequence", "pk")
    )


def _teams(request: HttpRequest) -> list[SalesTeam]:
    return list(selectors.teams_visible(user=request.user, see_all=_see_all(request)))


# --- leads --------------------------------------------------------------------------------------

LEAD_LIST = ListScreen(
    key="crm-leads",
    title=gettext_lazy("Leads"),
    columns=[
        Column("name", gettext_lazy("Contact"), order_by="name", link=True),
        Column("company_name", gettext_lazy("Company"), order_by="company_name"),
        Column("email", gettext_lazy("E-mail")),
        Column(
            "source",
            gettext_lazy("Source"),
            accessor=lambda r: r.get_source_display(),
            order_by="source",
        ),
        Column("campaign", gettext_lazy("Campaign"), order_by="campaign"),
        Column("team", gettext_lazy("Team"), accessor="team", order_by="team__name"),
        Column("owner", gettext_lazy("Owner"), accessor="owner", order_by="owner__username"),
        Column("state", gettext_lazy("State"), accessor=_badge, order_by="state"),
        Column("created_at", gettext_lazy("Created"), order_by="created_at"),
    ],  # fmt: skip
    search_fields=["name", "company_name", "email", "phone", "campaign"],
    filters=[
        Filter(
            "state",
            gettext_lazy("State"),
            "state",
            choices=lambda r: [(str(v), str(lb)) for v, lb in Lead.State.choices],
        ),
        Filter(
            "source",
            gettext_lazy("Source"),
            "source",
            choices=lambda r: [(str(v), str(lb)) for v, lb in Lead.Source.choices],
        ),
    ],  # fmt: skip
    default_sort="-created_at",
    detail_url=lambda r: reverse("crm:lead_detail", args=[r.pk]),
)


@requires("crm.view")
def lead_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.leads_visible(user=request.user, see_all=_see_all(request))
    actions = [(_("New lead"), reverse("crm:lead_create"))] if has_perm(request, "crm.sell") else []
    return list_response(request, LEAD_LIST, rows, extra={"actions": actions})


@requires("crm.sell")
def lead_create(request: HttpRequest) -> HttpResponse:
    teams = _teams(request)
    form = LeadForm(request.POST or None, teams=teams)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            fields = {k: v for k, v in data.items() if k != "name"}
            lead = services.lead_create(company=request.company, actor=request.user,
                                        name=data["name"], assign=True, **fields)  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Lead saved."))
            return redirect("crm:lead_detail", lead.pk)
    return render(request, "core/form.html", {
        "title": _("New lead"), "form": form, "cancel_url": reverse("crm:lead_list")})  # fmt: skip


def _lead(request: HttpRequest, pk: int) -> Lead:
    return get_or_404(selectors.leads_visible(user=request.user, see_all=_see_all(request)), pk)


@requires("crm.view")
def lead_detail(request: HttpRequest, pk: int, qualify_form: QualifyForm | None = None
                ) -> HttpResponse:  # fmt: skip
    lead = _lead(request, pk)
    candidates = services.lead_duplicates(lead) if lead.state == Lead.State.NEW else []
    teams = _teams(request)
    form = qualify_form or QualifyForm(teams=teams, candidates=candidates,
                                       initial={"team": lead.team_id})  # fmt: skip
    return render(request, "crm/lead_detail.html", {
        "lead": lead, "state_badge": _badge(lead), "candidates": candidates, "form": form,
        "can_sell": has_perm(request, "crm.sell") and lead.state == Lead.State.NEW,
        "activities": list(lead.activities.select_related("owner")),
        "activity_form": ActivityForm(),
        "opportunities": list(lead.opportunities.select_related("party", "stage")),
    })  # fmt: skip


@require_POST
@requires("crm.sell")
def lead_qualify(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead(request, pk)
    candidates = services.lead_duplicates(lead) if lead.state == Lead.State.NEW else []
    form = QualifyForm(request.POST, teams=_teams(request), candidates=candidates)
    if form.is_valid():
        data = form.cleaned_data
        try:
            opportunity = services.lead_qualify(
                lead=lead, actor=request.user, party=data["party"],
                create_party=data["create_party"], team=data["team"], name=data["name"],
                expected_revenue=data["expected_revenue"], close_date=data["close_date"],
            )  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Lead qualified: opportunity %(name)s opened.")
                             % {"name": opportunity.name})  # fmt: skip
            return redirect("crm:opportunity_detail", opportunity.pk)
    response = lead_detail.__wrapped__(request, pk, qualify_form=form)  # type: ignore[attr-defined]
    response.status_code = 422
    return response


@require_POST
@requires("crm.sell")
def lead_disqualify(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead(request, pk)
    try:
        services.lead_disqualify(lead=lead, actor=request.user,
                                 reason=request.POST.get("reason", ""))  # fmt: skip
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("Lead disqualified."))
    return redirect("crm:lead_detail", lead.pk)


# --- opportunities ------------------------------------------------------------------------------


def _amount(row: Opportunity) -> Any:
    return Amount(row.expected_revenue, row.currency_id)


OPPORTUNITY_LIST = ListScreen(
    key="crm-opportunities",
    title=gettext_lazy("Opportunities"),
    columns=[
        Column("name", gettext_lazy("Opportunity"), order_by="name", link=True),
        Column("party", gettext_lazy("Customer"), accessor="party", order_by="party__name"),
        Column("team", gettext_lazy("Team"), accessor="team", order_by="team__name"),
        Column("stage", gettext_lazy("Stage"), accessor="stage", order_by="stage__sequence"),
        Column("owner", gettext_lazy("Owner"), accessor="owner", order_by="owner__username"),
        Column(
            "expected_revenue",
            gettext_lazy("Expected revenue"),
            accessor=_amount,
            order_by="expected_revenue",
        ),
        Column("probability", gettext_lazy("Probability (%)"), order_by="probability"),
        Column("close_date", gettext_lazy("Close date"), order_by="close_date"),
        Column("state", gettext_lazy("State"), accessor=_badge, order_by="state"),
    ],  # fmt: skip
    search_fields=["name", "party__name"],
    filters=[
        Filter(
            "state",
            gettext_lazy("State"),
            "state",
            choices=lambda r: [(str(v), str(lb)) for v, lb in Opportunity.State.choices],
        ),
        Filter(
            "team",
            gettext_lazy("Team"),
            "team_id",
            choices=lambda r: [(str(t.pk), t.name) for t in _teams(r)],
        ),
        Filter(
            "stage",
            gettext_lazy("Stage"),
            "stage_id",
            choices=lambda r: [(str(s.pk), f"{s.team} · {s.name}") for s in _stages(r)],
        ),
        Filter("close_from", gettext_lazy("Closing from"), "close_date__gte", kind="date"),
        Filter("close_to", gettext_lazy("Closing to"), "close_date__lte", kind="date"),
    ],  # fmt: skip
    default_sort="close_date",
    detail_url=lambda r: reverse("crm:opportunity_detail", args=[r.pk]),
)


@requires("crm.view")
def opportunity_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.opportunities_visible(user=request.user, see_all=_see_all(request))
    return list_response(request, OPPORTUNITY_LIST, rows, extra={"actions": [
        (_("Pipeline"), reverse("crm:pipeline"))]})  # fmt: skip


def _opportunity(request: HttpRequest, pk: int) -> Opportunity:
    return get_or_404(
        selectors.opportunities_visible(user=request.user, see_all=_see_all(request)), pk
    )


@requires("crm.view")
def opportunity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        opportunity = selectors.opportunity_detail(pk=pk, user=request.user,
                                                   see_all=_see_all(request))  # fmt: skip
    except Opportunity.DoesNotExist as exc:
        raise Http404 from exc
    can_sell = has_perm(request, "crm.sell") and opportunity.state == Opportunity.State.OPEN
    return render(request, "crm/opportunity_detail.html", {
        "opportunity": opportunity, "state_badge": _badge(opportunity),
        "amount": _amount(opportunity), "stages": list(opportunity.team.stages.all()),
        "activities": list(opportunity.activities.all()), "can_sell": can_sell,
        "can_log": has_perm(request, "crm.sell"),
        "activity_form": ActivityForm(), "lost_form": LostForm(reasons=selectors.lost_reasons()),
        "timeline": timeline_for(party=opportunity.party)[:20],
        "quotations": list(sales_selectors.opportunity_quotations(opportunity_id=pk)[:20]),
        "orders": list(sales_selectors.opportunity_orders(opportunity_id=pk)[:20]),
        "can_quote": (has_perm(request, "crm.sell") and has_perm(request, "sales.quote")
                      and opportunity.state != Opportunity.State.LOST),
    })  # fmt: skip


@requires("crm.sell")
def opportunity_quotation_create(request: HttpRequest, pk: int) -> HttpResponse:
    """ "New quotation" of an opportunity (as Odoo's button on the opportunity): the sales
    quick-quote editor for the opportunity's customer; saving makes the draft quotation
    linked to the opportunity (`services.opportunity_quotation_create`) and opens it."""
    if not has_perm(request, "sales.quote"):
        raise PermissionDenied("sales.quote")
    opportunity = _opportunity(request, pk)
    detail = reverse("crm:opportunity_detail", args=[pk])
    if opportunity.state == Opportunity.State.LOST:
        messages.error(request, _("This opportunity is lost: it gets no quotation."))
        return redirect(detail)

    def save(data: dict[str, Any], party: Any, lines: list[dict[str, Any]]) -> Any:
        return services.opportunity_quotation_create(
            opportunity=opportunity, actor=request.user, lines=lines,
            valid_until=data["valid_until"], **sales_services.quotation_header_fields(data),
        )  # fmt: skip

    return sales_services.quotation_editor_page(
        request, party=opportunity.party, cancel_url=detail, save=save,
        title=_("New quotation for %(name)s") % {"name": opportunity.name},
    )  # fmt: skip


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_POST
@requires("crm.sell")
def opportunity_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move to the stage `stage` (id), optionally with a `probability`. Answers JSON to the
    kanban's script (422 with the reason on bad input), else redirects back with a message."""
    opportunity = _opportunity(request, pk)
    try:
        services.opportunity_move(opportunity=opportunity, actor=request.user,
                                  stage=request.POST.get("stage") or None,
                                  probability=request.POST.get("probability") or None)  # fmt: skip
    except ValidationError as exc:
        if _wants_json(request):
            return JsonResponse({"detail": _messages(exc)}, status=422)
        messages.error(request, _messages(exc))
    else:
        if _wants_json(request):
            return JsonResponse({"id": opportunity.pk, "stage": opportunity.stage_id,
                                 "state": opportunity.state,
                                 "probability": f"{opportunity.probability.normalize():f}"})  # fmt: skip
        messages.success(request, _("%(name)s moved to %(stage)s.")
                         % {"name": opportunity.name, "stage": opportunity.stage.name})  # fmt: skip
    return _back(request, reverse("crm:opportunity_detail", args=[pk]))


@require_POST
@requires("crm.sell")
def opportunity_won(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _opportunity(request, pk)
    try:
        services.opportunity_win(opportunity=opportunity, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("Opportunity won."))
    return redirect("crm:opportunity_detail", pk)


@require_POST
@requires("crm.sell")
def opportunity_lost(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _opportunity(request, pk)
    form = LostForm(request.POST, reasons=selectors.lost_reasons())
    try:
        if not form.is_valid():
            raise ValidationError({k: [e["message"] for e in v]
                                   for k, v in form.errors.get_json_data().items()})  # fmt: skip
        services.opportunity_lose(opportunity=opportunity, actor=request.user,
                                  reason=form.cleaned_data["lost_reason"],
                                  note=form.cleaned_data["note"])  # fmt: skip
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("Opportunity lost."))
    return redirect("crm:opportunity_detail", pk)


# --- activities ---------------------------------------------------------------------------------


@require_POST
@requires("crm.sell")
def activity_create(request: HttpRequest) -> HttpResponse:
    """An activity on the lead or opportunity named in the POST (`lead` or `opportunity`)."""
    see_all = _see_all(request)
    lead = opportunity = None
    if request.POST.get("opportunity"):
        opportunity = _opportunity(request, _int(request.POST["opportunity"]))
        back = reverse("crm:opportunity_detail", args=[opportunity.pk])
    else:
        lead = get_or_404(selectors.leads_visible(user=request.user, see_all=see_all),
                          _int(request.POST.get("lead")))  # fmt: skip
        back = reverse("crm:lead_detail", args=[lead.pk])
    form = ActivityForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError({k: [e["message"] for e in v]
                                   for k, v in form.errors.get_json_data().items()})  # fmt: skip
        services.activity_create(company=request.company, actor=request.user, lead=lead,
                                 opportunity=opportunity, **form.cleaned_data)  # fmt: skip
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("Activity saved."))
    return redirect(back)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@require_POST
@requires("crm.sell")
def activity_done(request: HttpRequest, pk: int) -> HttpResponse:
    activity = get_or_404(
        selectors.activities_visible(user=request.user, see_all=_see_all(request)), pk
    )
    try:
        services.activity_done(activity=activity, actor=request.user,
                               note=request.POST.get("note", ""))  # fmt: skip
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("Activity done."))
    return _back(request, _activity_home(activity))


def _activity_home(activity: Activity) -> str:
    if activity.opportunity_id:
        return reverse("crm:opportunity_detail", args=[activity.opportunity_id])
    return reverse("crm:lead_detail", args=[activity.lead_id])


# --- the board and the forecast -----------------------------------------------------------------


@requires("crm.view")
def pipeline(request: HttpRequest) -> HttpResponse:
    """The kanban board of one team (`?team=`; default: the first the user may see)."""
    teams = _teams(request)
    chosen = next((t for t in teams if str(t.pk) == request.GET.get("team")), None)
    team = chosen or (teams[0] if teams else None)
    columns = (
        selectors.pipeline_board(team=team, user=request.user, see_all=_see_all(request))
        if team
        else []
    )
    movable = [c.stage for c in columns if not c.stage.is_lost]
    for column in columns:  # the cards' "move to" options, made once per column
        column.options = format_html_join("", '<option value="{}"{}>{}</option>', (
            (s.pk, mark_safe(" selected") if s.pk == column.stage.pk else "", s.name)  # noqa: S308
            for s in movable))  # fmt: skip
    return render(request, "crm/pipeline.html", {
        "teams": teams, "team": team, "columns": columns,
        "can_sell": has_perm(request, "crm.sell"), "movable": movable,
    })  # fmt: skip


@requires("crm.view")
def forecast(request: HttpRequest) -> HttpResponse:
    by = "owner" if request.GET.get("by") == "owner" else "team"
    see_all = _see_all(request)
    rows = selectors.pipeline_forecast(user=request.user, see_all=see_all, by=by)
    targets = [
        (t, *selectors.attainment(t))
        for t in selectors.targets_with_attainment(
            user=request.user, see_all=see_all, on=timezone.localdate()
        )  # fmt: skip
    ]
    return render(request, "crm/forecast.html", {"rows": rows, "by": by, "targets": targets})


# --- teams, stages and lost reasons (crm.manage) ------------------------------------------------


@requires("crm.manage")
def team_list(request: HttpRequest) -> HttpResponse:
    """Every sales team with its members and stages, the lost reasons, and the forms that add
    a team, a stage or a lost reason."""
    teams = (
        SalesTeam.objects.select_related("manager")
        .prefetch_related("members", "stages")
        .order_by("name")
    )
    return render(request, "crm/teams.html", {
        "teams": teams, "reasons": selectors.lost_reasons(),
        "strategies": AssignmentStrategy.choices,
    })  # fmt: skip


@require_POST
@requires("crm.manage")
def team_create(request: HttpRequest) -> HttpResponse:
    try:
        team = services.team_create(company=request.company, actor=request.user,
                                    name=request.POST.get("name", ""),
                                    assignment=request.POST.get("assignment") or "least_loaded")  # fmt: skip
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("Sales team %(name)s created.") % {"name": team.name})
    return redirect("crm:team_list")


@requires("crm.manage")
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a team: name, manager (its leader), assignment strategy, members, active."""
    team = get_or_404(SalesTeam.objects.prefetch_related("members"), pk)
    people = list(salespeople(company=request.company))
    initial = {"name": team.name, "manager": team.manager_id, "assignment": team.assignment,
               "members": [m.pk for m in team.members.all()], "active": team.active}  # fmt: skip
    form = TeamForm(request.POST or None, initial=initial, users=people)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.team_update(team=team, actor=request.user, name=data["name"],
                                 manager=data["manager"], assignment=data["assignment"],
                                 members=data["members"], active=data["active"])  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Sales team %(name)s saved.") % {"name": team.name})
            return redirect(f"{reverse('crm:team_list')}#team-{team.pk}")
    return render(request, "core/form.html", {
        "title": _("Sales team %(name)s") % {"name": team.name}, "form": form,
        "cancel_url": reverse("crm:team_list")})  # fmt: skip


@require_POST
@requires("crm.manage")
def stage_create(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_or_404(SalesTeam.objects.all(), pk)
    try:
        services.stage_create(team=team, actor=request.user, name=request.POST.get("name", ""),
                              sequence=_int(request.POST.get("sequence")) or 10,
                              probability=request.POST.get("probability") or 0)  # fmt: skip
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("Stage added."))
    return redirect("crm:team_list")


@require_POST
@requires("crm.manage")
def lost_reason_create(request: HttpRequest) -> HttpResponse:
    try:
        services.lost_reason_create(company=request.company, actor=request.user,
                                    name=request.POST.get("name", ""))  # fmt: skip
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("Lost reason added."))
    return redirect("crm:team_list")


urlpatterns = [
    path("", pipeline, name="pipeline"),
    path("forecast/", forecast, name="forecast"),
    path("leads/", lead_list, name="lead_list"),
    path("leads/new/", lead_create, name="lead_create"),
    path("leads/<int:pk>/", lead_detail, name="lead_detail"),
    path("leads/<int:pk>/qualify/", lead_qualify, name="lead_qualify"),
    path("leads/<int:pk>/disqualify/", lead_disqualify, name="lead_disqualify"),
    path("opportunities/", opportunity_list, name="opportunity_list"),
    path("opportunities/<int:pk>/", opportunity_detail, name="opportunity_detail"),
    path("opportunities/<int:pk>/move/", opportunity_move, name="opportunity_move"),
    path("opportunities/<int:pk>/won/", opportunity_won, name="opportunity_won"),
    path("opportunities/<int:pk>/lost/", opportunity_lost, name="opportunity_lost"),
    path(
        "opportunities/<int:pk>/quotations/new/",
        opportunity_quotation_create,
        name="opportunity_quotation_create",
    ),  # fmt: skip
    path("activities/new/", activity_create, name="activity_create"),
    path("activities/<int:pk>/done/", activity_done, name="activity_done"),
    path("teams/", team_list, name="team_list"),
    path("teams/new/", team_create, name="team_create"),
    path("teams/<int:pk>/", team_edit, name="team_edit"),
    path("teams/<int:pk>/stages/", stage_create, name="stage_create"),
    path("lost-reasons/new/", lost_reason_create, name="lost_reason_create"),
]
