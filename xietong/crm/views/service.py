"""Screens of customer service: tickets (list with filters, new, detail with the thread, SLA,
warranty and suggested articles; reply, note, state changes, assignment, article, RMA), the
knowledge base (list in the reader's language, new, detail with translations, edit, translate,
publish), the CSAT and SLA reports, the service settings, and the public satisfaction survey.

Every view parses input, calls one service or selector and renders; its permission is declared
on it. Everybody holding `crm.service.view` sees every ticket of the company. The survey is
public: its 32-character random token is the only key (an unknown one is 404), it is answered
once, and answers are throttled per address."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from xietong.core.models import Company
from xietong.core.permissions import has_perm, public, requires
from xietong.core.tenancy import company_scope
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import apply_errors, get_or_404
from xietong.crm import knowledge, service_reports, service_setup, tickets, warranty
from xietong.crm.inbound import sender_find
from xietong.crm.models import (
    BusinessCalendar,
    KnowledgeArticle,
    SatisfactionSurvey,
    ServiceCategory,
    SlaPolicy,
    Ticket,
    TicketPriority,
    WarrantyRule,
)
from xietong.crm.service_forms import ArticleForm, SupportForm, SurveyForm, TicketForm
from xietong.crm.services import CrmError
from xietong.finance.views.common import Badge

STATE_STYLES = {"new": "info", "open": "primary", "waiting": "warning", "resolved": "success",
                "closed": "secondary"}  # fmt: skip
SLA_STYLES = {"none": "light", "ok": "success", "at_risk": "warning", "breached": "danger"}
SURVEY_LIMIT = 20  # answers per address per 10 minutes
SUPPORT_LIMIT = 10  # web-form tickets per address per 10 minutes


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(m for ms in exc.message_dict.values() for m in ms)
    return " ".join(exc.messages)


def state_badge(ticket: Ticket) -> Badge:
    return Badge(ticket.get_state_display(), STATE_STYLES.get(ticket.state, "secondary"))


def sla_badge(ticket: Ticket) -> Badge:
    return Badge(ticket.get_sla_state_display(), SLA_STYLES.get(ticket.sla_state, "light"))


# --- tickets --------------------------------------------------------------------------------------

TICKET_LIST = ListScreen(
    key="crm-tickets",
    title=gettext_lazy("Tickets"),
    columns=[
        Column("number", gettext_lazy("Number"), order_by="number", link=True),
        Column("subject", gettext_lazy("Subject"), order_by="subject"),
        Column("party", gettext_lazy("Customer"), accessor="party", order_by="party__name"),
        Column(
            "priority",
            gettext_lazy("Priority"),
            accessor=lambda r: r.get_priority_display(),
            order_by="priority",
        ),
        Column("state", gettext_lazy("State"), accessor=state_badge, order_by="state"),
        Column("sla_state", gettext_lazy("SLA"), accessor=sla_badge, order_by="sla_state"),
        Column("resolution_due", gettext_lazy("Resolution due"), order_by="resolution_due"),
        Column(
            "assignee", gettext_lazy("Assignee"), accessor="assignee", order_by="assignee__username"
        ),
        Column("created_at", gettext_lazy("Created"), order_by="created_at"),
    ],  # fmt: skip
    search_fields=["number", "subject", "requester_email", "party__name"],
    filters=[
        Filter(
            "state",
            gettext_lazy("State"),
            "state",
            choices=lambda r: [(str(v), str(lb)) for v, lb in Ticket.State.choices],
        ),
        Filter(
            "priority",
            gettext_lazy("Priority"),
            "priority",
            choices=lambda r: [(str(v), str(lb)) for v, lb in TicketPriority.choices],
        ),
        Filter(
            "sla",
            gettext_lazy("SLA"),
            "sla_state",
            choices=lambda r: [(str(v), str(lb)) for v, lb in Ticket.Sla.choices],
        ),
        Filter(
            "category",
            gettext_lazy("Category"),
            "category_id",
            choices=lambda r: [(str(c.pk), c.name) for c in ServiceCategory.objects.all()],
        ),
        Filter(
            "channel",
            gettext_lazy("Channel"),
            "channel",
            choices=lambda r: [(str(v), str(lb)) for v, lb in Ticket.Channel.choices],
        ),
        Filter("party", gettext_lazy("Customer"), "party_id", kind="text"),
        Filter("assignee", gettext_lazy("Assignee"), "assignee_id", kind="text"),
    ],  # fmt: skip
    default_sort="-created_at",
    detail_url=lambda r: reverse("crm:ticket_detail", args=[r.pk]),
)


@requires("crm.service.view")
def ticket_list(request: HttpRequest) -> HttpResponse:
    rows = Ticket.objects.select_related("party", "assignee")
    actions = [(_("My open tickets"), reverse("crm:ticket_list") + f"?assignee={request.user.pk}"
                "&state=open")]  # fmt: skip
    if has_perm(request, "crm.service.work"):
        actions.insert(0, (_("New ticket"), reverse("crm:ticket_create")))
    return list_response(request, TICKET_LIST, rows, extra={"actions": actions})


@requires("crm.service.work")
def ticket_create(request: HttpRequest) -> HttpResponse:
    form = TicketForm(request.POST or None, company=request.company)  # type: ignore[attr-defined]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = tickets.ticket_create(company=request.company, actor=request.user,  # type: ignore[attr-defined]
                                           **data)  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Ticket %(number)s opened.") % {"number": ticket.number})
            return redirect("crm:ticket_detail", ticket.pk)
    return render(request, "core/form.html", {
        "title": _("New ticket"), "form": form, "cancel_url": reverse("crm:ticket_list")})  # fmt: skip


def _ticket(request: HttpRequest, pk: int) -> Ticket:
    return get_or_404(Ticket.objects.select_related(
        "party", "contact", "category", "assignee", "sla_policy", "lot", "product", "sales_order",
        "rma", "escalation"), pk)  # fmt: skip


@requires("crm.service.view")
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket(request, pk)
    can_work = has_perm(request, "crm.service.work")
    return render(request, "crm/service/ticket_detail.html", {
        "ticket": ticket, "state_badge": state_badge(ticket), "sla_badge": sla_badge(ticket),
        "thread": list(ticket.messages.select_related("author")),
        "suggestions": knowledge.suggestions(ticket, language=get_language()),
        "warranty": warranty.warranty_check(ticket) if ticket.lot_id else None,
        "can_work": can_work, "priorities": TicketPriority.choices,
        "survey": SatisfactionSurvey.unscoped.filter(ticket=ticket).first(),
        "survey_url": _survey_url(request, ticket),
    })  # fmt: skip


def _survey_url(request: HttpRequest, ticket: Ticket) -> str:
    survey = SatisfactionSurvey.unscoped.filter(ticket=ticket).first()
    if survey is None:
        return ""
    return request.build_absolute_uri(reverse("crm:survey", args=[survey.token]))


def _done(request: HttpRequest, ticket: Ticket, work: Any, success: str) -> HttpResponse:
    try:
        work()
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, success)
    return redirect("crm:ticket_detail", ticket.pk)


@require_POST
@requires("crm.service.work")
def ticket_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """A reply to the customer (`kind=reply`, optionally `wait`), or an internal note."""
    ticket = _ticket(request, pk)
    body = request.POST.get("body", "")
    if request.POST.get("kind") == "note":
        return _done(request, ticket, lambda: tickets.ticket_note(
            ticket=ticket, actor=request.user, body=body), _("Note added."))  # fmt: skip
    if request.POST.get("kind") == "customer":
        return _done(request, ticket, lambda: tickets.ticket_customer_message(
            ticket=ticket, actor=request.user, body=body), _("Customer's message added."))  # fmt: skip
    return _done(request, ticket, lambda: tickets.ticket_reply(
        ticket=ticket, actor=request.user, body=body, wait=bool(request.POST.get("wait"))),
        _("Reply sent."))  # fmt: skip


@require_POST
@requires("crm.service.work")
def ticket_state(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket(request, pk)
    action = request.POST.get("action", "")
    user = request.user
    steps = {
        "open": lambda: tickets.ticket_open(ticket=ticket, actor=user),
        "wait": lambda: tickets.ticket_wait(ticket=ticket, actor=user),
        "resolve": lambda: tickets.ticket_resolve(ticket=ticket, actor=user,
                                                  resolution=request.POST.get("resolution", "")),
        "close": lambda: tickets.ticket_close(ticket=ticket, actor=user),
        "reopen": lambda: tickets.ticket_reopen(ticket=ticket, actor=user,
                                                reason=request.POST.get("reason", "")),
    }  # fmt: skip
    if action not in steps:
        messages.error(request, _("Unknown action."))
        return redirect("crm:ticket_detail", ticket.pk)
    return _done(request, ticket, steps[action], _("Ticket updated."))


@require_POST
@requires("crm.service.work")
def ticket_assign(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket(request, pk)
    assignee = request.POST.get("assignee") or None
    return _done(request, ticket, lambda: tickets.ticket_assign(
        ticket=ticket, actor=request.user, assignee=assignee), _("Ticket assigned."))  # fmt: skip


@require_POST
@requires("crm.service.work")
def ticket_update(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket(request, pk)
    fields = {k: request.POST[k] for k in ("priority", "category") if k in request.POST}
    return _done(request, ticket, lambda: tickets.ticket_update(
        ticket=ticket, actor=request.user, **fields), _("Ticket updated."))  # fmt: skip


@require_POST
@requires("crm.service.work")
def ticket_article(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket(request, pk)
    try:
        article = tickets.article_from_ticket(ticket=ticket, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _messages(exc))
        return redirect("crm:ticket_detail", ticket.pk)
    messages.success(request, _("Draft article written from the ticket."))
    return redirect("crm:article_edit", article.pk)


@require_POST
@requires("crm.service.work")
def ticket_rma(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket(request, pk)
    return _done(request, ticket, lambda: warranty.ticket_rma_create(
        ticket=ticket, actor=request.user, quantity=request.POST.get("quantity") or 1,
        reason=request.POST.get("reason", "")), _("Return authorised."))  # fmt: skip


# --- knowledge base -----------------------------------------------------------------------------


@requires("crm.service.view")
def article_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    state = request.GET.get("state", "published")
    rows = KnowledgeArticle.objects.select_related("category")
    if state in KnowledgeArticle.State.values:
        rows = rows.filter(state=state)
    shown = knowledge.in_language(rows.order_by("title", "pk")[:1000], get_language())
    if query:
        ranked = knowledge.rank(query, ((a, a.title, a.body) for a in shown), limit=50)
        shown = [a for a, _score in ranked]
    return render(request, "crm/service/article_list.html", {
        "articles": shown, "q": query, "state": state, "states": KnowledgeArticle.State.choices,
        "can_work": has_perm(request, "crm.service.work")})  # fmt: skip


@requires("crm.service.work")
def article_create(request: HttpRequest) -> HttpResponse:
    form = ArticleForm(request.POST or None, company=request.company,  # type: ignore[attr-defined]
                       initial={"language": get_language()})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            article = knowledge.article_create(company=request.company, actor=request.user,  # type: ignore[attr-defined]
                                               **form.cleaned_data)  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return redirect("crm:article_detail", article.pk)
    return render(request, "core/form.html", {
        "title": _("New article"), "form": form, "cancel_url": reverse("crm:article_list")})  # fmt: skip


def _article(request: HttpRequest, pk: int) -> KnowledgeArticle:
    return get_or_404(KnowledgeArticle.objects.select_related("translation_of", "category"), pk)


@requires("crm.service.view")
def article_detail(request: HttpRequest, pk: int) -> HttpResponse:
    article = _article(request, pk)
    original = article.translation_of or article
    versions = [original, *original.translations.all()]
    return render(request, "crm/service/article_detail.html", {
        "article": article, "versions": versions,
        "can_work": has_perm(request, "crm.service.work")})  # fmt: skip


@requires("crm.service.work")
def article_edit(request: HttpRequest, pk: int) -> HttpResponse:
    article = _article(request, pk)
    form = ArticleForm(request.POST or None, company=request.company, initial={  # type: ignore[attr-defined]
        "title": article.title, "body": article.body, "language": article.language,
        "category": article.category_id})  # fmt: skip
    form.fields["language"].disabled = True
    del form.fields["publish"]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            knowledge.article_update(article=article, actor=request.user, title=data["title"],
                                     body=data["body"], category=data["category"])  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return redirect("crm:article_detail", article.pk)
    return render(request, "core/form.html", {
        "title": _("Edit article"), "form": form,
        "cancel_url": reverse("crm:article_detail", args=[article.pk])})  # fmt: skip


@requires("crm.service.work")
def article_translate(request: HttpRequest, pk: int) -> HttpResponse:
    article = _article(request, pk)
    form = ArticleForm(request.POST or None, company=request.company, with_meta=False)  # type: ignore[attr-defined]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            made = knowledge.article_translate(article=article, actor=request.user,
                                               language=data["language"], title=data["title"],
                                               body=data["body"])  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return redirect("crm:article_detail", made.pk)
    return render(request, "core/form.html", {
        "title": _("Translate %(title)s") % {"title": article.title}, "form": form,
        "cancel_url": reverse("crm:article_detail", args=[article.pk])})  # fmt: skip


@require_POST
@requires("crm.service.work")
def article_publish(request: HttpRequest, pk: int) -> HttpResponse:
    article = _article(request, pk)
    try:
        knowledge.article_publish(article=article, actor=request.user,
                                  publish=request.POST.get("publish", "1") == "1")  # fmt: skip
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    return redirect("crm:article_detail", article.pk)


# --- reports and settings -----------------------------------------------------------------------


def _period(request: HttpRequest) -> tuple[dt.date, dt.date]:
    today = service_reports.company_day(request.company)
    try:
        start = dt.date.fromisoformat(request.GET.get("start", ""))
    except ValueError:
        start = today.replace(day=1) - dt.timedelta(days=150)
        start = start.replace(day=1)
    try:
        end = dt.date.fromisoformat(request.GET.get("end", ""))
    except ValueError:
        end = today
    return start, max(start, end)


@requires("crm.service.view")
def service_report(request: HttpRequest) -> HttpResponse:
    start, end = _period(request)
    by = request.GET.get("by", "month")
    by = by if by in service_reports.GROUPS else "month"
    company = request.company  # type: ignore[attr-defined]
    sla_rows, sla_total = service_reports.sla_attainment(company=company, start=start, end=end,
                                                         by=by)  # fmt: skip
    csat_rows, csat_total = service_reports.csat(company=company, start=start, end=end, by=by)
    return render(request, "crm/service/report.html", {
        "start": start, "end": end, "by": by, "groups": service_reports.GROUPS,
        "sla_rows": sla_rows, "sla_total": sla_total, "csat_rows": csat_rows,
        "csat_total": csat_total})  # fmt: skip


@requires("crm.service.manage")
def service_settings(request: HttpRequest) -> HttpResponse:
    """The calendars, categories, SLA policies and warranty rules; each small form posts here
    with `form` naming what it adds."""
    company, user = request.company, request.user  # type: ignore[attr-defined]
    if request.method == "POST":
        data = request.POST
        kind = data.get("form")
        try:
            if kind == "calendar":
                service_setup.calendar_create(
                    company=company, actor=user, name=data.get("name", ""),
                    weekdays=data.getlist("weekdays") or (0, 1, 2, 3, 4),
                    start=data.get("start", "09:00"), end=data.get("end", "18:00"),
                    holidays=[d for d in data.get("holidays", "").split() if d],
                )  # fmt: skip
            elif kind == "category":
                service_setup.category_create(company=company, actor=user,
                                              name=data.get("name", ""),
                                              skill=data.get("skill", ""))  # fmt: skip
            elif kind == "policy":
                service_setup.sla_policy_create(
                    company=company, actor=user, name=data.get("name", ""),
                    priority=data.get("priority", ""), calendar=data.get("calendar") or None,
                    customer_group=data.get("customer_group") or None,
                    first_response_hours=data.get("first_response_hours"),
                    resolution_hours=data.get("resolution_hours"),
                    at_risk_percent=data.get("at_risk_percent") or 75,
                )  # fmt: skip
            elif kind == "warranty":
                service_setup.warranty_rule_set(company=company, actor=user,
                                                months=data.get("months"),
                                                product_category=data.get("product_category")
                                                or None)  # fmt: skip
            else:
                raise ValidationError(_("Unknown form."))
        except ValidationError as exc:
            messages.error(request, _messages(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("crm:service_settings")
    from xietong.party.models import CustomerGroup
    from xietong.product.models import Category

    return render(request, "crm/service/settings.html", {
        "calendars": BusinessCalendar.objects.all(), "categories": ServiceCategory.objects.all(),
        "policies": SlaPolicy.objects.select_related("calendar", "customer_group"),
        "rules": WarrantyRule.objects.select_related("product_category"),
        "groups": CustomerGroup.objects.all(), "product_categories": Category.objects.all(),
        "priorities": TicketPriority.choices,
        "default_months": warranty.DEFAULT_MONTHS})  # fmt: skip


# --- the public survey --------------------------------------------------------------------------


def _throttled(request: HttpRequest, kind: str = "survey", limit: int = SURVEY_LIMIT) -> bool:
    key = f"crm-{kind}:{request.META.get('REMOTE_ADDR', '')}"
    cache.add(key, 0, timeout=600)
    try:
        return cache.incr(key) > limit
    except ValueError:
        return False


@public
def support_form(request: HttpRequest, company_id: int) -> HttpResponse:
    """The public web form of a company's support desk (to link from its website): a new
    ticket of channel "web form", its customer found from the e-mail address. Throttled per
    address; a filled trap field is thanked and ignored."""
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        raise Http404
    form = SupportForm(request.POST or None)
    number = ""
    status = 200
    if request.method == "POST":
        if _throttled(request, "support", SUPPORT_LIMIT):
            return HttpResponse(_("Too many requests from your address; try again later."),
                                status=429)  # fmt: skip
        if form.is_valid() and form.cleaned_data["website"]:
            number = "-"  # a robot: nothing is stored
        elif form.is_valid():
            data = form.cleaned_data
            party, contact = sender_find(company, data["email"])
            with company_scope(company):
                try:
                    ticket = tickets.ticket_create(
                        company=company, actor=None, subject=data["subject"],
                        description=data["description"], party=party, contact=contact,
                        requester_name=data["name"], requester_email=data["email"],
                        channel=Ticket.Channel.WEB,
                    )  # fmt: skip
                except ValidationError as exc:
                    apply_errors(form, exc)
                    status = 422
                else:
                    number = ticket.number
        else:
            status = 422
    return render(request, "crm/service/support.html", {
        "company": company, "form": form, "number": number}, status=status)  # fmt: skip


@public
def survey(request: HttpRequest, token: str) -> HttpResponse:
    found = tickets.survey_by_token(token)
    if found is None:
        raise Http404
    form = SurveyForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if _throttled(request):
            return HttpResponse(_("Too many answers from your address; try again later."),
                                status=429)  # fmt: skip
        if form.is_valid():
            try:
                tickets.survey_answer(token=token, score=form.cleaned_data["score"],
                                      comment=form.cleaned_data["comment"])  # fmt: skip
            except CrmError:
                status = 409
            except (ValidationError, SatisfactionSurvey.DoesNotExist):
                status = 422
            found.refresh_from_db()
        else:
            status = 422
    return render(request, "crm/service/survey.html", {
        "survey": found, "ticket": found.ticket, "form": form}, status=status)  # fmt: skip


urlpatterns = [
    path("service/tickets/", ticket_list, name="ticket_list"),
    path("service/tickets/new/", ticket_create, name="ticket_create"),
    path("service/tickets/<int:pk>/", ticket_detail, name="ticket_detail"),
    path("service/tickets/<int:pk>/reply/", ticket_reply, name="ticket_reply"),
    path("service/tickets/<int:pk>/state/", ticket_state, name="ticket_state"),
    path("service/tickets/<int:pk>/assign/", ticket_assign, name="ticket_assign"),
    path("service/tickets/<int:pk>/update/", ticket_update, name="ticket_update"),
    path("service/tickets/<int:pk>/article/", ticket_article, name="ticket_article"),
    path("service/tickets/<int:pk>/rma/", ticket_rma, name="ticket_rma"),
    path("service/articles/", article_list, name="article_list"),
    path("service/articles/new/", article_create, name="article_create"),
    path("service/articles/<int:pk>/", article_detail, name="article_detail"),
    path("service/articles/<int:pk>/edit/", article_edit, name="article_edit"),
    path("service/articles/<int:pk>/translate/", article_translate, name="article_translate"),
    path("service/articles/<int:pk>/publish/", article_publish, name="article_publish"),
    path("service/reports/", service_report, name="service_report"),
    path("service/settings/", service_settings, name="service_settings"),
    path("service/survey/<str:token>/", survey, name="survey"),
    path("service/support/<int:company_id>/", support_form, name="support_form"),
]
