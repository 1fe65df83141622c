"""Screens of customers and suppliers: lists, the party page (overview, contacts, addresses,
bank accounts, timeline, history), forms with field errors and the duplicate warning, merging,
credit terms, and the customer-group and payment-term settings. Each view parses input, calls
one service or selector and renders; its permission is declared right on it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.imports import import_actions
from xietong.core.money import Money
from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import apply_errors, edit_response, form_response, record_response
from xietong.party import selectors, services, timeline
from xietong.party.forms import (
    AddressForm,
    BankAccountForm,
    ContactForm,
    CreditTermsForm,
    CustomerGroupForm,
    MergeForm,
    PartyForm,
    PaymentTermForm,
    PaymentTermLineFormSet,
    TimelineFilterForm,
    TimelineNoteForm,
    term_lines_from,
)
from xietong.party.identifiers import scheme_for, scheme_get
from xietong.party.models import (
    Address,
    BankAccount,
    Contact,
    CustomerGroup,
    Party,
    PaymentTerm,
    Tag,
)
from xietong.party.panels import panels_for
from xietong.party.terms import lines_text, payment_schedule

TIMELINE_PAGE = 30

# --- lists ------------------------------------------------------------------------------------


def _tags_text(party: Party) -> str:
    return ", ".join(tag.name for tag in party.tags.all())


def _person(user: Any) -> str:
    return (user.get_full_name() or user.username) if user else ""


def _group_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(g.pk), g.name) for g in CustomerGroup.objects.order_by("name")]


def _tag_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(t.pk), t.name) for t in Tag.objects.order_by("name")]


def _country_choices(request: HttpRequest) -> list[tuple[str, str]]:
    codes = Party.objects.exclude(country=None).values_list("country_id", flat=True).distinct()
    return sorted(
        (
            (c.code, selectors.country_label(c))
            for c in selectors.countries().filter(code__in=codes)
        ),
        key=lambda pair: pair[1],
    )


def _salesperson_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(u.pk), _person(u)) for u in selectors.salespeople(company=request.company)]


def _yes_no(request: HttpRequest) -> list[tuple[str, str]]:
    return [("1", _("Yes")), ("0", _("No"))]


def _party_columns(role: str) -> list[Column]:
    columns = [
        Column("code", gettext_lazy("Code"), order_by="code", link=True),
        Column("name", gettext_lazy("Name"), order_by="name"),
        Column("legal_name", gettext_lazy("Legal name"), order_by="legal_name", default=False),
        Column(
            "country",
            gettext_lazy("Country"),
            accessor=lambda p: selectors.country_label(p.country),
            order_by="country_id",
        ),
        Column("phone", gettext_lazy("Phone")),
        Column("email", gettext_lazy("E-mail"), order_by="email", default=False),
        Column("tax_id", gettext_lazy("Tax ID"), order_by="tax_id", default=False),
        Column(
            "payment_term",
            gettext_lazy("Payment term"),
            accessor="payment_term",
            order_by="payment_term__name",
            default=role == "supplier",
        ),
        Column("tags", gettext_lazy("Tags"), accessor=_tags_text),
        Column("active", gettext_lazy("Active"), order_by="active"),
        Column("created_at", gettext_lazy("Created"), order_by="created_at", default=False),
    ]
    if role == "customer":
        columns[4:4] = [
            Column(
                "group",
                gettext_lazy("Customer group"),
                accessor="customer_group",
                order_by="customer_group__name",
            ),
            Column(
                "salesperson",
                gettext_lazy("Salesperson"),
                accessor=lambda p: _person(p.salesperson),
                order_by="salesperson__last_name",
            ),
            Column(
                "credit_limit",
                gettext_lazy("Credit limit"),
                order_by="credit_limit",
                default=False,
            ),
        ]
    else:
        columns.insert(
            4,
            Column(
                "lead_days",
                gettext_lazy("Lead time (days)"),
                accessor="supplier_lead_days",
                order_by="supplier_lead_days",
            ),
        )
    return columns


def _party_filters(role: str) -> list[Filter]:
    filters = [
        Filter("tag", gettext_lazy("Tag"), "tags__id", choices=_tag_choices),
        Filter("country", gettext_lazy("Country"), "country_id", choices=_country_choices),
        Filter("active", gettext_lazy("Active"), "active", choices=_yes_no),
    ]
    if role == "customer":
        filters[:0] = [
            Filter(
                "group", gettext_lazy("Customer group"), "customer_group_id", choices=_group_choices
            ),
            Filter(
                "salesperson",
                gettext_lazy("Salesperson"),
                "salesperson_id",
                choices=_salesperson_choices,
            ),
        ]
    return filters


def _party_screen(role: str, title: Any) -> ListScreen:
    return ListScreen(
        key=f"parties-{role}",
        title=title,
        columns=_party_columns(role),
        search_fields=["name", "legal_name", "code", "tax_id", "phone", "email"],
        filters=_party_filters(role),
        default_sort="name",
        detail_url=lambda p: reverse("party:party_detail", args=[p.pk]),
    )


CUSTOMER_LIST = _party_screen("customer", gettext_lazy("Customers"))
SUPPLIER_LIST = _party_screen("supplier", gettext_lazy("Suppliers"))


def _party_list(
    request: HttpRequest, role: str, screen: ListScreen, new_label: str
) -> HttpResponse:
    actions = []
    if has_perm(request, "party.change"):
        actions.append((new_label, reverse("party:party_create") + f"?role={role}"))
    actions += import_actions(request, "parties", "contacts")
    return list_response(
        request, screen, selectors.parties(role=role).distinct(), extra={"actions": actions}
    )


@requires("party.view")
def customer_list(request: HttpRequest) -> HttpResponse:
    return _party_list(request, "customer", CUSTOMER_LIST, _("New customer"))


@requires("party.view")
def supplier_list(request: HttpRequest) -> HttpResponse:
    return _party_list(request, "supplier", SUPPLIER_LIST, _("New supplier"))


# --- the party page ---------------------------------------------------------------------------

TABS = ("overview", "contacts", "addresses", "bank", "timeline", "history")


def _party_or_404(pk: int) -> Party:
    return get_object_or_404(Party.objects, pk=pk)


def _back(party: Party, tab: str = "overview") -> str:
    url = reverse("party:party_detail", args=[party.pk])
    return url if tab == "overview" else f"{url}?tab={tab}"


def _scheme_label(party: Party) -> str:
    if not party.tax_scheme:
        return str(scheme_for(country=party.country_id).label) if party.tax_id else ""
    scheme = scheme_get(party.tax_scheme)
    return str(scheme.label) if scheme else party.tax_scheme


def _timeline_context(request: HttpRequest, party: Party) -> dict[str, Any]:
    form = TimelineFilterForm(request.GET or None, party=party)
    kinds, date_from, date_to = [], None, None
    if form.is_valid():
        kind = form.cleaned_data["kind"]
        kinds = [kind] if kind else []
        date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    entries = selectors.timeline_for(party=party, kinds=kinds, date_from=date_from, date_to=date_to)
    page = Paginator(entries, TIMELINE_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("tab", None)
    return {
        "party": party,
        "timeline_form": form,
        "timeline_page": page,
        "timeline_entries": [
            {
                "entry": entry,
                "label": timeline.kind_label(entry.kind),
                "icon": timeline.kind_icon(entry.kind),
            }
            for entry in page.object_list
        ],
        "timeline_query": query.urlencode(),
        "note_form": TimelineNoteForm() if has_perm(request, "party.change") else None,
    }


def _schedule_example(party: Party) -> list[Any]:
    if party.payment_term is None:
        return []
    return payment_schedule(
        term=party.payment_term,
        invoice_date=timezone.localdate(),
        total=Money(Decimal(10000), party.currency_id),
    )


@requires("party.view")
def party_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        party = selectors.party_detail(pk=pk)
    except Party.DoesNotExist:
        raise Http404 from None
    can_change = has_perm(request, "party.change") and not party.merged_into_id
    actions = []
    if can_change:
        actions.append({"label": _("Edit"), "url": reverse("party:party_edit", args=[pk])})
    if has_perm(request, "party.credit") and not party.merged_into_id:
        actions.append(
            {
                "label": _("Credit terms"),
                "url": reverse("party:party_credit", args=[pk]),
                "style": "outline-primary",
            }
        )
    if has_perm(request, "party.merge") and not party.merged_into_id:
        actions.append(
            {
                "label": _("Merge a duplicate"),
                "url": reverse("party:party_merge", args=[pk]),
                "style": "outline-secondary",
            }
        )
    if can_change:
        if party.active:
            actions.append(
                {
                    "label": _("Archive"),
                    "url": reverse("party:party_archive", args=[pk]),
                    "post": True,
                }
            )
        else:
            actions.append(
                {
                    "label": _("Restore"),
                    "url": reverse("party:party_restore", args=[pk]),
                    "post": True,
                    "style": "outline-success",
                }
            )
    tab = request.GET.get("tab", "overview")
    contacts = list(party.contacts.all())
    addresses = list(party.addresses.all())
    bank_accounts = list(party.bank_accounts.all())
    context = {
        "party": party,
        "tab": tab if tab in TABS else "overview",
        "can_change": can_change,
        "scheme_label": _scheme_label(party),
        "country_label": selectors.country_label(party.country),
        "contacts": contacts,
        "addresses": [{"address": a, "text": selectors.address_text(a)} for a in addresses],
        "bank_accounts": bank_accounts,
        "active_counts": {
            "contacts": sum(1 for c in contacts if c.active),
            "addresses": sum(1 for a in addresses if a.active),
            "bank": sum(1 for b in bank_accounts if b.active),
        },
        "default_addresses": [
            {"address": a, "text": selectors.address_text(a)}
            for a in addresses
            if a.active and a.is_default
        ],
        "primary_contact": next((c for c in contacts if c.active and c.is_primary), None),
        "schedule": _schedule_example(party),
        "panels": panels_for(request, party),
        **_timeline_context(request, party),
    }
    return record_response(
        request,
        obj=party,
        title=party.name,
        fields=[],
        actions=actions,
        template="party/detail.html",
        extra=context,
    )


@requires("party.view")
def party_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The timeline entries with the filters applied: a fragment for HTMX, else a page."""
    party = _party_or_404(pk)
    context = _timeline_context(request, party)
    if request.htmx:
        return render(request, "party/_timeline_entries.html", context)
    return render(request, "party/timeline.html", context)


