"""Setting the ledger up: the chart of accounts (a tree with balances, loading a shipped
template), journals, taxes, the company's finance settings, fiscal years and periods (creating a
year, closing periods and years after a confirmation) and the dunning levels.

The writes go through `finance.configuration`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.core.models import Company
from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen
from xietong.core.ui.records import apply_errors, edit_response, record_response
from xietong.finance import periods
from xietong.finance.amounts import AmountSum
from xietong.finance.configuration import (
    account_save,
    dunning_level_save,
    journal_save,
    settings_save,
    tax_save,
)
from xietong.finance.forms import (
    SETTINGS_ACCOUNTS,
    SETTINGS_JOURNALS,
    AccountForm,
    ChartLoadForm,
    ConfirmForm,
    DunningLevelForm,
    FiscalYearForm,
    JournalForm,
    RevaluationForm,
    SettingsForm,
    TaxForm,
    today,
)
from xietong.finance.models import (
    Account,
    AccountType,
    DunningLevel,
    Entry,
    FinanceSettings,
    FiscalYear,
    Journal,
    Line,
    Period,
    Tax,
)
from xietong.finance.views.common import (
    Amount,
    Display,
    amount_column,
    badge,
    finance_list,
    yes_no,
)

# --- chart of accounts ------------------------------------------------------------------------


def Indented(text: str, depth: int, group: bool) -> Display:  # noqa: N802
    """An account name indented by its depth in the tree (plain text in exports)."""
    return Display(
        format_html(
            '<span class="d-inline-block" style="padding-left: {}rem">{}{}</span>',
            depth * 1.25,
            mark_safe('<i class="bi bi-folder2 text-secondary"></i> ') if group else "",
            format_html("<strong>{}</strong>", text) if group else text,
        ),
        text,
        text,
    )


def account_tree(company: Company) -> tuple[dict[int, int], dict[int, Decimal]]:
    """Each account's depth in the chart and its posted balance (debit − credit), group
    accounts summing their sub-accounts. Two queries, whatever the size of the chart."""
    parents = dict(Account.unscoped.filter(company=company).values_list("id", "parent_id"))
    sums = (
        Line.unscoped.filter(company=company, entry__state=Entry.State.POSTED)
        .values("account_id")
        .annotate(debit=AmountSum("debit"), credit=AmountSum("credit"))
        .order_by()
    )
    balances: dict[int, Decimal] = {}
    for row in sums:
        amount = (row["debit"] or Decimal(0)) - (row["credit"] or Decimal(0))
        account: int | None = row["account_id"]
        seen = 0
        while account is not None and seen < 64:
            balances[account] = balances.get(account, Decimal(0)) + amount
            account = parents.get(account)
            seen += 1
    depths: dict[int, int] = {}
    for account in parents:
        depth, current = 0, parents[account]
        while current is not None and depth < 64:
            depth, current = depth + 1, parents.get(current)
        depths[account] = depth
    return depths, balances


def _type_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(v), str(label)) for v, label in AccountType.choices]


def _chart_screen(company: Company) -> ListScreen:
    depths, balances = account_tree(company)
    base = company.base_currency_id
    return ListScreen(
        key="finance-accounts",
        title=gettext_lazy("Chart of accounts"),
        columns=[
            Column("code", gettext_lazy("Code"), order_by="code", link=True),
            Column(
                "name",
                gettext_lazy("Name"),
                accessor=lambda a: Indented(a.name, depths.get(a.pk, 0), a.is_group),
                order_by="name",
            ),
            Column("type", gettext_lazy("Type"), accessor="get_type_display", order_by="type"),
            Column(
                "subtype",
                gettext_lazy("Subtype"),
                accessor="get_subtype_display",
                order_by="subtype",
            ),
            Column(
                "balance",
                gettext_lazy("Balance (debit − credit)"),
                accessor=lambda a: Amount(
                    balances.get(a.pk, Decimal(0)),
                    base,
                    link=None if a.is_group else reverse("finance:line_list") + f"?account={a.pk}",
                ),
            ),
            Column("currency", gettext_lazy("Currency"), accessor="currency_id", default=False),
            Column("reconcile", gettext_lazy("Reconcilable"), default=False),
            Column("active", gettext_lazy("Active"), order_by="active", default=False),
        ],
        search_fields=["code", "name"],
        filters=[
            Filter("type", gettext_lazy("Type"), "type", choices=_type_choices),
            Filter("active", gettext_lazy("Active"), "active", choices=yes_no),
        ],
        default_sort="code",
        page_size=200,
        detail_url=lambda a: reverse("finance:account_detail", args=[a.pk]),
    )


@requires("finance.view")
def account_list(request: HttpRequest) -> HttpResponse:
    company = request.company
    actions = []
    if has_perm(request, "finance.configure"):
        if not Account.objects.exists():
            actions.append((_("Load a chart of accounts"), reverse("finance:chart_load")))
        actions.append((_("New account"), reverse("finance:account_create")))
    return finance_list(request, _chart_screen(company), Account.objects.all(), actions=actions)


@requires("finance.view")
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(Account.objects.select_related("parent"), pk=pk)
    _depths, balances = account_tree(request.company)
    actions = []
    if has_perm(request, "finance.configure"):
        actions.append({"label": _("Edit"), "url": reverse("finance:account_edit", args=[pk])})
    if not account.is_group:
        actions.append(
            {
                "label": _("Journal items"),
                "url": reverse("finance:line_list") + f"?account={pk}",
                "style": "outline-primary",
            }
        )
    return record_response(
        request,
        obj=account,
        title=str(account),
        fields=[
            (_("Code"), account.code),
            (_("Name"), account.name),
            (_("Parent account"), account.parent),
            (_("Type"), account.get_type_display()),
            (_("Subtype"), account.get_subtype_display()),
            (_("Cash-flow section"), account.get_cash_flow_display()),
            (_("Group account"), account.is_group),
            (_("Reconcilable"), account.reconcile),
            (_("Account currency"), account.currency_id),
            (_("Active"), account.active),
            (
                _("Balance (debit − credit)"),
                Amount(balances.get(account.pk, Decimal(0)), request.company.base_currency_id),
            ),
        ],
        actions=actions,
    )


@requires("finance.configure")
def account_create(request: HttpRequest) -> HttpResponse:
    initial = {"active": True}
    parent = request.GET.get("parent", "")
    if parent.isdigit():
        initial["parent"] = int(parent)
    return edit_response(
        request,
        form=AccountForm(request.POST or None, initial=initial),
        save=lambda data: account_save(company=request.company, actor=request.user, **data),
        success=_("Account saved."),
        done_url=lambda account: reverse("finance:account_detail", args=[account.pk]),
        title=_("New account"),
        cancel_url=reverse("finance:account_list"),
    )


@requires("finance.configure")
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(Account.objects, pk=pk)
    initial = {
        "code": account.code,
        "name": account.name,
        "parent": account.parent_id,
        "type": account.type,
        "subtype": account.subtype,
        "cash_flow": account.cash_flow,
        "is_group": account.is_group,
        "reconcile": account.reconcile,
        "currency": account.currency_id,
        "active": account.active,
    }
    return edit_response(
        request,
        form=AccountForm(request.POST or None, initial=initial, account=account),
        save=lambda data: account_save(
            company=request.company, account=account, actor=request.user, **data
        ),
        success=_("Account saved."),
        done_url=reverse("finance:account_detail", args=[pk]),
        title=_("Edit account %(account)s") % {"account": account},
        cancel_url=reverse("finance:account_detail", args=[pk]),
    )


@requires("finance.configure")
def chart_load(request: HttpRequest) -> HttpResponse:
    """Set the company's ledger up from a shipped chart (accounts, journals, taxes, settings)."""
    from xietong.finance import charts

    if Account.objects.exists():
        messages.info(request, _("The company already has a chart of accounts."))
        return redirect("finance:account_list")
    language = getattr(request, "LANGUAGE_CODE", "zh-hans")
    if language not in ("zh-hans", "zh-hant", "en"):
        language = "zh-hans"
    templates = [(key, str(label)) for key, label in charts.chart_templates()]
    form = ChartLoadForm(
        request.POST or None,
        templates=templates,
        initial={"template": templates[0][0] if templates else "", "language": language},
    )
    return edit_response(
        request,
        form=form,
        save=lambda data: charts.chart_load(
            company=request.company,
            template=data["template"],
            language=data["language"],
            actor=request.user,
        ),
        success=_("The chart of accounts, journals, taxes and settings were loaded."),
        done_url=reverse("finance:account_list"),
        title=_("Load a chart of accounts"),
        cancel_url=reverse("finance:account_list"),
        submit_label=_("Load"),
    )


