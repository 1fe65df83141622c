"""The journal: entries (list, page, the manual entry editor with live totals, posting,
reversal), journal items (the drill-down list of ledger lines every report figure links to) and
the ledger verification (the hash chain recomputed)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.money import minor_units
from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen
from xietong.core.ui.records import apply_errors, form_response, record_response
from xietong.finance.chain import chain_verify
from xietong.finance.forms import (
    EntryForm,
    EntryLineFormSet,
    ReverseForm,
    currency_choices,
    postable_accounts,
    today,
)
from xietong.finance.models import Account, Entry, Journal, Line
from xietong.finance.posting import (
    EntrySpec,
    LineSpec,
    entry_create,
    entry_draft_delete,
    entry_draft_post,
    entry_draft_update,
    entry_post,
    entry_reverse,
)
from xietong.finance.views.common import (
    Amount,
    amount_column,
    apply_action,
    badge,
    finance_list,
    fmt,
    formset_data,
    parse_decimal,
    rows_of,
    source_of,
)
from xietong.party.models import Party

ZERO = Decimal(0)
LINE_FIELDS = ("account", "label", "party", "debit", "credit", "currency", "rate")


def _base(row: Any) -> str:
    return row.company.base_currency_id


def _journal_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(j.pk), f"{j.code} {j.name}") for j in Journal.objects.order_by("code")]


def _state_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(v), str(label)) for v, label in Entry.State.choices]


def _account_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(a.pk), f"{a.code} {a.name}") for a in Account.objects.filter(is_group=False)]


def _entry_number(entry: Entry) -> str:
    return entry.number or _("Draft %(id)s") % {"id": entry.pk}


def _source_text(entry: Entry) -> str:
    source = source_of(entry)
    return source.label if source else ""


# --- entries ----------------------------------------------------------------------------------

ENTRY_LIST = ListScreen(
    key="finance-entries",
    title=gettext_lazy("Journal entries"),
    columns=[
        Column(
            "number", gettext_lazy("Number"), accessor=_entry_number, order_by="number", link=True
        ),
        Column("date", gettext_lazy("Date"), order_by="date"),
        Column(
            "journal", gettext_lazy("Journal"), accessor="journal__code", order_by="journal__code"
        ),
        Column("ref", gettext_lazy("Reference"), order_by="ref"),
        Column("state", gettext_lazy("State"), accessor=badge, order_by="state"),
        amount_column("total", gettext_lazy("Amount"), "total", currency=_base, order_by="total"),
        Column("source", gettext_lazy("Source document"), accessor=_source_text),
        Column("posted_at", gettext_lazy("Posted at"), order_by="posted_at", default=False),
    ],
    search_fields=["number", "ref"],
    filters=[
        Filter("journal", gettext_lazy("Journal"), "journal_id", choices=_journal_choices),
        Filter("state", gettext_lazy("State"), "state", choices=_state_choices),
        Filter("date_from", gettext_lazy("From"), "date__gte", kind="date"),
        Filter("date_to", gettext_lazy("To"), "date__lte", kind="date"),
    ],
    default_sort="-date",
    detail_url=lambda e: reverse("finance:entry_detail", args=[e.pk]),
)


@requires("finance.view")
def entry_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "finance.post"):
        actions.append((_("New journal entry"), reverse("finance:entry_create")))
    actions.append((_("Verify the ledger"), reverse("finance:ledger_verify")))
    entries = Entry.objects.select_related("journal", "company").annotate(total=Sum("lines__debit"))
    return finance_list(request, ENTRY_LIST, entries, actions=actions)


@requires("finance.view")
def entry_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(
        Entry.objects.select_related(
            "journal", "period", "reversal_of", "created_by", "posted_by", "company"
        ),
        pk=pk,
    )
    base = entry.company.base_currency_id
    lines = list(
        entry.lines.select_related("account", "party", "tax").prefetch_related(
            "debit_matches", "credit_matches"
        )
    )
    reversed_by = Entry.objects.filter(reversal_of=entry).first()
    actions: list[dict[str, Any]] = []
    if has_perm(request, "finance.post"):
        if entry.state == Entry.State.DRAFT:
            actions.append(
                {
                    "label": _("Post the entry"),
                    "url": reverse("finance:entry_post", args=[pk]),
                    "post": True,
                    "style": "success",
                }
            )
            if not entry.source_type:
                actions.append(
                    {"label": _("Edit"), "url": reverse("finance:entry_edit", args=[pk])}
                )
            actions.append(
                {
                    "label": _("Delete draft"),
                    "url": reverse("finance:entry_delete", args=[pk]),
                    "post": True,
                }
            )
        elif reversed_by is None and entry.reversal_of_id is None:
            actions.append(
                {
                    "label": _("Reverse"),
                    "url": reverse("finance:entry_reverse", args=[pk]),
                    "style": "outline-danger",
                }
            )
    rows = []
    for line in lines:
        matched = bool(line.debit_matches.all() or line.credit_matches.all())
        rows.append(
            {
                "line": line,
                "debit": Amount(line.debit, base, blank_zero=True),
                "credit": Amount(line.credit, base, blank_zero=True),
                "amount_currency": Amount(line.amount_currency, line.currency_id),
                "foreign": line.currency_id != base,
                "matched": matched,
            }
        )
    return record_response(
        request,
        obj=entry,
        title=_("Journal entry %(number)s") % {"number": _entry_number(entry)},
        fields=[],
        actions=actions,
        template="finance/entry_detail.html",
        extra={
            "entry": entry,
            "state_badge": badge(entry),
            "rows": rows,
            "total_debit": Amount(sum((line.debit for line in lines), ZERO), base),
            "total_credit": Amount(sum((line.credit for line in lines), ZERO), base),
            "reversed_by": reversed_by,
            "source": source_of(entry),
            "base": base,
        },
    )


# --- the manual entry editor ------------------------------------------------------------------


def _rows_of(data: Any) -> list[dict[str, str]]:
    return rows_of(data, LINE_FIELDS)


def _formset_data(rows: list[dict[str, str]]) -> Any:
    return formset_data(rows, LINE_FIELDS)


def _apply_action(rows: list[dict[str, str]], action: str) -> list[dict[str, str]]:
    return apply_action(rows, action, minimum=2)


def _totals(rows: list[dict[str, str]], base: str) -> dict[str, Any]:
    """Company-currency totals of the editor's lines (foreign lines need their rate)."""
    unit = Decimal(1).scaleb(-minor_units(base))
    debit = credit = ZERO
    unknown = False
    for row in rows:
        d = parse_decimal(row.get("debit")) or ZERO
        c = parse_decimal(row.get("credit")) or ZERO
        currency = row.get("currency") or base
        if currency == base:
            rate = Decimal(1)
        else:
            rate = parse_decimal(row.get("rate"))
            if rate is None:
                unknown = unknown or bool(d or c)
                continue
        debit += (d * rate).quantize(unit)
        credit += (c * rate).quantize(unit)
    difference = debit - credit
    return {
        "debit": fmt(debit, base),
        "credit": fmt(credit, base),
        "difference": fmt(difference, base),
        "balanced": not difference and not unknown and bool(debit),
        "unknown": unknown,
        "base": base,
    }