@requires("party.change")
def timeline_note(request: HttpRequest, pk: int) -> HttpResponse:
    party = _party_or_404(pk)

    def save(data: dict[str, Any]) -> Any:
        occurred = data.get("occurred_at")
        return services.timeline_add(
            party=party,
            kind="note",
            summary=data["summary"],
            occurred_at=occurred,
            actor=request.user,
        )

    return edit_response(
        request,
        form=TimelineNoteForm(request.POST or None),
        save=save,
        success=_("Note added to the timeline."),
        done_url=_back(party, "timeline"),
        title=_("Add a note about %(party)s") % {"party": party.name},
        cancel_url=_back(party, "timeline"),
    )


# --- create, edit, credit terms, archive ------------------------------------------------------


def _party_form_page(
    request: HttpRequest,
    form: PartyForm,
    *,
    title: str,
    cancel_url: str,
    candidates: list[Any] | None = None,
    party: Party | None = None,
) -> HttpResponse:
    return render(
        request,
        "party/party_form.html",
        {
            "form": form,
            "title": title,
            "cancel_url": cancel_url,
            "candidates": candidates or [],
            "party": party,
        },
        status=400 if form.errors else 200,
    )


@requires("party.change")
def party_create(request: HttpRequest) -> HttpResponse:
    role = request.GET.get("role", "customer")
    company = request.company
    initial = {
        "kind": Party.Kind.ORGANISATION,
        "is_customer": role == "customer",
        "is_supplier": role == "supplier",
        "is_carrier": role == "carrier",
        "currency": company.base_currency_id,
        "country": company.country if len(company.country or "") == 2 else None,
        "language": "zh-hans",
    }
    if role == "customer":
        initial["salesperson"] = request.user.pk
    form = PartyForm(request.POST or None, company=company, initial=initial)
    candidates: list[Any] = []
    if request.method == "POST" and form.is_valid():
        try:
            party = services.party_create(
                company=company,
                actor=request.user,
                allow_duplicate=form.cleaned_data["allow_duplicate"],
                **form.service_fields(),
            )
        except services.DuplicateParties as exc:
            candidates = exc.candidates
            apply_errors(form, exc)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("%(name)s created.") % {"name": party.name})
            return redirect("party:party_detail", pk=party.pk)
    if request.method == "POST" and not candidates:  # still show look-alikes next to errors
        candidates = selectors.party_duplicates(
            company,
            name=request.POST.get("name", "")[:200],
            tax_id=request.POST.get("tax_id", "")[:40],
            phone=request.POST.get("phone", "")[:40],
            email=request.POST.get("email", "")[:254],
            limit=10,
        )
    back = reverse("party:supplier_list" if role == "supplier" else "party:customer_list")
    titles = {
        "supplier": _("New supplier"),
        "carrier": _("New carrier"),
    }
    return _party_form_page(
        request,
        form,
        title=titles.get(role, _("New customer")),
        cancel_url=back,
        candidates=candidates,
    )


