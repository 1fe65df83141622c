"""REST endpoints of parties (mounted at `/api/v1` by `xietong.api`), following the conventions
of `xietong.core.api`: a permission under every route, scoped querysets (another company's
record is not found), `@paginate`d lists, `@idempotent` creating POSTs answering 201, writes
through the services (their ValidationErrors become 422 problems with field errors), decimals
as strings. Archiving is a POST to `…/archive`; nothing is deleted.
"""

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import AwareDatetime, ConfigDict

from xietong.core.api import DecimalString
from xietong.core.idempotency import idempotent
from xietong.core.money import Money
from xietong.core.permissions import requires
from xietong.party import selectors, services, timeline
from xietong.party.models import (
    Address,
    BankAccount,
    Contact,
    Country,
    CustomerGroup,
    Party,
    PaymentTerm,
    Region,
    TimelineEntry,
)

router = Router(tags=["parties"])


# --- schemas ------------------------------------------------------------------------------------


class PartyOut(Schema):
    id: int
    code: str
    name: str
    legal_name: str
    kind: str
    is_customer: bool
    is_supplier: bool
    is_carrier: bool
    tax_id: str
    tax_scheme: str
    email: str
    phone: str
    website: str
    language: str
    country: str | None = Field(None, alias="country_id")
    currency: str = Field(..., alias="currency_id")
    payment_term: int | None = Field(None, alias="payment_term_id")
    price_list: int | None = Field(None, alias="price_list_id")
    credit_limit: DecimalString | None
    salesperson: int | None = Field(None, alias="salesperson_id")
    customer_group: int | None = Field(None, alias="customer_group_id")
    tags: list[str]
    supplier_lead_days: int | None
    invoice_policy: str = Field(
        ..., description="order, delivery, or empty: the product's or the company's"
    )
    notes: str
    active: bool
    merged_into: int | None = Field(None, alias="merged_into_id")
    created_at: dt.datetime

    @staticmethod
    def resolve_tags(obj: Party) -> list[str]:
        return [tag.name for tag in obj.tags.all()]