def _line_kwargs(request: HttpRequest) -> dict[str, Any]:
    base = request.company.base_currency_id
    currencies = [("", base)] + [(c, c) for c, _label in currency_choices() if c != base]
    return {
        "accounts": [(str(a.pk), f"{a.code} {a.name}") for a in postable_accounts()],
        "currencies": currencies,
    }


def _editor_context(
    request: HttpRequest, formset: Any, rows: list[dict[str, str]]
) -> dict[str, Any]:
    parties = Party.objects.filter(merged_into__isnull=True, active=True).order_by("name")
    return {
        "formset": formset,
        "totals": _totals(rows, request.company.base_currency_id),
        "parties": parties.values_list("code", "name")[:2000],
        "lines_url": reverse("finance:entry_lines"),
    }


def _specs(request: HttpRequest, form: EntryForm, formset: Any) -> tuple[EntrySpec | None, bool]:
    """The blueprint of the posted editor, or None with errors put on the line fields."""
    lines = [f for f in formset if not f.is_blank]
    codes = {f.cleaned_data["party"].strip() for f in lines if f.cleaned_data["party"].strip()}
    parties = {p.code: p for p in Party.objects.filter(code__in=codes, merged_into__isnull=True)}
    accounts = Account.objects.in_bulk([f.cleaned_data["account"] for f in lines])
    ok = True
    specs = []
    for f in lines:
        data = f.cleaned_data
        code = data["party"].strip()
        if code and code not in parties:
            f.add_error("party", _("No party has the code %(code)s.") % {"code": code})
            ok = False
        account = accounts.get(data["account"])
        if account is None:
            f.add_error("account", _("Choose the account."))
            ok = False
            continue
        specs.append(
            LineSpec(
                account=account,
                debit=data["debit"] or ZERO,
                credit=data["credit"] or ZERO,
                currency=data["currency"] or None,
                rate=data["rate"],
                label=data["label"],
                party=parties.get(code),
            )
        )
    if not ok:
        return None, False
    journal = get_object_or_404(Journal.objects, pk=form.cleaned_data["journal"])
    return (
        EntrySpec(
            journal=journal,
            date=form.cleaned_data["date"],
            lines=specs,
            ref=form.cleaned_data["ref"],
            narration=form.cleaned_data["narration"],
        ),
        True,
    )