# --- journals ---------------------------------------------------------------------------------

JOURNAL_LIST = ListScreen(
    key="finance-journals",
    title=gettext_lazy("Journals"),
    columns=[
        Column("code", gettext_lazy("Code"), order_by="code", link=True),
        Column("name", gettext_lazy("Name"), order_by="name"),
        Column("kind", gettext_lazy("Kind"), accessor="get_kind_display", order_by="kind"),
        Column("account", gettext_lazy("Bank or cash account"), accessor="account"),
        Column("currency", gettext_lazy("Currency"), accessor="currency_id"),
        Column("entries", gettext_lazy("Posted entries"), accessor="posted", order_by="posted"),
        Column("active", gettext_lazy("Active"), order_by="active"),
    ],
    search_fields=["code", "name"],
    filters=[
        Filter(
            "kind",
            gettext_lazy("Kind"),
            "kind",
            choices=lambda r: [(str(v), str(label)) for v, label in Journal.Kind.choices],
        ),
        Filter("active", gettext_lazy("Active"), "active", choices=yes_no),
    ],
    default_sort="code",
    detail_url=lambda j: reverse("finance:journal_edit", args=[j.pk]),
)


@requires("finance.view")
def journal_list(request: HttpRequest) -> HttpResponse:
    actions = (
        [(_("New journal"), reverse("finance:journal_create"))]
        if has_perm(request, "finance.configure")
        else []
    )
    if not has_perm(request, "finance.configure"):
        screen = replace(JOURNAL_LIST, detail_url=None)
    else:
        screen = JOURNAL_LIST
    journals = Journal.objects.select_related("account").annotate(
        posted=Count("entries", filter=Q(entries__state=Entry.State.POSTED))
    )
    return finance_list(request, screen, journals, actions=actions)