class PartyIn(Schema):
    """Credit terms (`credit_limit`, `payment_term`) are not part of it: unknown fields are
    refused, and credit terms have their own operation and permission."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["organisation", "person"] = "organisation"
    code: str = ""
    legal_name: str = ""
    is_customer: bool = False
    is_supplier: bool = False
    is_carrier: bool = False
    tax_id: str = ""
    tax_scheme: str = Field("", description="e.g. cn.uscc, eu.vat, us.ein; empty: the country's")
    email: str = ""
    phone: str = ""
    website: str = ""
    language: str = "zh-hans"
    country: str | None = Field(None, description="ISO 3166-1 alpha-2 code")
    currency: str | None = Field(None, description="ISO 4217 code; default: the company's")
    price_list: int | None = None
    salesperson: int | None = Field(None, description="user id")
    customer_group: int | None = None
    tags: list[str] = Field(default_factory=list, description="tag names, created when missing")
    supplier_lead_days: int | None = None
    invoice_policy: Literal["", "order", "delivery"] = Field(
        "",
        description="invoice the customer's order lines on ordered or delivered quantities "
        "when the product has no policy; empty: the company's sales settings",
    )
    notes: str = ""
    allow_duplicate: bool = Field(
        False,
        description="create even when parties with the same name, tax ID, phone or e-mail "
        "exist (otherwise 422 with an error on this field)",
    )


class PartyPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    kind: Literal["organisation", "person"] | None = None
    code: str | None = None
    legal_name: str | None = None
    is_customer: bool | None = None
    is_supplier: bool | None = None
    is_carrier: bool | None = None
    tax_id: str | None = None
    tax_scheme: str | None = None
    email: str | None = None
    phone: str | None = None
    website: str | None = None
    language: str | None = None
    country: str | None = None
    currency: str | None = None
    price_list: int | None = None
    salesperson: int | None = None
    customer_group: int | None = None
    tags: list[str] | None = None
    supplier_lead_days: int | None = None
    invoice_policy: Literal["", "order", "delivery"] | None = None
    notes: str | None = None


class PartyFilters(Schema):
    q: str | None = Field(None, description="part of the name, legal name, code or tax ID")
    role: Literal["customer", "supplier", "carrier"] | None = None
    active: bool | None = None
    group: int | None = Field(None, description="customer group id")
    tag: str | None = Field(None, description="tag name")
    country: str | None = None
    salesperson: int | None = None
    include_merged: bool = False


class CreditTermsIn(Schema):
    credit_limit: DecimalString | None = Field(None, description="null: no limit")
    payment_term: int | None = None


class MergeIn(Schema):
    duplicate: int = Field(..., description="id of the party merged into this one")


class PartyBrief(Schema):
    id: int
    code: str
    name: str
    active: bool


class DuplicateOut(Schema):
    party: PartyBrief
    reasons: list[Literal["name", "tax_id", "phone", "email"]]


class DuplicateQuery(Schema):
    name: str = ""
    tax_id: str = ""
    phone: str = ""
    email: str = ""
    exclude: int | None = Field(None, description="id of a party to leave out (itself)")


class TimelineOut(Schema):
    id: int
    kind: str
    kind_label: str
    occurred_at: dt.datetime
    summary: str
    url: str
    actor: int | None = Field(None, alias="actor_id")
    source_type: str | None
    source_id: str

    @staticmethod
    def resolve_kind_label(obj: TimelineEntry) -> str:
        return str(timeline.kind_label(obj.kind))

    @staticmethod
    def resolve_source_type(obj: TimelineEntry) -> str | None:
        if obj.source_type_id is None:
            return None
        return f"{obj.source_type.app_label}.{obj.source_type.model}"  # type: ignore[union-attr]


class TimelineFilters(Schema):
    kind: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


class TimelineIn(Schema):
    kind: str = "note"
    summary: str
    occurred_at: AwareDatetime | None = None
    url: str = ""


class ContactOut(Schema):
    id: int
    party: int = Field(..., alias="party_id")
    name: str
    role: str
    email: str
    phone: str
    mobile: str
    wechat: str
    preferred_channel: str
    language: str
    is_primary: bool
    opt_out: bool
    active: bool


class ContactIn(Schema):
    name: str
    role: str = ""
    email: str = ""
    phone: str = ""
    mobile: str = ""
    wechat: str = ""
    preferred_channel: Literal["email", "phone", "wechat", "sms", "post"] = "email"
    language: str = "zh-hans"
    is_primary: bool = False
    opt_out: bool = False


class ContactPatch(Schema):
    name: str | None = None
    role: str | None = None
    email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    wechat: str | None = None
    preferred_channel: Literal["email", "phone", "wechat", "sms", "post"] | None = None
    language: str | None = None
    is_primary: bool | None = None
    opt_out: bool | None = None


class AddressOut(Schema):
    id: int
    party: int = Field(..., alias="party_id")
    kind: str
    street: str
    street2: str
    city: str
    region: int | None = Field(None, alias="region_id")
    region_name: str
    postal_code: str
    country: str = Field(..., alias="country_id")
    is_default: bool
    active: bool

    @staticmethod
    def resolve_region_name(obj: Address) -> str:
        return obj.region.name if obj.region_id else ""  # type: ignore[union-attr]


class AddressIn(Schema):
    kind: Literal["billing", "shipping", "other"] = "billing"
    street: str
    street2: str = ""
    city: str
    region: int | None = None
    postal_code: str = ""
    country: str
    is_default: bool = False


class AddressPatch(Schema):
    kind: Literal["billing", "shipping", "other"] | None = None
    street: str | None = None
    street2: str | None = None
    city: str | None = None
    region: int | None = None
    postal_code: str | None = None
    country: str | None = None
    is_default: bool | None = None


class BankAccountOut(Schema):
    id: int
    party: int = Field(..., alias="party_id")
    bank_name: str
    account_number: str
    holder: str
    swift: str
    currency: str | None = Field(None, alias="currency_id")
    active: bool


class BankAccountIn(Schema):
    bank_name: str
    account_number: str
    holder: str = ""
    swift: str = ""
    currency: str | None = None


class BankAccountPatch(Schema):
    bank_name: str | None = None
    account_number: str | None = None
    holder: str | None = None
    swift: str | None = None
    currency: str | None = None


class CustomerGroupOut(Schema):
    id: int
    code: str
    name: str
    max_discount_percent: DecimalString
    active: bool


class CustomerGroupIn(Schema):
    code: str
    name: str
    max_discount_percent: DecimalString = Field(..., description="discount without approval")


class CustomerGroupPatch(Schema):
    code: str | None = None
    name: str | None = None
    max_discount_percent: DecimalString | None = None
    active: bool | None = None


class TermLineSchema(Schema):
    percent: DecimalString
    days: int = 0
    discount_percent: DecimalString = Decimal(0)
    discount_days: int = 0


class PaymentTermOut(Schema):
    id: int
    name: str
    active: bool
    lines: list[TermLineSchema]

    @staticmethod
    def resolve_lines(obj: PaymentTerm) -> list[Any]:
        return list(obj.lines.all())


class PaymentTermIn(Schema):
    name: str
    lines: list[TermLineSchema]


class PaymentTermPatch(Schema):
    name: str | None = None
    active: bool | None = None
    lines: list[TermLineSchema] | None = None


class ScheduleQuery(Schema):
    total: DecimalString = Decimal(10000)
    invoice_date: dt.date | None = Field(None, description="default: today")
    currency: str | None = Field(None, description="default: the company's")


class InstallmentOut(Schema):
    sequence: int
    percent: DecimalString
    due_date: dt.date
    amount: DecimalString
    discount_date: dt.date | None
    discount: DecimalString
    amount_if_early: DecimalString


class CountryOut(Schema):
    code: str
    name: str
    name_zh: str


class RegionOut(Schema):
    id: int
    country: str = Field(..., alias="country_id")
    code: str
    name: str
    name_zh: str
    parent: int | None = Field(None, alias="parent_id")


class RegionFilters(Schema):
    country: str | None = None


# --- helpers ------------------------------------------------------------------------------------


def _party(party_id: int) -> Party:
    return get_object_or_404(Party.objects, pk=party_id)


def _party_read(party_id: int) -> Party:
    return get_object_or_404(selectors.parties(include_merged=True), pk=party_id)


def _lines(lines: list[TermLineSchema]) -> list[dict[str, Any]]:
    return [line.model_dump() for line in lines]


# --- parties ------------------------------------------------------------------------------------


@router.get("/parties", response=list[PartyOut])
@requires("party.view")
@paginate
def party_list(request: HttpRequest, filters: Query[PartyFilters]) -> Any:
    """Customers, suppliers and carriers, by name; filter by role, activity, customer group,
    tag, country, salesperson or a search text. Merged duplicates only with
    `include_merged`."""
    parties = selectors.parties(role=filters.role, include_merged=filters.include_merged)
    if filters.q:
        q = filters.q.strip()
        parties = parties.filter(
            Q(name__icontains=q)
            | Q(legal_name__icontains=q)
            | Q(code__icontains=q)
            | Q(tax_id__icontains=q)
        )
    if filters.active is not None:
        parties = parties.filter(active=filters.active)
    if filters.group is not None:
        parties = parties.filter(customer_group_id=filters.group)
    if filters.tag:
        parties = parties.filter(tags__name=filters.tag)
    if filters.country:
        parties = parties.filter(country_id=filters.country.upper())
    if filters.salesperson is not None:
        parties = parties.filter(salesperson_id=filters.salesperson)
    return parties.order_by("name", "pk").distinct()


@router.get("/parties/duplicates", response=list[DuplicateOut])
@requires("party.view")
def party_duplicate_check(request: HttpRequest, query: Query[DuplicateQuery]) -> Any:
    """Parties that look like the one described (same normalised name, tax ID, phone or
    e-mail), most reasons first; at most 20."""
    candidates = selectors.party_duplicates(
        request.company,  # type: ignore[attr-defined]
        name=query.name,
        tax_id=query.tax_id,
        phone=query.phone,
        email=query.email,
        exclude=query.exclude,
    )
    return [{"party": c.party, "reasons": c.reasons} for c in candidates]


@router.get("/parties/{party_id}", response=PartyOut)
@requires("party.view")
def party_get(request: HttpRequest, party_id: int) -> Party:
    """One party."""
    return _party_read(party_id)


@router.post("/parties", response={201: PartyOut})
@requires("party.change")
@idempotent
def party_create(request: HttpRequest, payload: PartyIn) -> Status:
    """Create a party. The tax ID is checked under its scheme and stored compact; an empty
    code is numbered automatically. Answers 422 with an error on `allow_duplicate` when the
    party looks like an existing one; credit terms are set with `PUT …/credit-terms`."""
    fields = payload.model_dump(exclude_unset=True)
    name = fields.pop("name")
    allow = fields.pop("allow_duplicate", False)
    party = services.party_create(
        company=request.company,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        name=name,
        allow_duplicate=allow,
        **fields,
    )
    return Status(201, _party_read(party.pk))


@router.patch("/parties/{party_id}", response=PartyOut)
@requires("party.change")
def party_update(request: HttpRequest, party_id: int, payload: PartyPatch) -> Party:
    """Change some of a party's fields (not its credit terms)."""
    party = _party(party_id)
    services.party_update(
        party=party,
        actor=request.user,  # type: ignore[arg-type]
        **payload.model_dump(exclude_unset=True),
    )
    return _party_read(party_id)