def _rows_from_entry(entry: Entry, base: str) -> tuple[list[dict[str, str]], dict[str, str]]:
    rows = [
        {
            "account": str(line.account_id),
            "label": line.label,
            "party": line.party.code if line.party_id else "",
            "debit": str(line.amount_currency) if line.amount_currency > 0 else "",
            "credit": str(-line.amount_currency) if line.amount_currency < 0 else "",
            "currency": "" if line.currency_id == base else line.currency_id,
            "rate": "" if line.currency_id == base else str(line.rate),
        }
        for line in entry.lines.select_related("party")
    ]
    header = {
        "journal": str(entry.journal_id),
        "date": entry.date.isoformat(),
        "ref": entry.ref,
        "narration": entry.narration,
    }
    return rows, header


def _entry_editor(request: HttpRequest, entry: Entry | None) -> HttpResponse:
    journals = [
        (str(j.pk), f"{j.code} {j.name}")
        for j in Journal.objects.filter(active=True).order_by("code")
    ]
    kwargs = _line_kwargs(request)
    posting_errors: list[str] = []
    action = request.POST.get("lines_action", "") if request.method == "POST" else ""
    if request.method == "POST" and not action:
        form = EntryForm(request.POST, journals=journals)
        formset = EntryLineFormSet(request.POST, prefix="lines", form_kwargs=kwargs)
        rows = _rows_of(request.POST)
        if form.is_valid() and formset.is_valid():
            spec, ok = _specs(request, form, formset)
            if ok and spec is not None:
                post = "post" in request.POST
                try:
                    with transaction.atomic():
                        if entry is not None:
                            saved = entry_draft_update(entry=entry, spec=spec, actor=request.user)
                            if post:
                                saved = entry_draft_post(entry=saved, actor=request.user)
                        elif post:
                            saved = entry_post(
                                company=request.company, spec=spec, actor=request.user
                            )
                        else:
                            saved = entry_create(
                                company=request.company, spec=spec, actor=request.user
                            )
                except ValidationError as exc:  # PostingError and the period's own checks
                    posting_errors = exc.messages
                else:
                    messages.success(
                        request,
                        _("Entry %(number)s posted.") % {"number": saved.number}
                        if post
                        else _("Draft entry saved."),
                    )
                    return redirect("finance:entry_detail", pk=saved.pk)
    else:
        if action:
            rows = _apply_action(_rows_of(request.POST), action)
            header = {k: request.POST.get(k, "") for k in ("journal", "date", "ref", "narration")}
        elif entry is not None:
            rows, header = _rows_from_entry(entry, request.company.base_currency_id)
        else:
            rows = [{}, {}]  # type: ignore[list-item]
            general = Journal.objects.filter(kind=Journal.Kind.GENERAL, active=True).first()
            header = {"journal": str(general.pk) if general else "", "date": today().isoformat()}
        form = EntryForm(initial=header, journals=journals)
        formset = EntryLineFormSet(_formset_data(rows), prefix="lines", form_kwargs=kwargs)
    show_errors = request.method == "POST" and not action
    has_errors = show_errors and bool(posting_errors or form.errors or formset.total_error_count())
    context = {
        "form": form,
        "title": _("Edit draft entry") if entry else _("New journal entry"),
        "cancel_url": reverse("finance:entry_detail", args=[entry.pk])
        if entry
        else reverse("finance:entry_list"),
        "posting_errors": posting_errors,
        "show_errors": show_errors,
        **_editor_context(request, formset, rows),
    }
    return render(request, "finance/entry_form.html", context, status=400 if has_errors else 200)


