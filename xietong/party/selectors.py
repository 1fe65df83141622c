"""Reads of parties used by views, the API and other apps: lists, duplicates, the timeline,
references to a party, payment schedules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from xietong.core.models import Company, Membership, User
from xietong.party import timeline
from xietong.party.identifiers import compact_tax_id, normalize_name, normalize_phone
from xietong.party.models import (
    Address,
    BankAccount,
    Contact,
    Country,
    CustomerGroup,
    Party,
    PaymentTerm,
    Region,
    Tag,
    TimelineEntry,
)
from xietong.party.terms import Installment, payment_schedule  # noqa: F401  (public door)

ROLES = {
    "customer": "is_customer",
    "supplier": "is_supplier",
    "carrier": "is_carrier",
}


def parties(*, role: str | None = None, include_merged: bool = False) -> QuerySet[Party]:
    """The current company's parties (scoped), with what list pages show, optionally only those
    of one role (customer, supplier, carrier). Merged duplicates are left out unless asked."""
    queryset = Party.objects.select_related(
        "country", "customer_group", "salesperson", "payment_term"
    ).prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
    if role:
        queryset = queryset.filter(**{ROLES[role]: True})
    if not include_merged:
        queryset = queryset.filter(merged_into__isnull=True)
    return queryset


def party_detail(*, pk: int) -> Party:
    """One party of the current company with its related rows; raises Party.DoesNotExist."""
    return (
        Party.objects.select_related(
            "country",
            "currency",
            "customer_group",
            "salesperson",
            "payment_term",
            "price_list",
            "merged_into",
        )
        .prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name")),
            Prefetch(
                "contacts",
                queryset=Contact.objects.order_by("-active", "-is_primary", "name"),
            ),
            Prefetch(
                "addresses",
                queryset=Address.objects.select_related("country", "region").order_by(
                    "-active", "kind", "-is_default", "pk"
                ),
            ),
            Prefetch(
                "bank_accounts", queryset=BankAccount.objects.order_by("-active", "bank_name")
            ),
        )
        .get(pk=pk)
    )


def default_address(*, party: Party, kind: str = Address.Kind.BILLING) -> Address | None:
    """The party's default address of `kind` (else its first active one of that kind)."""
    return (
        Address.unscoped.filter(party=party, kind=kind, active=True)
        .select_related("country", "region")
        .order_by("-is_default", "pk")
        .first()
    )


def primary_contact(*, party: Party) -> Contact | None:
    return Contact.unscoped.filter(party=party, active=True).order_by("-is_primary", "pk").first()


# --- duplicates -------------------------------------------------------------------------------

REASONS: dict[str, str | Promise] = {
    "name": _("same name"),
    "tax_id": _("same tax ID"),
    "phone": _("same phone"),
    "email": _("same e-mail"),
}


@dataclass
class DuplicateCandidate:
    """A party that may be the same as the one being entered, and why."""

    party: Party
    reasons: list[str] = field(default_factory=list)  # keys of REASONS

    @property
    def reason_labels(self) -> list[str]:
        return [str(REASONS[r]) for r in self.reasons]

    def describe(self) -> str:
        return f"{self.party.name} ({self.party.code}): {', '.join(self.reason_labels)}"


def party_duplicates(
    company: Company | int,
    *,
    name: str = "",
    tax_id: str = "",
    phone: str = "",
    email: str = "",
    exclude: Party | int | None = None,
    limit: int = 20,
) -> list[DuplicateCandidate]:
    """Parties of `company` that look like the one described: the same normalised name, tax ID,
    phone number (digits) or e-mail address (of the party or one of its contacts). Merged
    duplicates are never candidates; archived parties are. Most reasons first."""
    base = Party.unscoped.filter(company=company, merged_into__isnull=True)
    if exclude is not None:
        base = base.exclude(pk=exclude.pk if isinstance(exclude, Party) else exclude)
    found: dict[int, DuplicateCandidate] = {}

    def collect(reason: str, queryset: QuerySet[Party]) -> None:
        for party in queryset.order_by("name", "pk")[:limit]:
            found.setdefault(party.pk, DuplicateCandidate(party)).reasons.append(reason)

    key = normalize_name(name)
    if key:
        collect("name", base.filter(normalized_name=key))
    tax = compact_tax_id(tax_id)
    if len(tax) >= 5:
        collect("tax_id", base.filter(tax_id=tax))
    digits = normalize_phone(phone)
    if len(digits) >= 6:
        collect("phone", base.filter(normalized_phone=digits))
    email = (email or "").strip()
    if "@" in email:
        collect(
            "email",
            base.filter(
                Q(email__iexact=email) | Q(contacts__email__iexact=email, contacts__active=True)
            ).distinct(),
        )
    return sorted(found.values(), key=lambda c: (-len(c.reasons), c.party.name, c.party.pk))[:limit]


# --- references to a party (merge) ------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """One way rows of some model point to a party."""

    model: type[models.Model]
    field: str  # the field on `model` (FK, one-to-one, through-table column, generic object id)
    kind: str  # "fk", "m2m" or "generic"
    other: str = ""  # "m2m": the through table's column of the other side
    content_type_field: str = ""  # "generic": the content-type column

    @property
    def label(self) -> str | Promise:
        return self.model._meta.verbose_name_plural