@router.put("/parties/{party_id}/credit-terms", response=PartyOut)
@requires("party.credit")
def party_credit_terms(request: HttpRequest, party_id: int, payload: CreditTermsIn) -> Party:
    """Set the credit limit (null: none) and the payment term (null: none)."""
    services.party_set_credit_terms(
        party=_party(party_id),
        actor=request.user,  # type: ignore[arg-type]
        credit_limit=payload.credit_limit,
        payment_term=payload.payment_term,
    )
    return _party_read(party_id)


@router.post("/parties/{party_id}/archive", response=PartyOut)
@requires("party.change")
def party_archive(request: HttpRequest, party_id: int) -> Party:
    """Archive a party (it stays on documents but is not offered for new ones)."""
    services.party_archive(party=_party(party_id), actor=request.user)  # type: ignore[arg-type]
    return _party_read(party_id)


@router.post("/parties/{party_id}/restore", response=PartyOut)
@requires("party.change")
def party_restore(request: HttpRequest, party_id: int) -> Party:
    """Make an archived party active again."""
    services.party_restore(party=_party(party_id), actor=request.user)  # type: ignore[arg-type]
    return _party_read(party_id)


@router.post("/parties/{party_id}/merge", response=PartyOut)
@requires("party.merge")
def party_merge(request: HttpRequest, party_id: int, payload: MergeIn) -> Party:
    """Merge the party `duplicate` into this one: every reference to it moves here, empty
    fields are filled from it, and it becomes inactive (`merged_into` this one)."""
    survivor = _party(party_id)
    duplicate = Party.objects.filter(pk=payload.duplicate).first()
    if duplicate is None:
        raise ValidationError({"duplicate": [_("No such party.")]})
    services.party_merge(
        survivor=survivor,
        duplicate=duplicate,
        actor=request.user,  # type: ignore[arg-type]
    )
    return _party_read(party_id)