@requires("finance.configure")
def journal_create(request: HttpRequest) -> HttpResponse:
    return edit_response(
        request,
        form=JournalForm(request.POST or None, initial={"kind": Journal.Kind.GENERAL}),
        save=lambda data: journal_save(company=request.company, actor=request.user, **data),
        success=_("Journal saved."),
        done_url=reverse("finance:journal_list"),
        title=_("New journal"),
        cancel_url=reverse("finance:journal_list"),
    )


@requires("finance.configure")
def journal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    journal = get_object_or_404(Journal.objects, pk=pk)
    initial = {
        "code": journal.code,
        "name": journal.name,
        "kind": journal.kind,
        "account": journal.account_id,
        "currency": journal.currency_id,
        "active": journal.active,
    }
    return edit_response(
        request,
        form=JournalForm(request.POST or None, initial=initial),
        save=lambda data: journal_save(
            company=request.company, journal=journal, actor=request.user, **data
        ),
        success=_("Journal saved."),
        done_url=reverse("finance:journal_list"),
        title=_("Edit journal %(journal)s") % {"journal": journal},
        cancel_url=reverse("finance:journal_list"),
    )


# --- taxes ------------------------------------------------------------------------------------


def _rate_text(tax: Tax) -> str:
    return f"{tax.rate.normalize():f} %"


TAX_LIST = ListScreen(
    key="finance-taxes",
    title=gettext_lazy("Taxes"),
    columns=[
        Column("code", gettext_lazy("Code"), order_by="code", link=True),
        Column("name", gettext_lazy("Name"), order_by="name"),
        Column("use", gettext_lazy("Used on"), accessor="get_use_display", order_by="use"),
        Column("rate", gettext_lazy("Rate"), accessor=_rate_text, order_by="rate"),
        Column("price_include", gettext_lazy("Included in price"), order_by="price_include"),
        Column("compound", gettext_lazy("Compound"), default=False),
        Column("account", gettext_lazy("Tax account"), accessor="account"),
        Column("sequence", gettext_lazy("Sequence"), order_by="sequence", default=False),
        Column("active", gettext_lazy("Active"), order_by="active"),
    ],
    search_fields=["code", "name"],
    filters=[
        Filter(
            "use",
            gettext_lazy("Used on"),
            "use",
            choices=lambda r: [(str(v), str(label)) for v, label in Tax.Use.choices],
        ),
        Filter("active", gettext_lazy("Active"), "active", choices=yes_no),
    ],
    default_sort="code",
    detail_url=lambda t: reverse("finance:tax_edit", args=[t.pk]),
)