def party_references() -> Iterator[Reference]:
    """Every relation that points to a Party, found generically: reverse many-to-many through
    tables, reverse foreign keys and one-to-ones (hidden ones too, so later apps'
    `related_name="+"` links count), and generic foreign keys (such as the timeline's source)
    that can point to any model. Party's own many-to-many fields (tags) are its data, not
    references to it; audit entries are history and stay with the record they describe."""
    from django.apps import apps

    from xietong.core.models import AuditEntry

    own_throughs = {f.remote_field.through for f in Party._meta.many_to_many}  # type: ignore[attr-defined]
    relations = [
        r for r in Party._meta.get_fields(include_hidden=True) if r.auto_created and not r.concrete
    ]
    seen: set[tuple[type[models.Model], str]] = set()
    for relation in relations:
        if relation.many_to_many:
            m2m = relation.field  # type: ignore[union-attr]
            through = m2m.remote_field.through
            column = m2m.m2m_reverse_field_name()
            seen.add((through, column))
            yield Reference(through, column, "m2m", other=m2m.m2m_field_name())
    for relation in relations:
        if relation.one_to_many or relation.one_to_one:
            model = relation.related_model
            column = relation.field.name  # type: ignore[union-attr]
            if model in own_throughs or (model, column) in seen:
                continue
            seen.add((model, column))
            yield Reference(model, column, "fk")  # type: ignore[arg-type]
    for model in apps.get_models():
        if issubclass(model, AuditEntry):
            continue
        for private in model._meta.private_fields:
            if isinstance(private, GenericForeignKey):
                yield Reference(
                    model, private.fk_field, "generic", content_type_field=private.ct_field
                )


def references_count(*, party: Party) -> list[tuple[str | Promise, int]]:
    """How many rows of each kind point to `party` (for the merge preview), non-zero only."""
    counts: dict[str, tuple[str | Promise, int]] = {}
    party_type = ContentType.objects.get_for_model(Party)
    for ref in party_references():
        manager = ref.model._base_manager
        if ref.kind == "generic":
            number = manager.filter(
                **{ref.content_type_field: party_type, ref.field: str(party.pk)}
            ).count()
        else:
            number = manager.filter(**{ref.field: party}).count()
        if number:
            key = f"{ref.model._meta.label}.{ref.field}"
            counts[key] = (ref.label, number)
    return list(counts.values())


# --- timeline ---------------------------------------------------------------------------------


def timeline_for(
    *,
    party: Party,
    kinds: Iterable[str] | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[TimelineEntry]:
    """The party's timeline, newest first, optionally only some kinds and a date range
    (inclusive, in the current time zone)."""
    entries = TimelineEntry.unscoped.filter(party=party).select_related("actor")
    kinds = [k for k in (kinds or []) if k]
    if kinds:
        entries = entries.filter(kind__in=kinds)
    if date_from:
        entries = entries.filter(occurred_at__date__gte=date_from)
    if date_to:
        entries = entries.filter(occurred_at__date__lte=date_to)
    return entries.order_by("-occurred_at", "-pk")


def timeline_kind_choices(*, party: Party | None = None) -> list[tuple[str, str]]:
    """Registered kinds plus any other kind the party's timeline holds, by label."""
    codes = set(timeline.KINDS)
    if party is not None:
        codes |= set(
            TimelineEntry.unscoped.filter(party=party)
            .order_by()  # else the default ordering joins the DISTINCT: one row per entry
            .values_list("kind", flat=True)
            .distinct()
        )
    return sorted(((c, str(timeline.kind_label(c))) for c in codes), key=lambda p: p[1])


# --- choices and reference data ---------------------------------------------------------------


def salespeople(*, company: Company | int) -> QuerySet[User]:
    """Users with an active membership in the company (who may own customers)."""
    user_ids = Membership.unscoped.filter(company=company, is_active=True).values("user_id")
    return User.objects.filter(pk__in=user_ids, is_active=True).order_by(
        "last_name", "first_name", "username"
    )


def country_label(country: Country | None) -> str:
    """The country's name in the user's language (Chinese for the zh languages)."""
    if country is None:
        return ""
    if (get_language() or "").startswith("zh") and country.name_zh:
        return country.name_zh
    return country.name


def region_label(region: Region | None) -> str:
    if region is None:
        return ""
    if (get_language() or "").startswith("zh") and region.name_zh:
        return region.name_zh
    return region.name


def countries() -> QuerySet[Country]:
    return Country.objects.order_by("name")


def regions(*, country: str | None = None) -> QuerySet[Region]:
    queryset = Region.objects.select_related("parent").order_by("country_id", "name")
    return queryset.filter(country_id=country) if country else queryset


def customer_groups(*, include_inactive: bool = False) -> QuerySet[CustomerGroup]:
    queryset = CustomerGroup.objects.annotate(
        party_count=Count("parties", filter=Q(parties__merged_into__isnull=True))
    ).order_by("code")
    return queryset if include_inactive else queryset.filter(active=True)


def payment_terms(*, include_inactive: bool = False) -> QuerySet[PaymentTerm]:
    queryset = PaymentTerm.objects.prefetch_related("lines").order_by("name")
    return queryset if include_inactive else queryset.filter(active=True)


def address_text(address: Address) -> str:
    """One line: street, city, region, postal code, country."""
    parts: list[Any] = [
        address.street,
        address.street2,
        address.city,
        region_label(address.region),
        address.postal_code,
        country_label(address.country),
    ]
    return ", ".join(str(p) for p in parts if p)


def timeline_of(document: models.Model) -> list[TimelineEntry]:
    """The timeline entries written for `document` (an order, an invoice …), newest first."""
    kind = ContentType.objects.get_for_model(type(document))
    return list(
        TimelineEntry.objects.filter(source_type=kind, source_id=str(document.pk))
        .select_related("actor")
        .order_by("-occurred_at", "-pk")
    )
