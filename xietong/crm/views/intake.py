"""CRM screens of lead intake: the sales territories and sales mailboxes (settings, for
`crm.manage`), and the lead import from a CSV or XLSX file with its preview (for `crm.sell`).
Each view parses input, calls one service or selector and renders; its permission is declared
on it (`@requires`)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from xietong.core.imports import ImportFileError, upload_read, upload_store
from xietong.core.permissions import has_perm, requires
from xietong.core.ui.records import apply_errors, get_or_404
from xietong.crm import lead_import as imports
from xietong.crm import selectors, territories
from xietong.crm.intake_forms import (
    LeadImportConfirmForm,
    LeadImportForm,
    MailboxForm,
    TerritoryForm,
)
from xietong.crm.models import Campaign, LeadMailbox, SalesTeam, Territory
from xietong.party.selectors import salespeople

UPLOADS = "xietong-crm-lead-imports"  # the session's list of this user's pending uploads


def _teams(request: HttpRequest) -> list[SalesTeam]:
    see_all = has_perm(request, "crm.manage")
    return list(selectors.teams_visible(user=request.user, see_all=see_all).filter(active=True))


# --- territories and sales mailboxes ------------------------------------------------------------


@requires("crm.manage")
def territory_list(request: HttpRequest) -> HttpResponse:
    """The territories of every team, and the sales mailboxes."""
    return render(request, "crm/intake/territories.html", {
        "territories": territories.territories().order_by("team__name", "name"),
        "mailboxes": LeadMailbox.objects.select_related("team", "campaign"),
    })  # fmt: skip


def _territory_form(request: HttpRequest, territory: Territory | None) -> HttpResponse:
    teams = list(SalesTeam.objects.order_by("name"))
    initial = {"active": True}
    if territory is not None:
        initial = {"name": territory.name, "team": territory.team_id, "active": territory.active,
                   "countries": [c.pk for c in territory.countries.all()],
                   "regions": [r.pk for r in territory.regions.all()],
                   "members": [m.pk for m in territory.members.all()]}  # fmt: skip
    form = TerritoryForm(request.POST or None, initial=initial, teams=teams,
                         users=salespeople(company=request.company))  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if territory is None:
                territory = territories.territory_create(company=request.company,
                                                         actor=request.user, **data)  # fmt: skip
            else:
                territories.territory_update(territory=territory, actor=request.user, **data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Territory %(name)s saved.") % {"name": territory.name})
            return redirect(f"{reverse('crm:territory_list')}#territory-{territory.pk}")
    title = (_("New territory") if territory is None
             else _("Territory %(name)s") % {"name": territory.name})  # fmt: skip
    return render(request, "core/form.html", {
        "title": title, "form": form, "cancel_url": reverse("crm:territory_list")})  # fmt: skip


@requires("crm.manage")
def territory_create(request: HttpRequest) -> HttpResponse:
    return _territory_form(request, None)


@requires("crm.manage")
def territory_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _territory_form(request, get_or_404(territories.territories(), pk))


def _mailbox_form(request: HttpRequest, mailbox: LeadMailbox | None) -> HttpResponse:
    initial = {"active": True}
    if mailbox is not None:
        initial = {"address": mailbox.address, "team": mailbox.team_id,
                   "campaign": mailbox.campaign_id, "active": mailbox.active}  # fmt: skip
    campaigns = Campaign.objects.exclude(state=Campaign.State.CANCELLED).order_by("name")
    form = MailboxForm(request.POST or None, initial=initial, campaigns=campaigns,
                       teams=SalesTeam.objects.order_by("name"))  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            if mailbox is None:
                mailbox = territories.mailbox_create(company=request.company, actor=request.user,
                                                     **form.cleaned_data)  # fmt: skip
            else:
                territories.mailbox_update(mailbox=mailbox, actor=request.user,
                                           **form.cleaned_data)  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Sales mailbox %(address)s saved.")
                             % {"address": mailbox.address})  # fmt: skip
            return redirect(f"{reverse('crm:territory_list')}#mailboxes")
    title = (_("New sales mailbox") if mailbox is None
             else _("Sales mailbox %(address)s") % {"address": mailbox.address})  # fmt: skip
    return render(request, "core/form.html", {
        "title": title, "form": form, "cancel_url": reverse("crm:territory_list")})  # fmt: skip


@requires("crm.manage")
def mailbox_create(request: HttpRequest) -> HttpResponse:
    return _mailbox_form(request, None)


@requires("crm.manage")
def mailbox_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _mailbox_form(request, get_or_404(LeadMailbox.objects.all(), pk))


# --- lead import --------------------------------------------------------------------------------


def _import_page(request: HttpRequest, context: dict[str, object]) -> HttpResponse:
    return render(request, "crm/intake/import.html", {
        "max_rows": imports.MAX_ROWS, "columns": imports.COLUMNS, **context})  # fmt: skip


@require_http_methods(["GET", "POST"])
@requires("crm.sell")
def lead_import(request: HttpRequest) -> HttpResponse:
    """Upload a file: its preview lists every problem (line, column) and the duplicates, and
    offers to import it (then nothing is saved until confirmed, all or nothing)."""
    teams = _teams(request)
    form = LeadImportForm(request.POST or None, request.FILES or None, teams=teams)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        data = upload.read(imports.MAX_BYTES + 1)
        try:
            preview = imports.lead_import_check(company=request.company, data=data,
                                                filename=upload.name)  # fmt: skip
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            token = upload_store(data, upload.name)
            request.session[UPLOADS] = [*request.session.get(UPLOADS, [])[-4:], token]
            confirm = LeadImportConfirmForm(teams=teams, initial={
                "upload": token, "filename": upload.name[:255],
                "team": form.cleaned_data["team"],
                "duplicates": form.cleaned_data["duplicates"]})  # fmt: skip
            return _import_page(request, {"preview": preview, "confirm": confirm,
                                          "filename": upload.name})  # fmt: skip
    return _import_page(request, {"form": form})


@require_POST
@requires("crm.sell")
def lead_import_confirm(request: HttpRequest) -> HttpResponse:
    """Import the previewed file: every lead or, on any problem, none (the preview again)."""
    teams = _teams(request)
    confirm = LeadImportConfirmForm(request.POST, teams=teams)
    if not confirm.is_valid() or confirm.cleaned_data["upload"] not in request.session.get(
        UPLOADS, []
    ):
        messages.error(request, _("The upload is no longer available; upload the file again."))
        return redirect("crm:lead_import")
    data = confirm.cleaned_data
    try:
        content = upload_read(data["upload"])
        result = imports.lead_import(company=request.company, actor=request.user, data=content,
                                     filename=data["filename"], team=data["team"],
                                     duplicates=data["duplicates"])  # fmt: skip
    except imports.LeadImportError as exc:
        preview = imports.lead_import_check(company=request.company, data=content,
                                            filename=data["filename"])  # fmt: skip
        return _import_page(request, {"preview": preview, "confirm": confirm,
                                      "filename": data["filename"],
                                      "refused": exc.problems})  # fmt: skip
    except ImportFileError as exc:
        messages.error(request, str(exc))
        return redirect("crm:lead_import")
    except ValidationError as exc:
        apply_errors(confirm, exc)
        preview = imports.lead_import_check(company=request.company, data=content,
                                            filename=data["filename"])  # fmt: skip
        return _import_page(request, {"preview": preview, "confirm": confirm,
                                      "filename": data["filename"]})  # fmt: skip
    request.session[UPLOADS] = [t for t in request.session.get(UPLOADS, []) if t != data["upload"]]
    messages.success(request, _("%(count)s lead(s) imported, %(skipped)s duplicate(s) skipped.")
                     % {"count": len(result.leads), "skipped": len(result.skipped)})  # fmt: skip
    return redirect(f"{reverse('crm:lead_list')}?source=import")


urlpatterns: list[URLPattern] = [
    path("territories/", territory_list, name="territory_list"),
    path("territories/new/", territory_create, name="territory_create"),
    path("territories/<int:pk>/", territory_edit, name="territory_edit"),
    path("mailboxes/new/", mailbox_create, name="mailbox_create"),
    path("mailboxes/<int:pk>/", mailbox_edit, name="mailbox_edit"),
    path("leads/import/", lead_import, name="lead_import"),
    path("leads/import/confirm/", lead_import_confirm, name="lead_import_confirm"),
]