# --- timeline -----------------------------------------------------------------------------------


@router.get("/parties/{party_id}/timeline", response=list[TimelineOut])
@requires("party.view")
@paginate
def timeline_list(request: HttpRequest, party_id: int, filters: Query[TimelineFilters]) -> Any:
    """The party's timeline, newest first; filter by `kind` and a `date_from`–`date_to` range
    (inclusive)."""
    return selectors.timeline_for(
        party=_party(party_id),
        kinds=[filters.kind] if filters.kind else None,
        date_from=filters.date_from,
        date_to=filters.date_to,
    ).select_related("source_type")


@router.post("/parties/{party_id}/timeline", response={201: TimelineOut})
@requires("party.change")
@idempotent
def timeline_create(request: HttpRequest, party_id: int, payload: TimelineIn) -> Status:
    """Add an entry to the party's timeline (e.g. an activity logged by another system)."""
    entry = services.timeline_add(
        party=_party(party_id),
        kind=payload.kind,
        summary=payload.summary,
        occurred_at=payload.occurred_at,
        url=payload.url,
        actor=request.user,  # type: ignore[arg-type]
    )
    return Status(201, entry)


# --- contacts -----------------------------------------------------------------------------------


@router.get("/parties/{party_id}/contacts", response=list[ContactOut], tags=["contacts"])
@requires("party.view")
@paginate
def contact_list(request: HttpRequest, party_id: int) -> Any:
    """The party's contacts, primary first (archived ones too, `active` false)."""
    return Contact.objects.filter(party=_party(party_id)).order_by("-active", "-is_primary", "pk")


