"""Writes of parties: customers, suppliers and carriers with their contacts, addresses, bank
accounts, customer groups, tags and payment terms; duplicate merging; the customer timeline.

Every write service takes keyword arguments, names its `actor` in the audit trail, runs in one
transaction and raises django's `ValidationError({field: [messages]})` on bad input, having
changed nothing. Links to rows of another company are refused as field errors.

Other modules write into a party's timeline through `timeline_add` (see its docstring).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from auditlog.registry import auditlog
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.core import events
from xietong.core.audit import audited
from xietong.core.models import AuditEntry, Company, Currency, Membership, User
from xietong.core.numbering import sequence_ensure, sequence_next
from xietong.core.tenancy import CompanyOwned
from xietong.party import timeline
from xietong.party.events import PartyMerged
from xietong.party.identifiers import (
    TaxIdError,
    clean_iban,
    looks_like_iban,
    normalize_name,
    normalize_phone,
    scheme_for,
)
from xietong.party.models import (
    Address,
    BankAccount,
    Contact,
    Country,
    CustomerGroup,
    Party,
    PaymentTerm,
    PaymentTermLine,
    Region,
    Tag,
    TimelineEntry,
)
from xietong.party.selectors import DuplicateCandidate, party_duplicates, party_references
from xietong.party.terms import lines_text

M = TypeVar("M", bound=models.Model)
Errors = dict[str, list[str]]

# --- audit registration -----------------------------------------------------------------------


def _audited_fields(model: type[models.Model], *skip: str) -> list[str]:
    """The model's own columns (django-auditlog would otherwise diff reverse relations too,
    which the History tab cannot label)."""
    return [f.name for f in model._meta.concrete_fields if f.name not in {"id", *skip}]


def _register_audit() -> None:
    """Register the party models with django-auditlog (once, however often this runs)."""
    if not auditlog.contains(Party):
        auditlog.register(
            Party,
            include_fields=_audited_fields(Party, "company", "normalized_name", "normalized_phone"),
            m2m_fields={"tags"},
        )
    for model in (Contact, Address, BankAccount, CustomerGroup, PaymentTerm):
        if not auditlog.contains(model):
            auditlog.register(model, include_fields=_audited_fields(model, "company"))


_register_audit()

timeline_kind_register = timeline.kind_register

PARTY_SEQUENCE = "party.party"
PARTY_CODE_PATTERN = "P{year}-{number:05d}"

PARTY_FIELDS = {
    "kind",
    "code",
    "name",
    "legal_name",
    "tax_id",
    "tax_scheme",
    "is_customer",
    "is_supplier",
    "is_carrier",
    "email",
    "phone",
    "website",
    "language",
    "country",
    "currency",
    "price_list",
    "salesperson",
    "customer_group",
    "tags",
    "supplier_lead_days",
    "invoice_policy",
    "notes",
}
CREDIT_FIELDS = {"credit_limit", "payment_term"}


class DuplicateParties(ValidationError):
    """The party being created looks like existing ones; `candidates` says which and why.

    Reported on the field `allow_duplicate`: sending it as true creates the party anyway."""

    def __init__(self, candidates: list[DuplicateCandidate]) -> None:
        self.candidates = candidates
        listing = "; ".join(c.describe() for c in candidates)
        super().__init__(
            {
                "allow_duplicate": [
                    _(
                        "This looks like a party that already exists: %(parties)s. Open it "
                        "instead, or confirm that this is a different one."
                    )
                    % {"parties": listing}
                ]
            }
        )


# --- helpers ------------------------------------------------------------------------------------


def _company_id(obj: Any) -> int | None:
    return getattr(obj, "company_id", None)


def _link(
    errors: Errors,
    field: str,
    model: type[M],
    value: Any,
    *,
    company_id: int | None,
    label: str | Promise,
    queryset: Any = None,
) -> M | None:
    """Resolve `value` (an instance, a primary key or None) to a row of `model` that belongs to
    the company (when the model is company-owned); otherwise record a field error. The same
    message for a missing row and another company's row, so nothing leaks."""
    if value in (None, ""):
        return None
    source = queryset if queryset is not None else model._base_manager
    if isinstance(value, model):
        obj: M | None = value
        if queryset is not None and not source.filter(pk=value.pk).exists():
            obj = None
    else:
        try:
            obj = source.filter(pk=value).first()
        except (ValueError, TypeError, ValidationError):
            obj = None
    if obj is not None and issubclass(model, CompanyOwned) and _company_id(obj) != company_id:
        obj = None
    if obj is None:
        errors.setdefault(field, []).append(
            _("Choose a valid %(thing)s of your company.") % {"thing": label}
        )
    return obj