@requires("party.change")
def party_edit(request: HttpRequest, pk: int) -> HttpResponse:
    party = _party_or_404(pk)
    form = PartyForm(
        request.POST or None,
        company=request.company,
        creating=False,
        initial=PartyForm.initial_for(party),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.party_update(party=party, actor=request.user, **form.service_fields())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("%(name)s saved.") % {"name": party.name})
            return redirect("party:party_detail", pk=party.pk)
    return _party_form_page(
        request,
        form,
        title=_("Edit %(name)s") % {"name": party.name},
        cancel_url=_back(party),
        party=party,
    )


@requires("party.view")
def duplicate_check(request: HttpRequest) -> HttpResponse:
    """The live duplicate warning of the party form (HTMX fragment)."""
    exclude = request.GET.get("exclude")
    candidates = selectors.party_duplicates(
        request.company,
        name=request.GET.get("name", "")[:200],
        tax_id=request.GET.get("tax_id", "")[:40],
        phone=request.GET.get("phone", "")[:40],
        email=request.GET.get("email", "")[:254],
        exclude=int(exclude) if exclude and exclude.isdigit() else None,
        limit=10,
    )
    return render(request, "party/_duplicates.html", {"candidates": candidates})


@requires("party.credit")
def party_credit(request: HttpRequest, pk: int) -> HttpResponse:
    party = _party_or_404(pk)
    form = CreditTermsForm(
        request.POST or None,
        initial={"credit_limit": party.credit_limit, "payment_term": party.payment_term_id},
    )
    return edit_response(
        request,
        form=form,
        save=lambda data: services.party_set_credit_terms(
            party=party,
            actor=request.user,
            credit_limit=data["credit_limit"],
            payment_term=data["payment_term"],
        ),
        success=_("Credit terms saved."),
        done_url=_back(party),
        title=_("Credit terms of %(name)s") % {"name": party.name},
        cancel_url=_back(party),
    )