@requires("finance.view")
def tax_list(request: HttpRequest) -> HttpResponse:
    configure = has_perm(request, "finance.configure")
    actions = [(_("New tax"), reverse("finance:tax_create"))] if configure else []
    screen = TAX_LIST if configure else replace(TAX_LIST, detail_url=None)
    return finance_list(request, screen, Tax.objects.select_related("account"), actions=actions)


def _tax_page(request: HttpRequest, tax: Tax | None) -> HttpResponse:
    initial: dict[str, Any] = {"active": True, "sequence": 10}
    if tax is not None:
        initial = {
            name: getattr(tax, name)
            for name in ("code", "name", "use", "rate", "price_include", "compound", "sequence")
        }
        initial.update(account=tax.account_id, active=tax.active)
    return edit_response(
        request,
        form=TaxForm(request.POST or None, initial=initial),
        save=lambda data: tax_save(company=request.company, tax=tax, actor=request.user, **data),
        success=_("Tax saved."),
        done_url=reverse("finance:tax_list"),
        title=_("Edit tax %(tax)s") % {"tax": tax} if tax else _("New tax"),
        cancel_url=reverse("finance:tax_list"),
    )


@requires("finance.configure")
def tax_create(request: HttpRequest) -> HttpResponse:
    return _tax_page(request, None)


@requires("finance.configure")
def tax_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _tax_page(request, get_object_or_404(Tax.objects, pk=pk))


# --- settings ---------------------------------------------------------------------------------


@requires("finance.configure")
def settings_edit(request: HttpRequest) -> HttpResponse:
    current = FinanceSettings.objects.first()
    initial: dict[str, Any] = {
        "tax_rounding": FinanceSettings.TaxRounding.PER_LINE,
        "rounding_mode": FinanceSettings.RoundingMode.HALF_UP,
        "dunning_fee": Decimal(0),
    }
    if current is not None:
        initial = {
            "tax_rounding": current.tax_rounding,
            "rounding_mode": current.rounding_mode,
            "dunning_fee": current.dunning_fee,
            **{name: getattr(current, f"{name}_id") for name in SETTINGS_ACCOUNTS},
            **{name: getattr(current, f"{name}_id") for name in SETTINGS_JOURNALS},
        }
    return edit_response(
        request,
        form=SettingsForm(request.POST or None, initial=initial),
        save=lambda data: settings_save(company=request.company, actor=request.user, **data),
        success=_("Finance settings saved."),
        done_url=reverse("finance:settings_edit"),
        title=_("Finance settings"),
        cancel_url=reverse("finance:account_list"),
    )


# --- fiscal years and periods -----------------------------------------------------------------


@requires("finance.view")
def year_list(request: HttpRequest) -> HttpResponse:
    years = list(FiscalYear.objects.select_related("closing_entry").order_by("-start"))
    by_year: dict[int, list[Period]] = {}
    for period in Period.objects.select_related("closed_by").order_by("start"):
        by_year.setdefault(period.fiscal_year_id, []).append(period)
    draft_dates = list(Entry.objects.filter(state=Entry.State.DRAFT).values_list("date", flat=True))
    drafts = {
        period.pk: sum(1 for d in draft_dates if period.start <= d <= period.end)
        for periods_ in by_year.values()
        for period in periods_
    }
    can_close = has_perm(request, "finance.close")
    return render(
        request,
        "finance/years.html",
        {
            "years": [
                {
                    "year": year,
                    "badge": badge(year),
                    "periods": [
                        {"period": p, "badge": badge(p), "drafts": drafts.get(p.pk, 0)}
                        for p in by_year.get(year.pk, [])
                    ],
                }
                for year in years
            ],
            "can_close": can_close,
        },
    )