@router.post("/parties/{party_id}/contacts", response={201: ContactOut}, tags=["contacts"])
@requires("party.change")
@idempotent
def contact_create(request: HttpRequest, party_id: int, payload: ContactIn) -> Status:
    """Add a contact person; the first one becomes the primary contact."""
    contact = services.contact_create(
        party=_party(party_id),
        actor=request.user,  # type: ignore[arg-type]
        **payload.model_dump(exclude_unset=True),
    )
    return Status(201, contact)


@router.get("/contacts/{contact_id}", response=ContactOut, tags=["contacts"])
@requires("party.view")
def contact_get(request: HttpRequest, contact_id: int) -> Contact:
    return get_object_or_404(Contact.objects, pk=contact_id)


@router.patch("/contacts/{contact_id}", response=ContactOut, tags=["contacts"])
@requires("party.change")
def contact_update(request: HttpRequest, contact_id: int, payload: ContactPatch) -> Contact:
    contact = get_object_or_404(Contact.objects.select_related("party"), pk=contact_id)
    return services.contact_update(
        contact=contact,
        actor=request.user,  # type: ignore[arg-type]
        **payload.model_dump(exclude_unset=True),
    )


@router.post("/contacts/{contact_id}/archive", response=ContactOut, tags=["contacts"])
@requires("party.change")
def contact_archive(request: HttpRequest, contact_id: int) -> Contact:
    contact = get_object_or_404(Contact.objects, pk=contact_id)
    return services.contact_archive(contact=contact, actor=request.user)  # type: ignore[arg-type]


# --- addresses ----------------------------------------------------------------------------------


@router.get("/parties/{party_id}/addresses", response=list[AddressOut], tags=["addresses"])
@requires("party.view")
@paginate
def address_list(request: HttpRequest, party_id: int) -> Any:
    """The party's addresses, by kind, defaults first."""
    return (
        Address.objects.filter(party=_party(party_id))
        .select_related("region")
        .order_by("-active", "kind", "-is_default", "pk")
    )


@router.post("/parties/{party_id}/addresses", response={201: AddressOut}, tags=["addresses"])
@requires("party.change")
@idempotent
def address_create(request: HttpRequest, party_id: int, payload: AddressIn) -> Status:
    """Add an address; `region` must lie in `country` (see `/regions`). The first address of a
    kind becomes its default."""
    address = services.address_create(
        party=_party(party_id),
        actor=request.user,  # type: ignore[arg-type]
        **payload.model_dump(exclude_unset=True),
    )
    return Status(201, address)


@router.get("/addresses/{address_id}", response=AddressOut, tags=["addresses"])
@requires("party.view")
def address_get(request: HttpRequest, address_id: int) -> Address:
    return get_object_or_404(Address.objects.select_related("region"), pk=address_id)


@router.patch("/addresses/{address_id}", response=AddressOut, tags=["addresses"])
@requires("party.change")
def address_update(request: HttpRequest, address_id: int, payload: AddressPatch) -> Address:
    address = get_object_or_404(Address.objects.select_related("party"), pk=address_id)
    return services.address_update(
        address=address,
        actor=request.user,  # type: ignore[arg-type]
        **payload.model_dump(exclude_unset=True),
    )