@require_POST
@requires("party.change")
def party_archive(request: HttpRequest, pk: int) -> HttpResponse:
    party = _party_or_404(pk)
    services.party_archive(party=party, actor=request.user)
    messages.success(request, _("%(name)s archived.") % {"name": party.name})
    return redirect("party:party_detail", pk=pk)


@require_POST
@requires("party.change")
def party_restore(request: HttpRequest, pk: int) -> HttpResponse:
    party = _party_or_404(pk)
    try:
        services.party_restore(party=party, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(name)s is active again.") % {"name": party.name})
    return redirect("party:party_detail", pk=pk)


# --- merge ------------------------------------------------------------------------------------

COMPARE_FIELDS = [
    ("code", gettext_lazy("Code")),
    ("name", gettext_lazy("Name")),
    ("legal_name", gettext_lazy("Legal name")),
    ("tax_id", gettext_lazy("Tax ID")),
    ("country", gettext_lazy("Country")),
    ("email", gettext_lazy("E-mail")),
    ("phone", gettext_lazy("Phone")),
    ("customer_group", gettext_lazy("Customer group")),
    ("payment_term", gettext_lazy("Payment term")),
    ("credit_limit", gettext_lazy("Credit limit")),
    ("salesperson", gettext_lazy("Salesperson")),
    ("active", gettext_lazy("Active")),
    ("created_at", gettext_lazy("Created")),
]


@requires("party.merge")
def party_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge a duplicate into this party: suggestions and a search, then a side-by-side
    comparison with what will move, then the merge."""
    survivor = _party_or_404(pk)
    if survivor.merged_into_id:
        messages.error(request, _("This party was merged into another one; merge into that one."))
        return redirect("party:party_detail", pk=pk)
    source = request.POST if request.method == "POST" else request.GET
    duplicate = None
    raw = source.get("duplicate", "")
    if raw.isdigit():
        duplicate = (
            Party.objects.filter(pk=int(raw), merged_into__isnull=True).exclude(pk=pk).first()
        )
    form = MergeForm(
        request.POST or None, initial={"duplicate": duplicate.pk if duplicate else None}
    )
    if request.method == "POST" and duplicate is None:
        form.is_valid()
        form.add_error(None, _("Choose the duplicate to merge into this party."))
    elif request.method == "POST" and form.is_valid():
        try:
            services.party_merge(survivor=survivor, duplicate=duplicate, actor=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(duplicate)s was merged into %(survivor)s.")
                % {"duplicate": duplicate.name, "survivor": survivor.name},
            )
            return redirect("party:party_detail", pk=pk)
    query = request.GET.get("q", "").strip()[:100]
    found = []
    if query:
        found = list(
            selectors.parties()
            .filter(
                Q(name__icontains=query) | Q(code__icontains=query) | Q(tax_id__icontains=query)
            )
            .exclude(pk=pk)
            .order_by("name")[:20]
        )
    comparison = []
    if duplicate is not None:
        for name, label in COMPARE_FIELDS:
            mine, theirs = getattr(survivor, name), getattr(duplicate, name)
            if name == "country":
                mine, theirs = selectors.country_label(mine), selectors.country_label(theirs)
            comparison.append(
                {
                    "label": label,
                    "survivor": mine,
                    "duplicate": theirs,
                    "fills": mine in (None, "") and theirs not in (None, ""),
                }
            )
    return render(
        request,
        "party/merge.html",
        {
            "survivor": survivor,
            "duplicate": duplicate,
            "suggestions": selectors.party_duplicates(
                request.company,
                name=survivor.name,
                tax_id=survivor.tax_id,
                phone=survivor.phone,
                email=survivor.email,
                exclude=survivor,
                limit=10,
            ),
            "query": query,
            "found": found,
            "comparison": comparison,
            "moves": selectors.references_count(party=duplicate) if duplicate else [],
            "form": form,
        },
        status=400 if form.errors else 200,
    )


# --- contacts, addresses, bank accounts -------------------------------------------------------


def _child_page(
    request: HttpRequest,
    *,
    form: Any,
    party: Party,
    save: Any,
    tab: str,
    title: str,
    success: str,
) -> HttpResponse:
    if request.method == "POST" and form.is_valid():
        try:
            save(form)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, success)
            return redirect(_back(party, tab))
    return form_response(
        request,
        form=form,
        title=title,
        cancel_url=_back(party, tab),
        status=400 if form.errors else 200,
    )


@requires("party.change")
def contact_create(request: HttpRequest, pk: int) -> HttpResponse:
    party = _party_or_404(pk)
    form = ContactForm(request.POST or None, initial={"language": party.language})
    return _child_page(
        request,
        form=form,
        party=party,
        save=lambda f: services.contact_create(party=party, actor=request.user, **f.cleaned_data),
        tab="contacts",
        title=_("New contact at %(party)s") % {"party": party.name},
        success=_("Contact added."),
    )


@requires("party.change")
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact.objects.select_related("party"), pk=pk)
    form = ContactForm(request.POST or None, initial=ContactForm.initial_for(contact))
    return _child_page(
        request,
        form=form,
        party=contact.party,
        save=lambda f: services.contact_update(
            contact=contact, actor=request.user, **f.cleaned_data
        ),
        tab="contacts",
        title=_("Edit contact %(name)s") % {"name": contact.name},
        success=_("Contact saved."),
    )


@require_POST
@requires("party.change")
def contact_archive(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact.objects.select_related("party"), pk=pk)
    services.contact_archive(contact=contact, actor=request.user)
    messages.success(request, _("Contact archived."))
    return redirect(_back(contact.party, "contacts"))


@requires("party.change")
def address_create(request: HttpRequest, pk: int) -> HttpResponse:
    party = _party_or_404(pk)
    kind = request.GET.get("kind", Address.Kind.BILLING)
    form = AddressForm(
        request.POST or None,
        initial={"kind": kind, "country": party.country_id or request.company.country},
    )
    return _child_page(
        request,
        form=form,
        party=party,
        save=lambda f: services.address_create(
            party=party, actor=request.user, **f.service_fields()
        ),
        tab="addresses",
        title=_("New address of %(party)s") % {"party": party.name},
        success=_("Address added."),
    )


@requires("party.change")
def address_edit(request: HttpRequest, pk: int) -> HttpResponse:
    address = get_object_or_404(Address.objects.select_related("party"), pk=pk)
    form = AddressForm(request.POST or None, initial=AddressForm.initial_for(address))
    return _child_page(
        request,
        form=form,
        party=address.party,
        save=lambda f: services.address_update(
            address=address, actor=request.user, **f.service_fields()
        ),
        tab="addresses",
        title=_("Edit address"),
        success=_("Address saved."),
    )


@require_POST
@requires("party.change")
def address_archive(request: HttpRequest, pk: int) -> HttpResponse:
    address = get_object_or_404(Address.objects.select_related("party"), pk=pk)
    services.address_archive(address=address, actor=request.user)
    messages.success(request, _("Address archived."))
    return redirect(_back(address.party, "addresses"))


@requires("party.view")
def region_options(request: HttpRequest) -> HttpResponse:
    """The <option>s of the region select for a country (HTMX, when the country changes)."""
    country = request.GET.get("country", "").upper()[:2]
    regions = [(r.pk, selectors.region_label(r)) for r in selectors.regions(country=country or "-")]
    return render(
        request,
        "party/_region_options.html",
        {"regions": sorted(regions, key=lambda pair: pair[1])},
    )


@requires("party.change")
def bank_account_create(request: HttpRequest, pk: int) -> HttpResponse:
    party = _party_or_404(pk)
    form = BankAccountForm(request.POST or None, initial={"holder": party.legal_name or party.name})
    return _child_page(
        request,
        form=form,
        party=party,
        save=lambda f: services.bank_account_create(
            party=party, actor=request.user, **f.service_fields()
        ),
        tab="bank",
        title=_("New bank account of %(party)s") % {"party": party.name},
        success=_("Bank account added."),
    )


@requires("party.change")
def bank_account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(BankAccount.objects.select_related("party"), pk=pk)
    form = BankAccountForm(
        request.POST or None,
        initial={
            "bank_name": account.bank_name,
            "account_number": account.account_number,
            "holder": account.holder,
            "swift": account.swift,
            "currency": account.currency_id,
        },
    )
    return _child_page(
        request,
        form=form,
        party=account.party,
        save=lambda f: services.bank_account_update(
            account=account, actor=request.user, **f.service_fields()
        ),
        tab="bank",
        title=_("Edit bank account"),
        success=_("Bank account saved."),
    )


@require_POST
@requires("party.change")
def bank_account_archive(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(BankAccount.objects.select_related("party"), pk=pk)
    services.bank_account_archive(account=account, actor=request.user)
    messages.success(request, _("Bank account archived."))
    return redirect(_back(account.party, "bank"))


# --- customer groups --------------------------------------------------------------------------

GROUP_LIST = ListScreen(
    key="customer-groups",
    title=gettext_lazy("Customer groups"),
    columns=[
        Column("code", gettext_lazy("Code"), order_by="code", link=True),
        Column("name", gettext_lazy("Name"), order_by="name"),
        Column(
            "max_discount_percent",
            gettext_lazy("Discount without approval (%)"),
            order_by="max_discount_percent",
        ),
        Column("party_count", gettext_lazy("Customers"), order_by="party_count"),
        Column("active", gettext_lazy("Active"), order_by="active"),
    ],
    search_fields=["code", "name"],
    filters=[Filter("active", gettext_lazy("Active"), "active", choices=_yes_no)],
    default_sort="code",
    detail_url=lambda g: reverse("party:group_detail", args=[g.pk]),
)


@requires("party.view")
def group_list(request: HttpRequest) -> HttpResponse:
    actions = (
        [(_("New customer group"), reverse("party:group_create"))]
        if has_perm(request, "party.credit")
        else []
    )
    return list_response(
        request,
        GROUP_LIST,
        selectors.customer_groups(include_inactive=True),
        extra={"actions": actions},
    )


@requires("party.view")
def group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_object_or_404(CustomerGroup.objects, pk=pk)
    actions = []
    if has_perm(request, "party.credit"):
        actions.append({"label": _("Edit"), "url": reverse("party:group_edit", args=[pk])})
        if group.active:
            actions.append(
                {
                    "label": _("Archive"),
                    "url": reverse("party:group_archive", args=[pk]),
                    "post": True,
                }
            )
    customers = reverse("party:customer_list") + f"?group={group.pk}"
    return record_response(
        request,
        obj=group,
        title=group.name,
        fields=[
            (_("Code"), group.code),
            (_("Name"), group.name),
            (_("Discount without approval (%)"), group.max_discount_percent),
            (_("Active"), group.active),
            (
                _("Customers"),
                Party.objects.filter(customer_group=group, merged_into__isnull=True).count(),
            ),
        ],
        actions=[*actions, {"label": _("Show customers"), "url": customers, "style": "link"}],
    )


@requires("party.credit")
def group_create(request: HttpRequest) -> HttpResponse:
    return edit_response(
        request,
        form=CustomerGroupForm(request.POST or None, initial={"max_discount_percent": 10}),
        save=lambda data: services.customer_group_create(
            company=request.company, actor=request.user, **data
        ),
        success=_("Customer group saved."),
        done_url=lambda group: reverse("party:group_detail", args=[group.pk]),
        title=_("New customer group"),
        cancel_url=reverse("party:group_list"),
    )


@requires("party.credit")
def group_edit(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_object_or_404(CustomerGroup.objects, pk=pk)
    initial = {
        "code": group.code,
        "name": group.name,
        "max_discount_percent": group.max_discount_percent,
        "active": group.active,
    }
    return edit_response(
        request,
        form=CustomerGroupForm(request.POST or None, initial=initial),
        save=lambda data: services.customer_group_update(group=group, actor=request.user, **data),
        success=_("Customer group saved."),
        done_url=reverse("party:group_detail", args=[pk]),
        title=_("Edit customer group %(name)s") % {"name": group.name},
        cancel_url=reverse("party:group_detail", args=[pk]),
    )


@require_POST
@requires("party.credit")
def group_archive(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_object_or_404(CustomerGroup.objects, pk=pk)
    services.customer_group_archive(group=group, actor=request.user)
    messages.success(request, _("Customer group archived."))
    return redirect("party:group_detail", pk=pk)


# --- payment terms ----------------------------------------------------------------------------


def _lines_text(term: PaymentTerm) -> str:
    return lines_text(term.lines.all())


TERM_LIST = ListScreen(
    key="payment-terms",
    title=gettext_lazy("Payment terms"),
    columns=[
        Column("name", gettext_lazy("Name"), order_by="name", link=True),
        Column("lines", gettext_lazy("Installments"), accessor=_lines_text),
        Column("active", gettext_lazy("Active"), order_by="active"),
    ],
    search_fields=["name"],
    filters=[Filter("active", gettext_lazy("Active"), "active", choices=_yes_no)],
    default_sort="name",
    detail_url=lambda t: reverse("party:term_detail", args=[t.pk]),
)


@requires("party.view")
def term_list(request: HttpRequest) -> HttpResponse:
    actions = (
        [(_("New payment term"), reverse("party:term_create"))]
        if has_perm(request, "party.credit")
        else []
    )
    return list_response(
        request,
        TERM_LIST,
        selectors.payment_terms(include_inactive=True),
        extra={"actions": actions},
    )


@requires("party.view")
def term_detail(request: HttpRequest, pk: int) -> HttpResponse:
    term = get_object_or_404(PaymentTerm.objects.prefetch_related("lines"), pk=pk)
    actions = []
    if has_perm(request, "party.credit"):
        actions.append({"label": _("Edit"), "url": reverse("party:term_edit", args=[pk])})
        if term.active:
            actions.append(
                {
                    "label": _("Archive"),
                    "url": reverse("party:term_archive", args=[pk]),
                    "post": True,
                }
            )
    currency = request.company.base_currency_id
    try:
        amount = Decimal(request.GET.get("amount", "10000"))
        if not amount.is_finite() or not 0 < amount < Decimal(10) ** 12:
            raise ValueError
    except (ArithmeticError, ValueError):
        amount = Decimal(10000)
    try:
        invoice_date = dt.date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        invoice_date = timezone.localdate()
    return record_response(
        request,
        obj=term,
        title=term.name,
        fields=[(_("Name"), term.name), (_("Active"), term.active)],
        actions=actions,
        template="party/term_detail.html",
        extra={
            "term": term,
            "lines": list(term.lines.all()),
            "amount": amount,
            "invoice_date": invoice_date,
            "currency": currency,
            "schedule": payment_schedule(
                term=term, invoice_date=invoice_date, total=Money(amount, currency)
            ),
        },
    )


def _term_page(
    request: HttpRequest, *, term: PaymentTerm | None, title: str, cancel_url: str
) -> HttpResponse:
    if term is not None:
        initial = {"name": term.name, "active": term.active}
        lines = [
            {
                "percent": line.percent,
                "days": line.days,
                "discount_percent": line.discount_percent or None,
                "discount_days": line.discount_days or None,
            }
            for line in term.lines.all()
        ]
    else:
        initial, lines = {"active": True}, [{"percent": Decimal(100), "days": 30}]
    form = PaymentTermForm(request.POST or None, initial=initial)
    formset = PaymentTermLineFormSet(
        request.POST or None,
        initial=lines + [{}] * (4 - len(lines) if len(lines) < 4 else 1),
        prefix="lines",
    )
    line_errors: list[str] = []
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        data = form.cleaned_data
        try:
            if term is None:
                saved = services.payment_term_create(
                    company=request.company,
                    actor=request.user,
                    name=data["name"],
                    lines=term_lines_from(formset),
                )
                if not data["active"]:
                    services.payment_term_archive(term=saved, actor=request.user)
            else:
                saved = services.payment_term_update(
                    term=term,
                    actor=request.user,
                    name=data["name"],
                    active=data["active"],
                    lines=term_lines_from(formset),
                )
        except ValidationError as exc:
            line_errors = exc.message_dict.pop("lines", [])
            if exc.message_dict:
                apply_errors(form, ValidationError(exc.message_dict))
        else:
            messages.success(request, _("Payment term saved."))
            return redirect("party:term_detail", pk=saved.pk)
    has_errors = bool(form.errors or line_errors or any(formset.errors))
    return render(
        request,
        "party/term_form.html",
        {
            "form": form,
            "formset": formset,
            "line_errors": line_errors,
            "title": title,
            "cancel_url": cancel_url,
        },
        status=400 if has_errors else 200,
    )


@requires("party.credit")
def term_create(request: HttpRequest) -> HttpResponse:
    return _term_page(
        request, term=None, title=_("New payment term"), cancel_url=reverse("party:term_list")
    )


@requires("party.credit")
def term_edit(request: HttpRequest, pk: int) -> HttpResponse:
    term = get_object_or_404(PaymentTerm.objects.prefetch_related("lines"), pk=pk)
    return _term_page(
        request,
        term=term,
        title=_("Edit payment term %(name)s") % {"name": term.name},
        cancel_url=reverse("party:term_detail", args=[pk]),
    )


@require_POST
@requires("party.credit")
def term_archive(request: HttpRequest, pk: int) -> HttpResponse:
    term = get_object_or_404(PaymentTerm.objects, pk=pk)
    services.payment_term_archive(term=term, actor=request.user)
    messages.success(request, _("Payment term archived."))
    return redirect("party:term_detail", pk=pk)


urlpatterns = [
    path("customers/", customer_list, name="customer_list"),
    path("suppliers/", supplier_list, name="supplier_list"),
    path("new/", party_create, name="party_create"),
    path("duplicates/", duplicate_check, name="duplicate_check"),
    path("regions/", region_options, name="region_options"),
    path("<int:pk>/", party_detail, name="party_detail"),
    path("<int:pk>/edit/", party_edit, name="party_edit"),
    path("<int:pk>/credit/", party_credit, name="party_credit"),
    path("<int:pk>/merge/", party_merge, name="party_merge"),
    path("<int:pk>/archive/", party_archive, name="party_archive"),
    path("<int:pk>/restore/", party_restore, name="party_restore"),
    path("<int:pk>/timeline/", party_timeline, name="party_timeline"),
    path("<int:pk>/timeline/note/", timeline_note, name="timeline_note"),
    path("<int:pk>/contacts/new/", contact_create, name="contact_create"),
    path("contacts/<int:pk>/edit/", contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/archive/", contact_archive, name="contact_archive"),
    path("<int:pk>/addresses/new/", address_create, name="address_create"),
    path("addresses/<int:pk>/edit/", address_edit, name="address_edit"),
    path("addresses/<int:pk>/archive/", address_archive, name="address_archive"),
    path("<int:pk>/bank-accounts/new/", bank_account_create, name="bank_account_create"),
    path("bank-accounts/<int:pk>/edit/", bank_account_edit, name="bank_account_edit"),
    path("bank-accounts/<int:pk>/archive/", bank_account_archive, name="bank_account_archive"),
    path("groups/", group_list, name="group_list"),
    path("groups/new/", group_create, name="group_create"),
    path("groups/<int:pk>/", group_detail, name="group_detail"),
    path("groups/<int:pk>/edit/", group_edit, name="group_edit"),
    path("groups/<int:pk>/archive/", group_archive, name="group_archive"),
    path("payment-terms/", term_list, name="term_list"),
    path("payment-terms/new/", term_create, name="term_create"),
    path("payment-terms/<int:pk>/", term_detail, name="term_detail"),
    path("payment-terms/<int:pk>/edit/", term_edit, name="term_edit"),
    path("payment-terms/<int:pk>/archive/", term_archive, name="term_archive"),
]