@requires("finance.post")
def entry_create_view(request: HttpRequest) -> HttpResponse:
    return _entry_editor(request, None)


@requires("finance.post")
def entry_edit(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(Entry.objects, pk=pk)
    if entry.state != Entry.State.DRAFT or entry.source_type:
        messages.error(request, _("Only a manual draft entry can be edited."))
        return redirect("finance:entry_detail", pk=pk)
    return _entry_editor(request, entry)


@require_POST
@requires("finance.post")
def entry_lines(request: HttpRequest) -> HttpResponse:
    """The line editor's HTMX answers: the lines after adding or removing one, or only the
    totals (`?part=totals`) while amounts are typed. Nothing is saved."""
    rows = _rows_of(request.POST)
    base = request.company.base_currency_id
    if request.GET.get("part") == "totals":
        return render(request, "finance/_entry_totals.html", {"totals": _totals(rows, base)})
    rows = _apply_action(rows, request.POST.get("lines_action", ""))
    formset = EntryLineFormSet(
        _formset_data(rows), prefix="lines", form_kwargs=_line_kwargs(request)
    )
    context = {**_editor_context(request, formset, rows), "show_errors": False}
    return render(request, "finance/_entry_lines.html", context)


@require_POST
@requires("finance.post")
def entry_post_view(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(Entry.objects, pk=pk)
    try:
        entry = entry_draft_post(entry=entry, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Entry %(number)s posted.") % {"number": entry.number})
    return redirect("finance:entry_detail", pk=pk)


@require_POST
@requires("finance.post")
def entry_delete(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(Entry.objects, pk=pk)
    try:
        entry_draft_delete(entry=entry, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("finance:entry_detail", pk=pk)
    messages.success(request, _("Draft entry deleted."))
    return redirect("finance:entry_list")


@requires("finance.post")
def entry_reverse_view(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(Entry.objects.select_related("journal", "company"), pk=pk)
    back = reverse("finance:entry_detail", args=[pk])
    if entry.state != Entry.State.POSTED:
        messages.error(request, _("Only a posted entry can be reversed."))
        return redirect(back)
    form = ReverseForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            reversal = entry_reverse(
                entry=entry,
                actor=request.user,
                date=form.cleaned_data["date"],
                ref=form.cleaned_data["ref"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("Entry %(number)s reversed by %(reversal)s.")
                % {"number": entry.number, "reversal": reversal.number},
            )
            return redirect("finance:entry_detail", pk=reversal.pk)
    return form_response(
        request,
        form=form,
        title=_("Reverse entry %(number)s") % {"number": entry.number},
        cancel_url=back,
        submit_label=_("Post the reversal"),
        status=400 if form.errors else 200,
    )


# --- journal items (the drill-down) -----------------------------------------------------------


def _party_text(line: Line) -> str:
    return line.party.name if line.party_id else ""


LINE_LIST = ListScreen(
    key="finance-lines",
    title=gettext_lazy("Journal items"),
    columns=[
        Column("date", gettext_lazy("Date"), order_by="date", link=True),
        Column(
            "entry",
            gettext_lazy("Entry"),
            accessor=lambda line: _entry_number(line.entry),
            order_by="entry__number",
        ),
        Column("journal", gettext_lazy("Journal"), accessor="entry__journal__code"),
        Column("account", gettext_lazy("Account"), accessor="account", order_by="account__code"),
        Column("party", gettext_lazy("Party"), accessor=_party_text, order_by="party__name"),
        Column("label", gettext_lazy("Label"), order_by="label"),
        amount_column("debit", gettext_lazy("Debit"), "debit", currency=_base, order_by="debit"),
        amount_column(
            "credit", gettext_lazy("Credit"), "credit", currency=_base, order_by="credit"
        ),
        amount_column(
            "amount_currency",
            gettext_lazy("Amount in currency"),
            "amount_currency",
            default=False,
        ),
        Column("currency", gettext_lazy("Currency"), accessor="currency_id", default=False),
        Column("state", gettext_lazy("State"), accessor=lambda line: badge(line.entry)),
    ],
    search_fields=["label", "entry__number", "entry__ref", "party__name"],
    filters=[
        Filter("account", gettext_lazy("Account"), "account_id", choices=_account_choices),
        Filter("journal", gettext_lazy("Journal"), "entry__journal_id", choices=_journal_choices),
        Filter("state", gettext_lazy("State"), "entry__state", choices=_state_choices),
        Filter("party", gettext_lazy("Party (code)"), "party__code", kind="text"),
        Filter("date_from", gettext_lazy("From"), "date__gte", kind="date"),
        Filter("date_to", gettext_lazy("To"), "date__lte", kind="date"),
    ],
    default_sort="date",
    page_size=50,
    detail_url=lambda line: reverse("finance:entry_detail", args=[line.entry_id]),
)


@requires("finance.view")
def line_list(request: HttpRequest) -> HttpResponse:
    lines = Line.objects.select_related("entry", "entry__journal", "account", "party", "company")
    return finance_list(request, LINE_LIST, lines)


# --- verification -----------------------------------------------------------------------------


@requires("finance.view")
def ledger_verify(request: HttpRequest) -> HttpResponse:
    """Recompute the hash chain of every journal and show what does not match."""
    ran = request.GET.get("run") == "1"
    problems = []
    if ran:
        for problem in chain_verify(company=request.company):
            problems.append(problem)
            if len(problems) >= 500:
                break
    counts = dict(
        Entry.objects.filter(state=Entry.State.POSTED)
        .values_list("journal_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    journals = [
        {"journal": journal, "posted": counts.get(journal.pk, 0)}
        for journal in Journal.objects.order_by("code")
    ]
    return render(
        request,
        "finance/verify.html",
        {
            "ran": ran,
            "problems": problems,
            "journals": journals,
            "checked": sum(counts.values()),
        },
    )


urlpatterns = [
    path("entries/", entry_list, name="entry_list"),
    path("entries/new/", entry_create_view, name="entry_create"),
    path("entries/lines/", entry_lines, name="entry_lines"),
    path("entries/<int:pk>/", entry_detail, name="entry_detail"),
    path("entries/<int:pk>/edit/", entry_edit, name="entry_edit"),
    path("entries/<int:pk>/post/", entry_post_view, name="entry_post"),
    path("entries/<int:pk>/delete/", entry_delete, name="entry_delete"),
    path("entries/<int:pk>/reverse/", entry_reverse_view, name="entry_reverse"),
    path("items/", line_list, name="line_list"),
    path("verify/", ledger_verify, name="ledger_verify"),
]