def _full_clean(obj: models.Model, errors: Errors, *, exclude: Iterable[str] = ()) -> None:
    try:
        obj.full_clean(
            exclude=["company", *exclude], validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            bucket = errors.setdefault(field, [])
            bucket.extend(m for m in messages if m not in bucket)


def _refuse_unknown(fields: Mapping[str, Any], allowed: set[str], errors: Errors) -> None:
    for name in fields:
        if name not in allowed:
            errors.setdefault(name, []).append(_("This field cannot be changed here."))


def _decimal(value: Any, field: str, errors: Errors) -> Decimal | None:
    if value in (None, ""):
        return None
    if isinstance(value, float):
        errors.setdefault(field, []).append(_("Send decimal numbers as strings."))
        return None
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.setdefault(field, []).append(_("Enter a number."))
        return None
    if not result.is_finite():
        errors.setdefault(field, []).append(_("Enter a number."))
        return None
    return result


def _raise(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


# --- tags ---------------------------------------------------------------------------------------


def _tag_names(values: Iterable[Any]) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for value in values:
        name = value.name if isinstance(value, Tag) else str(value).strip()
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    return names


def _tags_ensure(*, company_id: int, names: list[str]) -> list[Tag]:
    """The company's tags with these names (case-insensitive), created when missing."""
    existing = {t.name.casefold(): t for t in Tag.unscoped.filter(company_id=company_id)}
    result = []
    for name in names:
        tag = existing.get(name.casefold())
        if tag is None:
            tag = Tag.unscoped.create(company_id=company_id, name=name)
            existing[name.casefold()] = tag
        result.append(tag)
    return result


# --- parties ------------------------------------------------------------------------------------


def _party_apply(party: Party, fields: Mapping[str, Any], errors: Errors) -> list[str] | None:
    """Set `fields` on `party` (resolving links, checking them against the party's company)
    and return the tag names when `tags` was given."""
    company_id = party.company_id
    tag_names = None
    for name, value in fields.items():
        if name == "tags":
            tag_names = _tag_names(value or [])
            too_long = [t for t in tag_names if len(t) > 40]
            if too_long:
                errors.setdefault("tags", []).append(
                    _("A tag has at most 40 characters: %(tag)s") % {"tag": too_long[0]}
                )
        elif name == "country":
            code = value.code if isinstance(value, Country) else (value or "")
            party.country = _link(
                errors,
                "country",
                Country,
                str(code).upper() or None,
                company_id=None,
                label=gettext_lazy("country"),
            )
        elif name == "currency":
            code = value.code if isinstance(value, Currency) else (value or "")
            party.currency = _link(  # type: ignore[assignment]
                errors,
                "currency",
                Currency,
                str(code).upper() or None,
                company_id=None,
                label=gettext_lazy("currency"),
                queryset=Currency.objects.filter(active=True),
            )
        elif name == "customer_group":
            party.customer_group = _link(
                errors,
                "customer_group",
                CustomerGroup,
                value,
                company_id=company_id,
                label=gettext_lazy("customer group"),
            )
        elif name == "price_list":
            price_list_model = Party._meta.get_field("price_list").related_model
            party.price_list = _link(  # type: ignore[assignment]
                errors,
                "price_list",
                price_list_model,  # type: ignore[arg-type]
                value,
                company_id=company_id,
                label=gettext_lazy("price list"),
            )
        elif name == "salesperson":
            members = User.objects.filter(
                pk__in=Membership.unscoped.filter(company_id=company_id, is_active=True).values(
                    "user_id"
                )
            )
            party.salesperson = _link(
                errors,
                "salesperson",
                User,
                value,
                company_id=None,
                label=gettext_lazy("user"),
                queryset=members,
            )
        elif name in {"name", "legal_name", "email", "phone", "website", "notes", "code"}:
            setattr(party, name, (value or "").strip())
        elif name == "invoice_policy":  # checked against the choices by _full_clean
            party.invoice_policy = str(value or "").strip()
        elif name == "tax_scheme":
            party.tax_scheme = (value or "").strip().lower()
        elif name == "tax_id":
            party.tax_id = (value or "").strip()
        else:
            setattr(party, name, value)
    return tag_names


def _party_validate(party: Party, errors: Errors, *, check_code: bool = True) -> None:
    """Normalise and check a party whose fields are set (adds to `errors`). `check_code=False`
    skips the code checks, which query the database: an import checks codes against the codes
    it loaded once per file instead."""
    party.normalized_name = normalize_name(party.name)
    party.normalized_phone = normalize_phone(party.phone)
    if party.currency_id is None and "currency" not in errors:
        errors.setdefault("currency", []).append(_("Choose the party's currency."))
    if not (party.is_customer or party.is_supplier or party.is_carrier):
        errors.setdefault("is_customer", []).append(
            _("A party is a customer, a supplier or a carrier (or several).")
        )
    if party.tax_id and "country" not in errors:
        try:
            scheme = scheme_for(country=party.country_id, code=party.tax_scheme)
        except LookupError:
            errors.setdefault("tax_scheme", []).append(
                _("Unknown tax ID scheme “%(code)s”.") % {"code": party.tax_scheme}
            )
        else:
            try:
                party.tax_id = scheme.clean(party.tax_id, country=party.country_id)
            except TaxIdError as exc:
                errors.setdefault("tax_id", []).append(str(exc))
    if party.tax_scheme and not party.tax_id:
        try:
            scheme_for(country=None, code=party.tax_scheme)
        except LookupError:
            errors.setdefault("tax_scheme", []).append(
                _("Unknown tax ID scheme “%(code)s”.") % {"code": party.tax_scheme}
            )
    _full_clean(
        party,
        errors,
        exclude=[
            "normalized_name",
            "normalized_phone",
            "code",
            "currency",
            "country",
            "customer_group",
            "price_list",
            "salesperson",
            "payment_term",
            "merged_into",
            *[f for f in errors if f in {"tax_id", "tax_scheme"}],
        ],
    )
    if check_code and party.code:
        if len(party.code) > 30:
            errors.setdefault("code", []).append(_("Use at most 30 characters."))
        clash = Party.unscoped.filter(company_id=party.company_id, code=party.code).exclude(
            pk=party.pk
        )
        if clash.exists():
            errors.setdefault("code", []).append(
                _("Another party already has the code %(code)s.") % {"code": party.code}
            )


def _party_save(party: Party) -> None:
    """Save, turning a code taken by a concurrent writer into the usual field error."""
    try:
        with transaction.atomic():
            party.save()
    except IntegrityError as exc:
        if Party.unscoped.filter(company_id=party.company_id, code=party.code).exists():
            raise ValidationError(
                {"code": [_("Another party already has the code %(code)s.") % {"code": party.code}]}
            ) from exc
        raise


def _party_code_next(company: Company) -> str:
    sequence_ensure(
        company=company,
        code=PARTY_SEQUENCE,
        name=str(gettext_lazy("Parties")),
        pattern=PARTY_CODE_PATTERN,
    )
    while True:
        code = sequence_next(company=company, code=PARTY_SEQUENCE, date=timezone.localdate())
        if not Party.unscoped.filter(company=company, code=code).exists():
            return code


@audited
def party_create(
    *,
    company: Company,
    actor: User | None,
    name: str,
    allow_duplicate: bool = False,
    **fields: Any,
) -> Party:
    """Create a customer, supplier or carrier.

    `fields` are any of PARTY_FIELDS; links (country, currency, customer_group, price_list,
    salesperson) may be instances or primary keys, `tags` a list of names (created when
    missing). The tax ID is checked under its scheme (`tax_scheme`, else the country's) and
    stored compact; an empty `code` is numbered from the company's `party.party` sequence;
    the currency defaults to the company's. Credit terms are set only by
    `party_set_credit_terms`.

    Raises ValidationError (field errors), or `DuplicateParties` (on `allow_duplicate`) when
    parties with the same normalised name, tax ID, phone or e-mail exist, unless
    `allow_duplicate` is true. Writes a "party.created" timeline entry.
    """
    errors: Errors = {}
    _refuse_unknown(fields, PARTY_FIELDS, errors)
    for field in CREDIT_FIELDS & set(fields):
        errors[field] = [_("Credit terms are set with their own form (permission needed).")]
    party = Party(company=company, name=(name or "").strip())
    fields = {k: v for k, v in fields.items() if k in PARTY_FIELDS}
    fields.setdefault("currency", company.base_currency_id)
    tag_names = _party_apply(party, fields, errors)
    _party_validate(party, errors)
    if not party.name and "name" not in errors:
        errors["name"] = [_("This field is required.")]
    _raise(errors)
    if not allow_duplicate:
        candidates = party_duplicates(
            company, name=party.name, tax_id=party.tax_id, phone=party.phone, email=party.email
        )
        if candidates:
            raise DuplicateParties(candidates)
    with transaction.atomic():
        if not party.code:
            party.code = _party_code_next(company)
        _party_save(party)
        if tag_names:
            party.tags.set(_tags_ensure(company_id=company.pk, names=tag_names))
        roles = [
            str(label)
            for flag, label in (
                (party.is_customer, gettext_lazy("customer")),
                (party.is_supplier, gettext_lazy("supplier")),
                (party.is_carrier, gettext_lazy("carrier")),
            )
            if flag
        ]
        _timeline_write(
            party=party,
            kind="party.created",
            summary=_("%(name)s created as %(roles)s")
            % {"name": party.name, "roles": ", ".join(roles)},
            actor=actor,
        )
    return party


@audited
def party_update(*, party: Party, actor: User | None, **fields: Any) -> Party:
    """Change a party's fields (any of PARTY_FIELDS, links as in `party_create`). Refuses
    credit terms (`credit_limit`, `payment_term`: use `party_set_credit_terms`) and merged
    parties. Raises ValidationError and then leaves the party as it was."""
    errors: Errors = {}
    _refuse_unknown(fields, PARTY_FIELDS | CREDIT_FIELDS, errors)
    for field in CREDIT_FIELDS & set(fields):
        errors[field] = [_("Credit terms are set with their own form (permission needed).")]
    if party.merged_into_id:
        errors.setdefault("__all__", []).append(
            _("This party was merged into another one and can no longer be changed.")
        )
    if "name" in fields and not (fields["name"] or "").strip():
        errors.setdefault("name", []).append(_("This field is required."))
    if "code" in fields and not (fields["code"] or "").strip():
        errors.setdefault("code", []).append(_("This field is required."))
    tag_names = _party_apply(party, {k: v for k, v in fields.items() if k in PARTY_FIELDS}, errors)
    _party_validate(party, errors)
    if errors:
        party.refresh_from_db()
        raise ValidationError(errors)
    with transaction.atomic():
        _party_save(party)
        if tag_names is not None:
            party.tags.set(_tags_ensure(company_id=party.company_id, names=tag_names))
    return party


@audited
def party_set_credit_terms(
    *,
    party: Party,
    actor: User | None,
    credit_limit: Decimal | str | None,
    payment_term: PaymentTerm | int | None,
) -> Party:
    """Set a party's credit limit (None: no limit; never negative) and payment term (an
    active term of the party's company, or None). Kept apart from `party_update` so that the
    `party.credit` permission guards it. Writes a "party.credit" timeline entry when
    something changed."""
    errors: Errors = {}
    limit = _decimal(credit_limit, "credit_limit", errors)
    if limit is not None and limit < 0:
        errors.setdefault("credit_limit", []).append(_("The credit limit cannot be negative."))
    if limit is not None and limit.as_tuple().exponent < -2:  # type: ignore[operator]
        errors.setdefault("credit_limit", []).append(_("Use at most 2 decimal places."))
    if limit is not None and abs(limit) >= Decimal(10) ** 16:
        errors.setdefault("credit_limit", []).append(_("The number is too large."))
    term = _link(
        errors,
        "payment_term",
        PaymentTerm,
        payment_term,
        company_id=party.company_id,
        label=gettext_lazy("payment term"),
        queryset=PaymentTerm.unscoped.filter(active=True),
    )
    if party.merged_into_id:
        errors.setdefault("__all__", []).append(
            _("This party was merged into another one and can no longer be changed.")
        )
    _raise(errors)
    before = (party.credit_limit, party.payment_term)
    if before[0] == limit and before[1] == term:
        return party
    with transaction.atomic():
        party.credit_limit = limit
        party.payment_term = term
        party.save(update_fields=["credit_limit", "payment_term"])
        currency = party.currency_id

        def limit_text(value: Decimal | None) -> str:
            return f"{value:,.2f} {currency}" if value is not None else _("none")

        _timeline_write(
            party=party,
            kind="party.credit",
            summary=_(
                "Credit limit: %(old_limit)s → %(new_limit)s; payment term: %(old_term)s → "
                "%(new_term)s"
            )
            % {
                "old_limit": limit_text(before[0]),
                "new_limit": limit_text(limit),
                "old_term": before[1] or _("none"),
                "new_term": term or _("none"),
            },
            actor=actor,
        )
    return party


@audited
def party_archive(*, party: Party, actor: User | None) -> Party:
    """Mark a party inactive: it stays on every document that names it but is no longer
    offered for new ones. Idempotent."""
    if not party.active:
        return party
    with transaction.atomic():
        party.active = False
        party.save(update_fields=["active"])
        _timeline_write(
            party=party, kind="party.archived", summary=_("Party archived"), actor=actor
        )
    return party


@audited
def party_restore(*, party: Party, actor: User | None) -> Party:
    """Make an archived party active again (not a merged one)."""
    if party.merged_into_id:
        raise ValidationError(
            {"__all__": [_("A merged duplicate cannot be restored; use the surviving party.")]}
        )
    if party.active:
        return party
    with transaction.atomic():
        party.active = True
        party.save(update_fields=["active"])
        _timeline_write(
            party=party, kind="party.archived", summary=_("Party restored"), actor=actor
        )
    return party


# Fields a merge copies from the duplicate when the survivor's are empty.
MERGE_FILL_FIELDS = [
    "legal_name",
    "tax_id",
    "tax_scheme",
    "email",
    "phone",
    "website",
    "country",
    "payment_term",
    "price_list",
    "credit_limit",
    "salesperson",
    "customer_group",
    "supplier_lead_days",
    "invoice_policy",
    "notes",
]


def _merge_problems(survivor: Party, duplicate: Party) -> Errors:
    errors: Errors = {}
    if survivor.pk == duplicate.pk:
        errors["duplicate"] = [_("Choose another party: a party cannot be merged into itself.")]
    elif survivor.company_id != duplicate.company_id:
        errors["duplicate"] = [
            _("Choose a valid %(thing)s of your company.") % {"thing": _("party")}
        ]
    elif duplicate.merged_into_id:
        errors["duplicate"] = [_("This party was already merged into another one.")]
    elif survivor.merged_into_id:
        errors["survivor"] = [_("This party was merged into another one; merge into that one.")]
    return errors


@audited
def party_merge(*, survivor: Party, duplicate: Party, actor: User | None) -> Party:
    """Merge `duplicate` into `survivor`: afterwards nothing points to the duplicate.

    Both must belong to the same company, be different and not merged already. Locks both
    party rows (in primary-key order), then moves every reference generically — reverse
    foreign keys and one-to-ones of any app (contacts, addresses, bank accounts, the
    timeline, later documents), reverse many-to-many rows, and generic foreign keys such as a
    timeline entry's source — and adds the duplicate's tags to the survivor. The duplicate's
    default address of a kind and primary contact stop being default where the survivor has
    one. Empty fields of the survivor are filled from the duplicate; the roles (customer,
    supplier, carrier) are combined. The duplicate becomes inactive with `merged_into`
    pointing to the survivor. Audit entries record both parties' changes; a "party.merged"
    timeline entry and a `PartyMerged` event (after commit) tell the rest.

    Raises ValidationError when the parties cannot be merged, or when a row cannot move
    because the survivor already has an equivalent one (a unique constraint); then nothing
    changes.
    """
    _raise(_merge_problems(survivor, duplicate))
    with transaction.atomic():
        locked = {
            p.pk: p
            for p in Party.unscoped.select_for_update()
            .filter(pk__in=[survivor.pk, duplicate.pk])
            .order_by("pk")
        }
        survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
        # Checked again on the locked rows: a concurrent merge may have come first.
        _raise(_merge_problems(survivor, duplicate))
        # Defaults that would collide once the rows belong to the survivor.
        survivor_default_kinds = set(
            Address.unscoped.filter(party=survivor, is_default=True).values_list("kind", flat=True)
        )
        Address.unscoped.filter(
            party=duplicate, is_default=True, kind__in=survivor_default_kinds
        ).update(is_default=False)
        if Contact.unscoped.filter(party=survivor, is_primary=True).exists():
            Contact.unscoped.filter(party=duplicate, is_primary=True).update(is_primary=False)
        moved = _references_move(source=duplicate, target=survivor)
        for m2m in Party._meta.many_to_many:  # the duplicate's tags (audited on the survivor)
            getattr(survivor, m2m.name).add(*getattr(duplicate, m2m.name).all())
        for name in MERGE_FILL_FIELDS:
            if getattr(survivor, name) in (None, "") and getattr(duplicate, name) not in (None, ""):
                setattr(survivor, name, getattr(duplicate, name))
        for flag in ("is_customer", "is_supplier", "is_carrier"):
            setattr(survivor, flag, getattr(survivor, flag) or getattr(duplicate, flag))
        survivor.normalized_phone = normalize_phone(survivor.phone)
        survivor.save()
        duplicate.active = False
        duplicate.merged_into = survivor
        duplicate.save(update_fields=["active", "merged_into"])
        AuditEntry.objects.log_create(
            survivor,
            force_log=True,
            action=AuditEntry.Action.UPDATE,
            changes={str(_("merged duplicate")): ["", f"{duplicate.code} {duplicate.name}"]},
        )
        _timeline_write(
            party=survivor,
            kind="party.merged",
            summary=_("%(name)s (%(code)s) merged into this party; %(count)d linked records moved")
            % {"name": duplicate.name, "code": duplicate.code, "count": moved},
            actor=actor,
            source=duplicate,
        )
        events.publish(
            PartyMerged(
                company_id=survivor.company_id,
                survivor_id=survivor.pk,
                duplicate_id=duplicate.pk,
            )
        )
    return survivor


def _references_move(*, source: Party, target: Party) -> int:
    """Point every reference to `source` at `target`; return the number of rows moved."""
    moved = 0
    party_type = ContentType.objects.get_for_model(Party)
    for ref in party_references():
        manager = ref.model._base_manager
        try:
            with transaction.atomic():
                if ref.kind == "generic":
                    moved += manager.filter(
                        **{ref.content_type_field: party_type, ref.field: str(source.pk)}
                    ).update(**{ref.field: str(target.pk)})
                elif ref.kind == "m2m":
                    # Rows the target already has would break the through table's uniqueness.
                    linked = manager.filter(**{ref.field: target}).values(ref.other)
                    manager.filter(**{ref.field: source, f"{ref.other}__in": linked}).delete()
                    moved += manager.filter(**{ref.field: source}).update(**{ref.field: target})
                else:
                    moved += manager.filter(**{ref.field: source}).update(**{ref.field: target})
        except IntegrityError as exc:
            raise ValidationError(
                {
                    "duplicate": [
                        _(
                            "The %(things)s of the two parties cannot be combined (the surviving "
                            "party already has matching ones). Tidy them up, then merge again."
                        )
                        % {"things": ref.label}
                    ]
                }
            ) from exc
    return moved


# --- contacts -----------------------------------------------------------------------------------

CONTACT_FIELDS = {
    "name",
    "role",
    "email",
    "phone",
    "mobile",
    "wechat",
    "preferred_channel",
    "language",
    "is_primary",
    "opt_out",
}


def _contact_save(contact: Contact, fields: Mapping[str, Any]) -> Contact:
    errors: Errors = {}
    _refuse_unknown(fields, CONTACT_FIELDS, errors)
    for name, value in fields.items():
        if name in CONTACT_FIELDS:
            setattr(contact, name, value.strip() if isinstance(value, str) else value)
    if not contact.name:
        errors.setdefault("name", []).append(_("This field is required."))
    if contact.party.merged_into_id:
        errors.setdefault("party", []).append(
            _("This party was merged into another one and can no longer be changed.")
        )
    _full_clean(contact, errors, exclude=["party"])
    if errors:
        if contact.pk:
            contact.refresh_from_db()
        raise ValidationError(errors)
    with transaction.atomic():
        if contact.is_primary:
            Contact.unscoped.filter(party=contact.party, is_primary=True).exclude(
                pk=contact.pk
            ).update(is_primary=False)
        contact.save()
    return contact


@audited
def contact_create(*, party: Party, actor: User | None, **fields: Any) -> Contact:
    """Add a person to a party (CONTACT_FIELDS). The first contact of a party becomes its
    primary one; making one primary makes the others not. Raises ValidationError."""
    contact = Contact(company_id=party.company_id, party=party)
    if not fields.get("is_primary"):
        first = not Contact.unscoped.filter(party=party, active=True).exists()
        fields = {**fields, "is_primary": first}
    return _contact_save(contact, fields)


@audited
def contact_update(*, contact: Contact, actor: User | None, **fields: Any) -> Contact:
    """Change a contact (CONTACT_FIELDS). Raises ValidationError and then changes nothing."""
    return _contact_save(contact, fields)


@audited
def contact_archive(*, contact: Contact, actor: User | None) -> Contact:
    """Mark a contact inactive (it stays on the documents that name it); it stops being the
    primary contact."""
    with transaction.atomic():
        contact.active = False
        contact.is_primary = False
        contact.save(update_fields=["active", "is_primary"])
    return contact


# --- addresses ----------------------------------------------------------------------------------

ADDRESS_FIELDS = {
    "kind",
    "street",
    "street2",
    "city",
    "region",
    "postal_code",
    "country",
    "is_default",
}


def _address_save(address: Address, fields: Mapping[str, Any]) -> Address:
    errors: Errors = {}
    _refuse_unknown(fields, ADDRESS_FIELDS, errors)
    for name, value in fields.items():
        if name == "country":
            code = value.code if isinstance(value, Country) else (value or "")
            address.country = _link(  # type: ignore[assignment]
                errors,
                "country",
                Country,
                str(code).upper() or None,
                company_id=None,
                label=gettext_lazy("country"),
            )
        elif name == "region":
            address.region = _link(
                errors, "region", Region, value, company_id=None, label=gettext_lazy("region")
            )
        elif name in ADDRESS_FIELDS:
            setattr(address, name, value.strip() if isinstance(value, str) else value)
    if address.country_id is None and "country" not in errors:
        errors["country"] = [_("This field is required.")]
    if (
        address.region is not None
        and address.country_id
        and address.region.country_id != address.country_id
    ):
        errors.setdefault("region", []).append(
            _("This region is not in %(country)s.") % {"country": address.country}
        )
    if address.party.merged_into_id:
        errors.setdefault("party", []).append(
            _("This party was merged into another one and can no longer be changed.")
        )
    _full_clean(address, errors, exclude=["party", "country", "region"])
    if errors:
        if address.pk:
            address.refresh_from_db()
        raise ValidationError(errors)
    with transaction.atomic():
        if address.is_default:
            Address.unscoped.filter(
                party=address.party, kind=address.kind, is_default=True
            ).exclude(pk=address.pk).update(is_default=False)
        address.save()
    return address


@audited
def address_create(*, party: Party, actor: User | None, **fields: Any) -> Address:
    """Add an address (ADDRESS_FIELDS; country as code or instance, region as id or instance,
    inside that country). The first address of a kind becomes the default of that kind; making
    one default makes the others of its kind not. Raises ValidationError."""
    address = Address(company_id=party.company_id, party=party)
    kind = fields.get("kind") or Address.Kind.BILLING
    if not fields.get("is_default"):
        fields = {
            **fields,
            "is_default": not Address.unscoped.filter(party=party, kind=kind, active=True).exists(),
        }
    return _address_save(address, fields)


@audited
def address_update(*, address: Address, actor: User | None, **fields: Any) -> Address:
    """Change an address (ADDRESS_FIELDS). Raises ValidationError and then changes nothing."""
    return _address_save(address, fields)


@audited
def address_archive(*, address: Address, actor: User | None) -> Address:
    """Mark an address inactive (documents keep it); it stops being a default."""
    with transaction.atomic():
        address.active = False
        address.is_default = False
        address.save(update_fields=["active", "is_default"])
    return address


# --- bank accounts ------------------------------------------------------------------------------

BANK_FIELDS = {"bank_name", "account_number", "holder", "swift", "currency"}


def _bank_account_save(account: BankAccount, fields: Mapping[str, Any]) -> BankAccount:
    errors: Errors = {}
    _refuse_unknown(fields, BANK_FIELDS, errors)
    for name, value in fields.items():
        if name == "currency":
            code = value.code if isinstance(value, Currency) else (value or "")
            account.currency = _link(
                errors,
                "currency",
                Currency,
                str(code).upper() or None,
                company_id=None,
                label=gettext_lazy("currency"),
            )
        elif name in BANK_FIELDS:
            setattr(account, name, value.strip() if isinstance(value, str) else value)
    account.swift = account.swift.replace(" ", "").upper()
    if account.account_number and looks_like_iban(account.account_number):
        try:
            account.account_number = clean_iban(account.account_number)
        except TaxIdError as exc:
            errors.setdefault("account_number", []).append(str(exc))
    if account.swift and len(account.swift) not in (8, 11):
        errors.setdefault("swift", []).append(_("A SWIFT/BIC code has 8 or 11 characters."))
    _full_clean(account, errors, exclude=["party", "currency"])
    if errors:
        if account.pk:
            account.refresh_from_db()
        raise ValidationError(errors)
    with transaction.atomic():
        account.save()
    return account


@audited
def bank_account_create(*, party: Party, actor: User | None, **fields: Any) -> BankAccount:
    """Add a bank account (BANK_FIELDS). An account number that looks like an IBAN is checked
    as one and stored compact. Raises ValidationError."""
    return _bank_account_save(BankAccount(company_id=party.company_id, party=party), fields)


@audited
def bank_account_update(*, account: BankAccount, actor: User | None, **fields: Any) -> BankAccount:
    return _bank_account_save(account, fields)


@audited
def bank_account_archive(*, account: BankAccount, actor: User | None) -> BankAccount:
    with transaction.atomic():
        account.active = False
        account.save(update_fields=["active"])
    return account


# --- customer groups ----------------------------------------------------------------------------

GROUP_FIELDS = {"code", "name", "max_discount_percent", "active"}


def _group_save(group: CustomerGroup, fields: Mapping[str, Any]) -> CustomerGroup:
    errors: Errors = {}
    _refuse_unknown(fields, GROUP_FIELDS, errors)
    for name, value in fields.items():
        if name == "max_discount_percent":
            group.max_discount_percent = _decimal(value, name, errors)  # type: ignore[assignment]
        elif name in GROUP_FIELDS:
            setattr(group, name, value.strip() if isinstance(value, str) else value)
    if group.max_discount_percent is None and "max_discount_percent" not in errors:
        errors["max_discount_percent"] = [_("This field is required.")]
    _full_clean(group, errors, exclude=list({"max_discount_percent"} & set(errors)))
    if group.code and (
        CustomerGroup.unscoped.filter(company_id=group.company_id, code=group.code)
        .exclude(pk=group.pk)
        .exists()
    ):
        errors.setdefault("code", []).append(_("Another customer group has this code."))
    if errors:
        if group.pk:
            group.refresh_from_db()
        raise ValidationError(errors)
    with transaction.atomic():
        group.save()
    return group


@audited
def customer_group_create(*, company: Company, actor: User | None, **fields: Any) -> CustomerGroup:
    """Create a customer group (code, name, max_discount_percent: the discount a sales rep may
    give without approval). Raises ValidationError."""
    return _group_save(CustomerGroup(company=company), fields)


@audited
def customer_group_update(
    *, group: CustomerGroup, actor: User | None, **fields: Any
) -> CustomerGroup:
    return _group_save(group, fields)


@audited
def customer_group_archive(*, group: CustomerGroup, actor: User | None) -> CustomerGroup:
    """Hide a group from new choices; its customers keep it."""
    with transaction.atomic():
        group.active = False
        group.save(update_fields=["active"])
    return group


# --- payment terms ------------------------------------------------------------------------------

LINE_FIELDS = ("percent", "days", "discount_percent", "discount_days")


def _lines_check(lines: list[Mapping[str, Any]], errors: Errors) -> list[PaymentTermLine]:
    """Validate term lines: positive percents adding up to exactly 100, whole days, a discount
    only within its line's due days."""
    rows = []
    if not lines:
        errors.setdefault("lines", []).append(_("A payment term needs at least one line."))
        return rows
    total = Decimal(0)
    for number, line in enumerate(lines, start=1):
        problems: list[str] = []
        unknown = set(line) - set(LINE_FIELDS) - {"sequence", "id"}
        if unknown:
            problems.append(
                _("Unknown field(s): %(fields)s") % {"fields": ", ".join(sorted(unknown))}
            )
        line_errors: Errors = {}
        percent = _decimal(line.get("percent"), "percent", line_errors)
        discount = _decimal(line.get("discount_percent") or 0, "discount_percent", line_errors)
        try:
            days = int(line.get("days") or 0)
            discount_days = int(line.get("discount_days") or 0)
        except (TypeError, ValueError):
            days = discount_days = 0
            problems.append(_("Days must be whole numbers."))
        problems += [m for messages in line_errors.values() for m in messages]
        if percent is None and not line_errors:
            problems.append(_("Enter the share in percent."))
        elif percent is not None and not Decimal(0) < percent <= 100:
            problems.append(_("The share must be more than 0 and at most 100 %."))
        elif percent is not None and percent.as_tuple().exponent < -3:  # type: ignore[operator]
            problems.append(_("Use at most 3 decimal places for the share."))
        if discount is not None and not Decimal(0) <= discount < 100:
            problems.append(_("The discount must be between 0 and 100 %."))
        if not 0 <= days <= 3650 or not 0 <= discount_days <= 3650:
            problems.append(_("Days must be between 0 and 3650."))
        elif discount and discount_days > days:
            problems.append(_("The discount period cannot be longer than the payment period."))
        if problems:
            errors.setdefault("lines", []).append(
                _("Line %(number)d: %(problems)s")
                % {"number": number, "problems": " ".join(problems)}
            )
            continue
        total += percent or 0
        rows.append(
            PaymentTermLine(
                sequence=number,
                percent=percent,
                days=days,
                discount_percent=discount or Decimal(0),
                discount_days=discount_days if discount else 0,
            )
        )
    if "lines" not in errors and total != 100:
        errors["lines"] = [
            _("The shares of the lines must add up to 100 %% (now %(total)s %%).")
            % {"total": f"{total.normalize():f}"}
        ]
    return rows


def _term_save(
    term: PaymentTerm,
    *,
    name: str | None,
    active: bool | None,
    lines: list[Mapping[str, Any]] | None,
) -> PaymentTerm:
    errors: Errors = {}
    if name is not None:
        term.name = name.strip()
    if active is not None:
        term.active = bool(active)
    rows = _lines_check(list(lines), errors) if lines is not None else None
    _full_clean(term, errors)
    if term.name and (
        PaymentTerm.unscoped.filter(company_id=term.company_id, name=term.name)
        .exclude(pk=term.pk)
        .exists()
    ):
        errors.setdefault("name", []).append(_("Another payment term has this name."))
    if errors:
        if term.pk:
            term.refresh_from_db()
        raise ValidationError(errors)
    with transaction.atomic():
        before = lines_text(term.lines.all()) if term.pk else ""
        term.save()
        if rows is not None:
            after = lines_text(rows)
            if term.pk and before and before != after:
                AuditEntry.objects.log_create(
                    term,
                    force_log=True,
                    action=AuditEntry.Action.UPDATE,
                    changes={str(_("installments")): [before, after]},
                )
            term.lines.all().delete()
            for row in rows:
                row.term = term
            PaymentTermLine.objects.bulk_create(rows)
    return term


@audited
def payment_term_create(
    *, company: Company, actor: User | None, name: str, lines: list[Mapping[str, Any]]
) -> PaymentTerm:
    """Create a payment term from lines (dicts of percent, days, discount_percent,
    discount_days), e.g. Net 30: `[{"percent": 100, "days": 30}]`; 2/10 net 30:
    `[{"percent": 100, "days": 30, "discount_percent": 2, "discount_days": 10}]`. The percents
    must add up to 100 (else a field error on `lines`)."""
    return _term_save(PaymentTerm(company=company), name=name, active=True, lines=lines)


@audited
def payment_term_update(
    *,
    term: PaymentTerm,
    actor: User | None,
    name: str | None = None,
    active: bool | None = None,
    lines: list[Mapping[str, Any]] | None = None,
) -> PaymentTerm:
    """Rename a term, (de)activate it or replace its lines (all of them). Raises
    ValidationError and then changes nothing."""
    return _term_save(term, name=name, active=active, lines=lines)


@audited
def payment_term_archive(*, term: PaymentTerm, actor: User | None) -> PaymentTerm:
    """Hide a term from new choices; parties and documents that use it keep it."""
    with transaction.atomic():
        term.active = False
        term.save(update_fields=["active"])
    return term


# --- timeline -----------------------------------------------------------------------------------


def _timeline_write(
    *,
    party: Party,
    kind: str,
    summary: str,
    occurred_at: dt.datetime | None = None,
    url: str = "",
    actor: User | None = None,
    source: models.Model | None = None,
) -> TimelineEntry:
    if len(summary) > 255:
        summary = summary[:254] + "…"
    entry = TimelineEntry(
        company_id=party.company_id,
        party=party,
        kind=kind,
        summary=summary,
        occurred_at=occurred_at or timezone.now(),
        url=url,
        actor=actor if actor is not None and actor.is_authenticated else None,
    )
    if source is not None:
        entry.source_type = ContentType.objects.get_for_model(source)
        entry.source_id = str(source.pk)
    entry.save()
    return entry


@audited
def timeline_add(
    *,
    party: Party,
    kind: str,
    summary: str,
    occurred_at: dt.datetime | None = None,
    url: str = "",
    actor: User | None = None,
    source: models.Model | None = None,
) -> TimelineEntry:
    """Write one entry into a party's timeline — the one door every module uses.

    The timeline is the party's shared history: CRM activities, quotations, orders,
    shipments, invoices, payments and tickets all appear on the party page in one
    chronological list that users filter by kind and date.

    - `party`: the customer or supplier the event concerns (a `Party` row). A merged duplicate
      is replaced by the party it was merged into.
    - `kind`: a short code, at most 30 characters, e.g. "order", "invoice", "ticket"; declare
      its label and icon once with `timeline_kind_register(code, label, icon)` from your
      `AppConfig.ready()` (unregistered kinds are shown by their code).
    - `summary`: one line for people, in the company's working language (longer than 255
      characters is shortened with "…").
    - `occurred_at`: when it happened, an aware datetime (default: now). Back-dating is fine;
      the list is ordered by this.
    - `url`: a link inside xietong (a path starting with "/", e.g. from `reverse()`), or "".
    - `actor`: the user who did it (None for the system); named on the entry and in the audit.
    - `source`: the record the entry is about (an order, an invoice …); it must belong to the
      party's company. Merging parties moves the entry along with the party.

    Call it inside your own service's transaction so that the entry commits (or rolls back)
    with your change. Raises ValidationError on bad input and then writes nothing. Returns
    the new `TimelineEntry`.
    """
    errors: Errors = {}
    if not isinstance(party, Party) or party.pk is None:
        raise ValidationError({"party": [_("Give a saved party.")]})
    if party.merged_into_id:
        party = Party.unscoped.get(pk=party.merged_into_id)
    kind = (kind or "").strip()
    if not kind or len(kind) > 30:
        errors["kind"] = [_("Give a kind of at most 30 characters.")]
    summary = " ".join((summary or "").split())
    if not summary:
        errors["summary"] = [_("This field is required.")]
    if occurred_at is not None and (
        not isinstance(occurred_at, dt.datetime) or timezone.is_naive(occurred_at)
    ):
        errors["occurred_at"] = [_("Give a date and time with its time zone.")]
    url = (url or "").strip()
    if url and (not url.startswith("/") or url.startswith("//") or len(url) > 255):
        errors["url"] = [_("Give a link inside xietong, starting with /.")]
    if source is not None:
        if not isinstance(source, models.Model) or source.pk is None:
            errors["source"] = [_("Give a saved record.")]
        elif hasattr(source, "company_id") and source.company_id != party.company_id:
            errors["source"] = [_("The record belongs to another company.")]
    _raise(errors)
    # The entry and its audit record commit together; inside the caller's transaction no
    # savepoint is needed (nothing here is retried after an error).
    with transaction.atomic(savepoint=False):
        return _timeline_write(
            party=party,
            kind=kind,
            summary=summary,
            occurred_at=occurred_at,
            url=url,
            actor=actor,
            source=source,
        )


__all__ = [
    "DuplicateParties",
    "address_archive",
    "address_create",
    "address_update",
    "bank_account_archive",
    "bank_account_create",
    "bank_account_update",
    "contact_archive",
    "contact_create",
    "contact_update",
    "customer_group_archive",
    "customer_group_create",
    "customer_group_update",
    "party_archive",
    "party_create",
    "party_merge",
    "party_restore",
    "party_set_credit_terms",
    "party_update",
    "payment_term_archive",
    "payment_term_create",
    "payment_term_update",
    "timeline_add",
    "timeline_kind_register",
]