@requires("finance.close")
def year_create(request: HttpRequest) -> HttpResponse:
    company = request.company
    last = FiscalYear.objects.order_by("-end").first()
    start = last.end + dt.timedelta(days=1) if last else periods.fiscal_year_start(company, today())
    return edit_response(
        request,
        form=FiscalYearForm(request.POST or None, initial={"start": start}),
        save=lambda data: periods.fiscal_year_create(
            company=company, start=data["start"], actor=request.user
        ),
        success=_("Fiscal year created."),
        done_url=reverse("finance:year_list"),
        title=_("New fiscal year"),
        cancel_url=reverse("finance:year_list"),
        submit_label=_("Create"),
    )


@requires("finance.close")
def revaluation(request: HttpRequest) -> HttpResponse:
    """Revalue what the company holds and owes in foreign currency at a date's rates."""
    company = request.company

    def save(data: dict[str, Any]) -> Entry:
        entry = periods.currency_revaluate(company=company, date=data["date"], actor=request.user)
        if entry is None:
            raise ValidationError(
                {"date": _("Nothing to revalue: no open foreign-currency items or balances.")}
            )
        return entry

    first_of_month = today().replace(day=1)
    return edit_response(
        request,
        form=RevaluationForm(
            request.POST or None, initial={"date": first_of_month - dt.timedelta(days=1)}
        ),
        save=save,
        success=_("Foreign-currency balances revalued; the reversal is dated the next day."),
        done_url=lambda entry: reverse("finance:entry_detail", args=[entry.pk]),
        title=_("Revalue foreign currencies"),
        cancel_url=reverse("finance:year_list"),
        submit_label=_("Revalue"),
    )


def _confirm_page(
    request: HttpRequest,
    *,
    form: ConfirmForm,
    title: str,
    facts: list[tuple[Any, Any]],
    warning: str,
    submit: str,
) -> HttpResponse:
    return render(
        request,
        "finance/confirm.html",
        {
            "form": form,
            "title": title,
            "facts": facts,
            "warning": warning,
            "submit_label": submit,
            "cancel_url": reverse("finance:year_list"),
        },
        status=400 if form.errors else 200,
    )


@requires("finance.close")
def period_close(request: HttpRequest, pk: int) -> HttpResponse:
    period = get_object_or_404(Period.objects.select_related("fiscal_year"), pk=pk)
    if period.state == Period.State.CLOSED:
        messages.info(request, _("The period %(period)s is closed.") % {"period": period.name})
        return redirect("finance:year_list")
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            periods.period_close(period=period, actor=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request, _("The period %(period)s is closed.") % {"period": period.name}
            )
            return redirect("finance:year_list")
    drafts = Entry.objects.filter(
        state=Entry.State.DRAFT, date__gte=period.start, date__lte=period.end
    ).count()
    posted = Entry.objects.filter(
        state=Entry.State.POSTED, date__gte=period.start, date__lte=period.end
    ).count()
    return _confirm_page(
        request,
        form=form,
        title=_("Close the period %(period)s") % {"period": period.name},
        facts=[
            (_("Fiscal year"), period.fiscal_year.name),
            (_("From"), period.start),
            (_("To"), period.end),
            (_("Posted entries"), posted),
            (_("Draft entries"), drafts),
        ],
        warning=_(
            "Once closed, nothing more can be posted with a date in this period, and it cannot "
            "be reopened. Corrections are posted in a later period."
        ),
        submit=_("Close the period"),
    )