@router.post("/addresses/{address_id}/archive", response=AddressOut, tags=["addresses"])
@requires("party.change")
def address_archive(request: HttpRequest, address_id: int) -> Address:
    address = get_object_or_404(Address.objects, pk=address_id)
    return services.address_archive(address=address, actor=request.user)  # type: ignore[arg-type]


# --- bank accounts ------------------------------------------------------------------------------


@router.get(
    "/parties/{party_id}/bank-accounts", response=list[BankAccountOut], tags=["bank accounts"]
)
@requires("party.view")
@paginate
def bank_account_list(request: HttpRequest, party_id: int) -> Any:
    return BankAccount.objects.filter(party=_party(party_id)).order_by("-active", "bank_name", "pk")


@router.post(
    "/parties/{party_id}/bank-accounts", response={201: BankAccountOut}, tags=["bank accounts"]
)
@requires("party.change")
@idempotent
def bank_account_create(request: HttpRequest, party_id: int, payload: BankAccountIn) -> Status:
    """Add a bank account; an IBAN is checked and stored compact."""
    account = services.bank_account_create(
        party=_party(party_id),
        actor=request.user,  # type: ignore[arg-type]
        **payload.model_dump(exclude_unset=True),
    )
    return Status(201, account)


@router.get("/bank-accounts/{account_id}", response=BankAccountOut, tags=["bank accounts"])
@requires("party.view")
def bank_account_get(request: HttpRequest, account_id: int) -> BankAccount:
    return get_object_or_404(BankAccount.objects, pk=account_id)


@router.patch("/bank-accounts/{account_id}", response=BankAccountOut, tags=["bank accounts"])
@requires("party.change")
def bank_account_update(
    request: HttpRequest, account_id: int, payload: BankAccountPatch
) -> BankAccount:
    account = get_object_or_404(BankAccount.objects, pk=account_id)
    return services.bank_account_update(
        account=account,
        actor=request.user,  # type: ignore[arg-type]
        **payload.model_dump(exclude_unset=True),
    )


@router.post("/bank-accounts/{account_id}/archive", response=BankAccountOut, tags=["bank accounts"])
@requires("party.change")
def bank_account_archive(request: HttpRequest, account_id: int) -> BankAccount:
    account = get_object_or_404(BankAccount.objects, pk=account_id)
    return services.bank_account_archive(account=account, actor=request.user)  # type: ignore[arg-type]


# --- customer groups ----------------------------------------------------------------------------


@router.get("/customer-groups", response=list[CustomerGroupOut], tags=["customer groups"])
@requires("party.view")
@paginate
def customer_group_list(request: HttpRequest, include_inactive: bool = False) -> Any:
    return selectors.customer_groups(include_inactive=include_inactive)


@router.post("/customer-groups", response={201: CustomerGroupOut}, tags=["customer groups"])
@requires("party.credit")
@idempotent
def customer_group_create(request: HttpRequest, payload: CustomerGroupIn) -> Status:
    group = services.customer_group_create(
        company=request.company,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        **payload.model_dump(),
    )
    return Status(201, CustomerGroup.objects.get(pk=group.pk))


@router.get("/customer-groups/{group_id}", response=CustomerGroupOut, tags=["customer groups"])
@requires("party.view")
def customer_group_get(request: HttpRequest, group_id: int) -> CustomerGroup:
    return get_object_or_404(CustomerGroup.objects, pk=group_id)


@router.patch("/customer-groups/{group_id}", response=CustomerGroupOut, tags=["customer groups"])
@requires("party.credit")
def customer_group_update(
    request: HttpRequest, group_id: int, payload: CustomerGroupPatch
) -> CustomerGroup:
    group = get_object_or_404(CustomerGroup.objects, pk=group_id)
    services.customer_group_update(
        group=group,
        actor=request.user,  # type: ignore[arg-type]
        **payload.model_dump(exclude_unset=True),
    )
    return CustomerGroup.objects.get(pk=group_id)


@router.post(
    "/customer-groups/{group_id}/archive", response=CustomerGroupOut, tags=["customer groups"]
)
@requires("party.credit")
def customer_group_archive(request: HttpRequest, group_id: int) -> CustomerGroup:
    group = get_object_or_404(CustomerGroup.objects, pk=group_id)
    return services.customer_group_archive(group=group, actor=request.user)  # type: ignore[arg-type]


