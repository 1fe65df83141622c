"""Screens of the shared kernel: company settings, users and roles, exchange rates, units,
document sequences, the audit trail and background jobs. Each view parses input, calls one
service or selector, and renders; its permission is declared right on it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core import imports, jobs, services
from xietong.core.forms import (
    CompanyForm,
    ExchangeRateForm,
    ImportForm,
    RolesForm,
    SequenceForm,
    UnitForm,
    UserInviteForm,
)
from xietong.core.models import (
    AuditEntry,
    ExchangeRate,
    Job,
    Membership,
    Role,
    Sequence,
    UnitCategory,
    UnitOfMeasure,
)
from xietong.core.numbering import sequence_last_numbers
from xietong.core.permissions import REGISTRY, has_perm, requires
from xietong.core.roles import role_label
from xietong.core.selectors import roles_for_company
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import edit_response, record_response

# --- company ------------------------------------------------------------------------------------


@requires("core.company.change")
def company_settings(request: HttpRequest) -> HttpResponse:
    company = request.company
    form = CompanyForm(
        request.POST or None,
        initial={name: getattr(company, name) for name in CompanyForm.base_fields},
    )
    return edit_response(
        request,
        form=form,
        title=_("Company settings"),
        cancel_url=reverse("web:home"),
        save=lambda data: services.company_update(company=company, actor=request.user, **data),
        success=_("Company settings saved."),
        done_url=reverse("core:company"),
    )


# --- exchange rates -----------------------------------------------------------------------------


def _currency_choices(request: HttpRequest) -> list[tuple[str, str]]:
    codes = (
        ExchangeRate.objects.values_list("currency_id", flat=True)
        .distinct()
        .order_by("currency_id")
    )
    return [(code, code) for code in codes]


RATE_LIST = ListScreen(
    key="exchange-rates",
    title=gettext_lazy("Exchange rates"),
    columns=[
        Column("date", gettext_lazy("Date"), order_by="date", link=True),
        Column(
            "currency", gettext_lazy("Currency"), accessor="currency_id", order_by="currency_id"
        ),
        Column("rate", gettext_lazy("Rate"), order_by="rate"),
        Column("source", gettext_lazy("Source"), order_by="source"),
        Column(
            "inverse",
            gettext_lazy("Inverse"),
            accessor=lambda r: (1 / r.rate).quantize(r.rate.__class__("0.000001")),
            default=False,
        ),
    ],
    search_fields=["currency__code", "source"],
    filters=[
        Filter("currency", gettext_lazy("Currency"), "currency_id", choices=_currency_choices),
        Filter("date_from", gettext_lazy("From"), "date__gte", kind="date"),
        Filter("date_to", gettext_lazy("To"), "date__lte", kind="date"),
    ],
    default_sort="-date",
    detail_url=lambda r: reverse("core:rate_detail", args=[r.pk]),
)


@requires("core.exchangerate.view")
def rate_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "core.exchangerate.change"):
        actions = [
            (_("New rate"), reverse("core:rate_create")),
            (_("Import / export"), reverse("core:import_exchange-rates")),
        ]
    return list_response(request, RATE_LIST, ExchangeRate.objects.all(), extra={"actions": actions})


@requires("core.exchangerate.view")
def rate_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rate = get_object_or_404(ExchangeRate.objects, pk=pk)
    actions = []
    if has_perm(request, "core.exchangerate.change"):
        actions = [
            {"label": _("Edit"), "url": reverse("core:rate_edit", args=[pk])},
            {"label": _("Delete"), "url": reverse("core:rate_delete", args=[pk]), "post": True},
        ]
    base = request.company.base_currency_id
    return record_response(
        request,
        obj=rate,
        title=_("Exchange rate %(currency)s on %(date)s")
        % {"currency": rate.currency_id, "date": rate.date},
        fields=[
            (_("Currency"), rate.currency_id),
            (_("Date"), rate.date),
            (_("Rate"), f"1 {rate.currency_id} = {rate.rate.normalize():f} {base}"),
            (_("Source"), rate.source),
        ],
        actions=actions,
    )


@requires("core.exchangerate.change")
def rate_create(request: HttpRequest) -> HttpResponse:
    def save(data: dict) -> ExchangeRate:
        return services.exchange_rate_create(
            company=request.company,
            actor=request.user,
            currency=data["currency"].code,
            date=data["date"],
            rate=data["rate"],
            source=data["source"],
        )

    return edit_response(
        request,
        form=ExchangeRateForm(request.POST or None),
        save=save,
        title=_("New exchange rate"),
        cancel_url=reverse("core:rate_list"),
        success=_("Exchange rate saved."),
        done_url=lambda rate: reverse("core:rate_detail", args=[rate.pk]),
    )


@requires("core.exchangerate.change")
def rate_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rate = get_object_or_404(ExchangeRate.objects, pk=pk)
    initial = {
        "currency": rate.currency_id,
        "date": rate.date,
        "rate": rate.rate,
        "source": rate.source,
    }

    def save(data: dict) -> ExchangeRate:
        return services.exchange_rate_update(
            exchange_rate=rate,
            actor=request.user,
            currency_id=data["currency"].code,
            date=data["date"],
            rate=data["rate"],
            source=data["source"],
        )

    return edit_response(
        request,
        form=ExchangeRateForm(request.POST or None, initial=initial),
        save=save,
        title=_("Edit exchange rate"),
        cancel_url=reverse("core:rate_detail", args=[pk]),
        success=_("Exchange rate saved."),
        done_url=reverse("core:rate_detail", args=[pk]),
    )


@require_POST
@requires("core.exchangerate.change")
def rate_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rate = get_object_or_404(ExchangeRate.objects, pk=pk)
    services.exchange_rate_delete(exchange_rate=rate, actor=request.user)
    messages.success(request, _("Exchange rate deleted."))
    return redirect("core:rate_list")


# --- units of measure ---------------------------------------------------------------------------

UNIT_LIST = ListScreen(
    key="units",
    title=gettext_lazy("Units of measure"),
    columns=[
        Column("code", gettext_lazy("Code"), order_by="code", link=True),
        Column("name", gettext_lazy("Name"), order_by="name"),
        Column(
            "category",
            gettext_lazy("Category"),
            accessor="category__name",
            order_by="category__code",
        ),
        Column("factor", gettext_lazy("Factor"), order_by="factor"),
        Column("rounding", gettext_lazy("Rounding")),
        Column("active", gettext_lazy("Active"), order_by="active"),
    ],
    search_fields=["code", "name"],
    filters=[
        Filter(
            "category",
            gettext_lazy("Category"),
            "category__code",
            choices=lambda r: list(UnitCategory.objects.values_list("code", "name")),
        ),
    ],
    detail_url=lambda u: reverse("core:unit_detail", args=[u.pk]),
)


@requires("core.uom.view")
def unit_list(request: HttpRequest) -> HttpResponse:
    return list_response(request, UNIT_LIST, UnitOfMeasure.objects.select_related("category"))


@requires("core.uom.view")
def unit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    unit = get_object_or_404(UnitOfMeasure.objects.select_related("category"), pk=pk)
    reference = unit.category.units.filter(factor=1).first()
    actions = (
        [{"label": _("Edit"), "url": reverse("core:unit_edit", args=[pk])}]
        if has_perm(request, "core.uom.change")
        else []
    )
    return record_response(
        request,
        obj=unit,
        title=f"{unit.name} ({unit.code})",
        fields=[
            (_("Code"), unit.code),
            (_("Name"), unit.name),
            (_("Category"), unit.category.name),
            (
                _("Factor"),
                f"1 {unit.code} = {unit.factor.normalize():f} {reference.code if reference else ''}",
            ),
            (_("Rounding"), unit.rounding),
            (_("Active"), unit.active),
        ],
        actions=actions,
    )


@requires("core.uom.change")
def unit_edit(request: HttpRequest, pk: int) -> HttpResponse:
    unit = get_object_or_404(UnitOfMeasure.objects, pk=pk)
    initial = {"name": unit.name, "rounding": unit.rounding, "active": unit.active}
    return edit_response(
        request,
        form=UnitForm(request.POST or None, initial=initial),
        save=lambda data: services.uom_update(unit=unit, actor=request.user, **data),
        title=_("Edit unit %(code)s") % {"code": unit.code},
        cancel_url=reverse("core:unit_detail", args=[pk]),
        success=_("Unit saved."),
        done_url=reverse("core:unit_detail", args=[pk]),
    )


# --- document sequences -------------------------------------------------------------------------

SEQUENCE_LIST = ListScreen(
    key="sequences",
    title=gettext_lazy("Document sequences"),
    columns=[
        Column("code", gettext_lazy("Code"), order_by="code", link=True),
        Column("name", gettext_lazy("Name"), order_by="name"),
        Column("pattern", gettext_lazy("Pattern")),
        Column("gap_free", gettext_lazy("Gap-free"), order_by="gap_free"),
    ],
    search_fields=["code", "name"],
    default_sort="code",
    detail_url=lambda s: reverse("core:sequence_detail", args=[s.pk]),
)


@requires("core.sequence.view")
def sequence_list(request: HttpRequest) -> HttpResponse:
    return list_response(request, SEQUENCE_LIST, Sequence.objects.all())


@requires("core.sequence.view")
def sequence_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = get_object_or_404(Sequence.objects, pk=pk)
    counters = ", ".join(
        f"{year}: {last}" for year, last in sequence_last_numbers(sequence=sequence)
    )
    actions = (
        [{"label": _("Edit"), "url": reverse("core:sequence_edit", args=[pk])}]
        if has_perm(request, "core.sequence.change")
        else []
    )
    return record_response(
        request,
        obj=sequence,
        title=sequence.name,
        fields=[
            (_("Code"), sequence.code),
            (_("Pattern"), sequence.pattern),
            (_("Gap-free"), sequence.gap_free),
            (_("Numbers used per year"), counters),
        ],
        actions=actions,
    )


@requires("core.sequence.change")
def sequence_edit(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = get_object_or_404(Sequence.objects, pk=pk)
    initial = {"name": sequence.name, "pattern": sequence.pattern, "gap_free": sequence.gap_free}
    return edit_response(
        request,
        form=SequenceForm(request.POST or None, initial=initial),
        save=lambda data: services.sequence_update(sequence=sequence, actor=request.user, **data),
        title=_("Edit sequence %(code)s") % {"code": sequence.code},
        cancel_url=reverse("core:sequence_detail", args=[pk]),
        success=_("Sequence saved."),
        done_url=reverse("core:sequence_detail", args=[pk]),
    )


# --- users and roles ----------------------------------------------------------------------------


def _role_names(membership: Membership) -> str:
    return ", ".join(str(role) for role in membership.roles.all())


USER_LIST = ListScreen(
    key="users",
    title=gettext_lazy("Users"),
    columns=[
        Column(
            "username",
            gettext_lazy("Username"),
            accessor="user__username",
            order_by="user__username",
            link=True,
        ),
        Column(
            "name",
            gettext_lazy("Name"),
            accessor=lambda m: m.user.get_full_name(),
            order_by="user__last_name",
        ),
        Column("email", gettext_lazy("E-mail"), accessor="user__email", order_by="user__email"),
        Column("roles", gettext_lazy("Roles"), accessor=_role_names),
        Column("job_title", gettext_lazy("Job title"), order_by="job_title", default=False),
        Column("territory", gettext_lazy("Territory"), order_by="territory", default=False),
        Column("active", gettext_lazy("Active"), accessor="is_active", order_by="is_active"),
        Column(
            "last_login",
            gettext_lazy("Last login"),
            accessor="user__last_login",
            order_by="user__last_login",
        ),
    ],
    search_fields=["user__username", "user__first_name", "user__last_name", "user__email"],
    filters=[
        Filter(
            "role",
            gettext_lazy("Role"),
            "roles__code",
            choices=lambda r: [
                (role.code, str(role)) for role in roles_for_company(company=r.company)
            ],
        ),
    ],
    default_sort="username",
    detail_url=lambda m: reverse("core:user_detail", args=[m.pk]),
)


@requires("core.user.view")
def user_list(request: HttpRequest) -> HttpResponse:
    actions = (
        [(_("Invite user"), reverse("core:user_invite"))]
        if has_perm(request, "core.user.change")
        else []
    )
    queryset = Membership.objects.select_related("user").prefetch_related(
        Prefetch("roles", queryset=Role.objects.order_by("code"))
    )
    return list_response(request, USER_LIST, queryset, extra={"actions": actions})


@requires("core.user.view")
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_object_or_404(
        Membership.objects.select_related("user", "manager", "delegate"), pk=pk
    )
    user = membership.user
    actions = (
        [{"label": _("Change roles"), "url": reverse("core:user_roles", args=[pk])}]
        if has_perm(request, "core.user.change")
        else []
    )
    return record_response(
        request,
        obj=membership,
        title=user.get_full_name() or user.username,
        fields=[
            (_("Username"), user.username),
            (_("E-mail"), user.email),
            (_("Roles"), _role_names(membership)),
            (_("Job title"), membership.job_title),
            (_("Manager"), membership.manager),
            (_("Territory"), membership.territory),
            (_("Skills"), ", ".join(membership.skills)),
            (_("Out of office until"), membership.out_of_office_until),
            (_("Delegate while away"), membership.delegate),
            (_("Two-factor authentication"), user.totpdevice_set.filter(confirmed=True).exists()),
            (_("Last login"), user.last_login),
        ],
        actions=actions,
    )


@requires("core.user.change")
def user_roles(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects.select_related("user"), pk=pk)
    form = RolesForm(
        request.POST or None,
        company=request.company,
        initial={"roles": [r.code for r in membership.roles.all()]},
    )
    return edit_response(
        request,
        form=form,
        save=lambda data: services.membership_set_roles(
            membership=membership, actor=request.user, roles=[r.code for r in data["roles"]]
        ),
        title=_("Roles of %(user)s") % {"user": membership.user},
        cancel_url=reverse("core:user_detail", args=[pk]),
        success=_("Roles saved."),
        done_url=reverse("core:user_detail", args=[pk]),
    )


@requires("core.user.change")
def user_invite(request: HttpRequest) -> HttpResponse:
    def save(data: dict) -> Membership:
        user = services.user_create(
            company=request.company,
            actor=request.user,
            username=data["username"],
            password=data["password"],
            roles=[r.code for r in data["roles"]],
            email=data["email"],
            first_name=data["first_name"],
            last_name=data["last_name"],
        )
        return Membership.objects.get(user=user)

    return edit_response(
        request,
        form=UserInviteForm(request.POST or None, company=request.company),
        save=save,
        title=_("Invite user"),
        cancel_url=reverse("core:user_list"),
        success=_("User added."),
        done_url=lambda membership: reverse("core:user_detail", args=[membership.pk]),
    )


@requires("core.user.view")
def role_list(request: HttpRequest) -> HttpResponse:
    roles = roles_for_company(company=request.company).order_by("is_portal", "code")
    rows = [
        {
            "role": role,
            "label": role_label(role.code, role.name),
            "permissions": [REGISTRY[c].label if c in REGISTRY else c for c in role.permissions],
        }
        for role in roles
    ]
    return render(request, "core/roles.html", {"rows": rows})


# --- audit trail --------------------------------------------------------------------------------


def _model_choices(request: HttpRequest) -> list[tuple[str, str]]:
    ids = (
        AuditEntry.objects.filter(company=request.company)
        .values_list("content_type", flat=True)
        .distinct()
    )
    return sorted(
        (
            (str(ct.pk), str(ct.model_class()._meta.verbose_name).capitalize())
            for ct in ContentType.objects.filter(pk__in=ids)
            if ct.model_class()
        ),
        key=lambda pair: pair[1],
    )


def _changes_text(entry: AuditEntry) -> str:
    return "; ".join(
        f"{field}: {values[0]} → {values[1]}"
        for field, values in (entry.changes_dict or {}).items()
        if isinstance(values, list) and len(values) == 2
    )


AUDIT_LIST = ListScreen(
    key="audit",
    title=gettext_lazy("Audit trail"),
    columns=[
        Column("timestamp", gettext_lazy("When"), order_by="timestamp"),
        Column("actor", gettext_lazy("Who"), accessor="actor", order_by="actor__username"),
        Column(
            "action",
            gettext_lazy("Action"),
            accessor=lambda e: e.get_action_display(),
            order_by="action",
        ),
        Column(
            "model",
            gettext_lazy("Record type"),
            accessor=lambda e: (
                e.content_type.model_class()._meta.verbose_name
                if e.content_type.model_class()
                else e.content_type.model
            ),
        ),
        Column("object", gettext_lazy("Record"), accessor="object_repr"),
        Column("changes", gettext_lazy("Changes"), accessor=_changes_text),
        Column("remote_addr", gettext_lazy("Address"), default=False),
    ],
    search_fields=["object_repr", "actor__username"],
    filters=[
        Filter("model", gettext_lazy("Record type"), "content_type_id", choices=_model_choices),
        Filter(
            "action",
            gettext_lazy("Action"),
            "action",
            choices=lambda r: [(str(v), str(label)) for v, label in AuditEntry.Action.choices],
        ),
        Filter("date_from", gettext_lazy("From"), "timestamp__date__gte", kind="date"),
        Filter("date_to", gettext_lazy("To"), "timestamp__date__lte", kind="date"),
    ],
    default_sort="-timestamp",
)


@requires("core.audit.view")
def audit_list(request: HttpRequest) -> HttpResponse:
    queryset = AuditEntry.objects.filter(company=request.company).select_related(
        "actor", "content_type"
    )
    return list_response(request, AUDIT_LIST, queryset)


# --- background jobs ----------------------------------------------------------------------------

JOB_LIST = ListScreen(
    key="jobs",
    title=gettext_lazy("Background jobs"),
    columns=[
        Column("name", gettext_lazy("Job"), order_by="name", link=True),
        Column("user", gettext_lazy("Started by"), accessor="user", order_by="user__username"),
        Column(
            "status",
            gettext_lazy("Status"),
            accessor=lambda j: j.get_status_display(),
            order_by="status",
        ),
        Column("percent", gettext_lazy("Progress %")),
        Column("message", gettext_lazy("Message")),
        Column("created_at", gettext_lazy("Created"), order_by="created_at"),
        Column("finished_at", gettext_lazy("Finished"), order_by="finished_at"),
    ],
    search_fields=["name", "message"],
    filters=[
        Filter(
            "status", gettext_lazy("Status"), "status", choices=lambda r: list(Job.Status.choices)
        )
    ],
    default_sort="-created_at",
    detail_url=lambda j: reverse("core:job_detail", args=[j.pk]),
)


def _visible_jobs(request: HttpRequest):  # type: ignore[no-untyped-def]
    queryset = Job.objects.select_related("user")
    return queryset if has_perm(request, "core.job.view") else queryset.filter(user=request.user)


@requires("core.dashboard")
def job_list(request: HttpRequest) -> HttpResponse:
    return list_response(request, JOB_LIST, _visible_jobs(request))


@requires("core.dashboard")
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(_visible_jobs(request), pk=pk)
    template = "core/_job_progress.html" if request.htmx else "core/job.html"
    return render(request, template, {"job": job})


# --- import and export --------------------------------------------------------------------------

PREVIEW_LIMIT = 5000  # rows checked while the user waits; larger files are checked by the job


def import_views(spec: imports.ImportSpec) -> tuple[Any, Any, Any]:
    """The upload/preview page, the confirmation and the export of one importable table."""

    @requires(spec.permission)
    def upload(request: HttpRequest) -> HttpResponse:
        form = ImportForm(request.POST or None, request.FILES or None)
        context: dict[str, Any] = {"spec": spec, "form": form}
        if request.method == "POST" and form.is_valid():
            upload_file = form.cleaned_data["file"]
            data = upload_file.read()
            try:
                table = imports.read_table(data, upload_file.name, spec)
            except imports.ImportFileError as exc:
                form.add_error("file", str(exc))
            else:
                token = imports.upload_store(data, upload_file.name)
                if len(table.rows) > PREVIEW_LIMIT:
                    return _import_start(request, spec, token, upload_file.name)
                report = imports.import_check(spec, company=request.company, table=table)
                context.update(
                    report=report,
                    token=token,
                    filename=upload_file.name,
                    preview=[
                        [values.get(c.name, "") for c in spec.columns]
                        for _line, values in table.rows[: imports.PREVIEW_ROWS]
                    ],
                )
        return render(request, "core/import.html", context, status=400 if form.errors else 200)

    @require_POST
    @requires(spec.permission)
    def confirm(request: HttpRequest) -> HttpResponse:
        return _import_start(
            request, spec, request.POST.get("token", ""), request.POST.get("filename", "")
        )

    @requires(spec.permission)
    def export(request: HttpRequest, fmt: str) -> HttpResponse:
        if fmt not in {"csv", "xlsx"}:
            raise Http404
        content, content_type = imports.export_table(spec, company=request.company, fmt=fmt)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{spec.key}.{fmt}"'
        return response

    return upload, confirm, export


def _import_start(
    request: HttpRequest, spec: imports.ImportSpec, token: str, filename: str
) -> HttpResponse:
    try:
        imports.upload_read(token)  # refuses tokens that are not ours or no longer there
    except imports.ImportFileError as exc:
        messages.error(request, str(exc))
        return redirect(f"core:import_{spec.key}")
    job = jobs.job_start(
        company=request.company,
        actor=request.user,
        kind="core.import",
        name=_("Import: %(title)s") % {"title": spec.title},
        spec=spec.key,
        upload=token,
        filename=filename,
    )
    return redirect("core:job_detail", pk=job.pk)