@requires("finance.close")
def year_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Close a fiscal year after a confirmation: shows the result moved to retained earnings
    and the periods that will be closed."""
    year = get_object_or_404(FiscalYear.objects, pk=pk)
    if year.state == FiscalYear.State.CLOSED:
        messages.info(request, _("The fiscal year %(year)s is closed.") % {"year": year.name})
        return redirect("finance:year_list")
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                periods.fiscal_year_close(fiscal_year=year, actor=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request, _("The fiscal year %(year)s is closed.") % {"year": year.name}
            )
            return redirect("finance:year_list")
    totals = Line.objects.filter(
        entry__state=Entry.State.POSTED,
        date__gte=year.start,
        date__lte=year.end,
        account__type__in=[AccountType.INCOME, AccountType.EXPENSE],
    ).aggregate(debit=AmountSum("debit"), credit=AmountSum("credit"))
    profit = (totals["credit"] or Decimal(0)) - (totals["debit"] or Decimal(0))
    settings = FinanceSettings.objects.select_related("retained_earnings_account").first()
    base = request.company.base_currency_id
    return _confirm_page(
        request,
        form=form,
        title=_("Close the fiscal year %(year)s") % {"year": year.name},
        facts=[
            (_("From"), year.start),
            (_("To"), year.end),
            (_("Profit (loss) of the year"), Amount(profit, base)),
            (
                _("Moved to"),
                settings.retained_earnings_account if settings else _("(not set)"),
            ),
            (_("Open periods"), year.periods.filter(state=Period.State.OPEN).count()),
        ],
        warning=_(
            "The closing entry moves the year's income and expense balances to retained "
            "earnings on the last day of the year, then every period of the year is closed for "
            "good."
        ),
        submit=_("Close the year"),
    )


# --- dunning levels ---------------------------------------------------------------------------


def _dunning_screen(company: Company) -> ListScreen:
    base = company.base_currency_id
    return ListScreen(
        key="finance-dunning-levels",
        title=gettext_lazy("Dunning levels"),
        columns=[
            Column("level", gettext_lazy("Level"), order_by="level", link=True),
            Column("name", gettext_lazy("Name"), order_by="name"),
            Column("days_overdue", gettext_lazy("Days overdue"), order_by="days_overdue"),
            amount_column("fee", gettext_lazy("Fee"), "fee", currency=lambda r: base),
        ],
        search_fields=["name"],
        default_sort="level",
        detail_url=lambda d: reverse("finance:dunning_level_edit", args=[d.pk]),
    )


@requires("finance.view")
def dunning_level_list(request: HttpRequest) -> HttpResponse:
    configure = has_perm(request, "finance.configure")
    screen = _dunning_screen(request.company)
    if not configure:
        screen.detail_url = None
    actions = (
        [(_("New dunning level"), reverse("finance:dunning_level_create"))] if configure else []
    )
    return finance_list(request, screen, DunningLevel.objects.all(), actions=actions)


def _dunning_page(request: HttpRequest, level: DunningLevel | None) -> HttpResponse:
    if level is not None:
        initial = {n: getattr(level, n) for n in ("level", "name", "days_overdue", "fee", "letter")}
    else:
        last = DunningLevel.objects.order_by("-level").first()
        initial = {"level": (last.level + 1) if last else 1, "fee": Decimal(0)}
    return edit_response(
        request,
        form=DunningLevelForm(request.POST or None, initial=initial),
        save=lambda data: dunning_level_save(
            company=request.company, dunning_level=level, actor=request.user, **data
        ),
        success=_("Dunning level saved."),
        done_url=reverse("finance:dunning_level_list"),
        title=_("Edit dunning level %(name)s") % {"name": level.name}
        if level
        else _("New dunning level"),
        cancel_url=reverse("finance:dunning_level_list"),
    )


@requires("finance.configure")
def dunning_level_create(request: HttpRequest) -> HttpResponse:
    return _dunning_page(request, None)


@requires("finance.configure")
def dunning_level_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _dunning_page(request, get_object_or_404(DunningLevel.objects, pk=pk))


urlpatterns = [
    path("accounts/", account_list, name="account_list"),
    path("accounts/new/", account_create, name="account_create"),
    path("accounts/load/", chart_load, name="chart_load"),
    path("accounts/<int:pk>/", account_detail, name="account_detail"),
    path("accounts/<int:pk>/edit/", account_edit, name="account_edit"),
    path("journals/", journal_list, name="journal_list"),
    path("journals/new/", journal_create, name="journal_create"),
    path("journals/<int:pk>/edit/", journal_edit, name="journal_edit"),
    path("taxes/", tax_list, name="tax_list"),
    path("taxes/new/", tax_create, name="tax_create"),
    path("taxes/<int:pk>/edit/", tax_edit, name="tax_edit"),
    path("settings/", settings_edit, name="settings_edit"),
    path("years/", year_list, name="year_list"),
    path("years/new/", year_create, name="year_create"),
    path("revaluation/", revaluation, name="revaluation"),
    path("years/<int:pk>/close/", year_close, name="year_close"),
    path("periods/<int:pk>/close/", period_close, name="period_close"),
    path("dunning-levels/", dunning_level_list, name="dunning_level_list"),
    path("dunning-levels/new/", dunning_level_create, name="dunning_level_create"),
    path("dunning-levels/<int:pk>/edit/", dunning_level_edit, name="dunning_level_edit"),
]