# --- payment terms ------------------------------------------------------------------------------


@router.get("/payment-terms", response=list[PaymentTermOut], tags=["payment terms"])
@requires("party.view")
@paginate
def payment_term_list(request: HttpRequest, include_inactive: bool = False) -> Any:
    return selectors.payment_terms(include_inactive=include_inactive)


@router.post("/payment-terms", response={201: PaymentTermOut}, tags=["payment terms"])
@requires("party.credit")
@idempotent
def payment_term_create(request: HttpRequest, payload: PaymentTermIn) -> Status:
    """Create a term from its installment lines; the percents must add up to 100."""
    term = services.payment_term_create(
        company=request.company,  # type: ignore[attr-defined]
        actor=request.user,  # type: ignore[arg-type]
        name=payload.name,
        lines=_lines(payload.lines),
    )
    return Status(201, term)


@router.get("/payment-terms/{term_id}", response=PaymentTermOut, tags=["payment terms"])
@requires("party.view")
def payment_term_get(request: HttpRequest, term_id: int) -> PaymentTerm:
    return get_object_or_404(PaymentTerm.objects.prefetch_related("lines"), pk=term_id)


@router.patch("/payment-terms/{term_id}", response=PaymentTermOut, tags=["payment terms"])
@requires("party.credit")
def payment_term_update(
    request: HttpRequest, term_id: int, payload: PaymentTermPatch
) -> PaymentTerm:
    """Rename, (de)activate, or replace all lines."""
    term = get_object_or_404(PaymentTerm.objects, pk=term_id)
    return services.payment_term_update(
        term=term,
        actor=request.user,  # type: ignore[arg-type]
        name=payload.name,
        active=payload.active,
        lines=_lines(payload.lines) if payload.lines is not None else None,
    )


@router.post("/payment-terms/{term_id}/archive", response=PaymentTermOut, tags=["payment terms"])
@requires("party.credit")
def payment_term_archive(request: HttpRequest, term_id: int) -> PaymentTerm:
    term = get_object_or_404(PaymentTerm.objects, pk=term_id)
    return services.payment_term_archive(term=term, actor=request.user)  # type: ignore[arg-type]


@router.get(
    "/payment-terms/{term_id}/schedule", response=list[InstallmentOut], tags=["payment terms"]
)
@requires("party.view")
def payment_term_schedule(request: HttpRequest, term_id: int, query: Query[ScheduleQuery]) -> Any:
    """When which part of an invoice of `total` dated `invoice_date` falls due, and what
    paying early saves."""
    term = get_object_or_404(PaymentTerm.objects.prefetch_related("lines"), pk=term_id)
    currency = (query.currency or request.company.base_currency_id).upper()  # type: ignore[attr-defined]
    try:
        total = Money(query.total, currency)
    except ValueError as exc:
        raise ValidationError({"currency": [str(exc)]}) from exc
    return [
        {
            "sequence": item.sequence,
            "percent": item.percent,
            "due_date": item.due_date,
            "amount": item.amount.amount,
            "discount_date": item.discount_date,
            "discount": item.discount.amount,
            "amount_if_early": item.amount_if_early.amount,
        }
        for item in selectors.payment_schedule(
            term=term, invoice_date=query.invoice_date or timezone.localdate(), total=total
        )
    ]


# --- reference data -----------------------------------------------------------------------------


@router.get("/countries", response=list[CountryOut], tags=["reference data"])
@requires("party.view")
@paginate
def country_list(request: HttpRequest) -> Any:
    """ISO 3166-1 countries with their Chinese names."""
    return Country.objects.order_by("code")


@router.get("/regions", response=list[RegionOut], tags=["reference data"])
@requires("party.view")
@paginate
def region_list(request: HttpRequest, filters: Query[RegionFilters]) -> Any:
    """Provinces, states and other subdivisions (ISO 3166-2) of the countries that have them."""
    regions = Region.objects.order_by("country_id", "code")
    if filters.country:
        regions = regions.filter(country_id=filters.country.upper())
    return regions
