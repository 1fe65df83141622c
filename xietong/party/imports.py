"""Import and export of customers, suppliers, carriers ("parties") and their contacts, as CSV
or XLSX through `xietong.core.imports`.

What a row means:

- Parties are keyed by `code`: a row whose code names a party of the company updates it, any
  other row creates one (with that code, or numbered from the `party.party` sequence when the
  code is empty). Merged duplicates are never exported, and their codes are refused.
- A new party that looks like an existing one (normalised name, tax ID, phone digits or
  e-mail, as `party_duplicates` compares them) or like a new party of an earlier row is a row
  error naming the other party and why, unless the row's `allow_duplicate` is 1.
- Contacts are keyed by their party's code and their name (case-insensitively). A row whose
  `is_primary` is 1 makes the party's other contacts not primary; two such rows for one party
  are an error.
- A column left out of the file leaves that field of existing rows as it is; an empty cell
  clears an optional field. Fields that cannot be empty (kind, currency, language, the role
  flags, active, the contact's channel) keep their value when the cell is empty, and a new
  row gets the usual default (the company's currency, for instance).
- Exports write every column in the form the import reads, so exporting and importing again
  changes nothing.

Every lookup (parties, codes, countries, terms, users, tags, duplicate keys) is loaded once per
file in `begin`, so checking a row never queries the database, and saving writes in bulk with
audit entries from `audit_bulk` (the per-row services would take minutes for the tens of
thousands of parties a migration from another system brings).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from auditlog.cid import get_cid
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.core import imports
from xietong.core.audit import audit_bulk
from xietong.core.imports import Cells, Column, RowError
from xietong.core.models import (
    AuditEntry,
    Company,
    Currency,
    Membership,
    User,
)
from xietong.core.numbering import sequence_ensure, sequence_next_many
from xietong.party.identifiers import compact_tax_id
from xietong.party.models import (
    Contact,
    Country,
    CustomerGroup,
    Party,
    PaymentTerm,
    TimelineEntry,
)
from xietong.party.selectors import REASONS, DuplicateCandidate
from xietong.party.services import (
    CONTACT_FIELDS,
    PARTY_CODE_PATTERN,
    PARTY_SEQUENCE,
    Errors,
    _full_clean,
    _party_validate,
    _tag_names,
    _tags_ensure,
)

BATCH = 500
PERMISSION = "party.import"
TAG_SEPARATOR = ";"
LANGUAGES = tuple(code for code, _label in settings.LANGUAGES)

# The values a clean party row carries (attribute names, as the model stores them).
PARTY_VALUES = (
    "kind",
    "name",
    "legal_name",
    "normalized_name",
    "tax_id",
    "tax_scheme",
    "is_customer",
    "is_supplier",
    "is_carrier",
    "email",
    "phone",
    "normalized_phone",
    "website",
    "language",
    "country_id",
    "currency_id",
    "payment_term_id",
    "price_list_id",
    "credit_limit",
    "customer_group_id",
    "salesperson_id",
    "supplier_lead_days",
    "notes",
    "active",
)
CONTACT_VALUES = (*sorted(CONTACT_FIELDS), "active")


def _problems(errors: Errors) -> dict[str, str]:
    """One message per import column ("" for the row): the first, which is the cell's own
    when the cell could not be read (the model's check of the same field would only repeat
    it, e.g. "a value is required" and "This field cannot be blank.")."""
    return {
        ("" if name == "__all__" else name): str(messages[0])
        for name, messages in errors.items()
        if messages
    }


def _link(
    cells: Cells,
    name: str,
    mapping: dict[str, Any],
    *,
    label: str | Promise,
    keep: tuple[str, Any] | None = None,
    archived: Iterable[str] = (),
) -> Any:
    """Look a cell up; the row's current value (`keep`: its text and value) is accepted even
    when it would no longer be offered (an archived term, a former member), so that a file
    exported earlier imports again."""
    raw = cells.values.get(name, "").strip()
    if keep is not None and raw and raw.lower() == keep[0].lower():
        return keep[1]
    if raw and raw.lower() not in mapping and raw.lower() in archived:
        cells.error(name, _("%(what)s “%(value)s” is archived") % {"what": label, "value": raw})
        return None
    return cells.lookup(name, mapping, label=label)


def _model_field_names(model: type[Any], attrs: Iterable[str]) -> list[str]:
    return sorted({model._meta.get_field(attr).name for attr in attrs})


def _changed(before: Any, values: dict[str, Any]) -> set[str]:
    return {attr for attr, value in values.items() if getattr(before, attr) != value}


def _actor_or_none(actor: User | None) -> User | None:
    return actor if actor is not None and actor.is_authenticated else None


# --- parties ----------------------------------------------------------------------------------


@dataclass
class _PartyState:
    """What checking and saving a file of parties needs, loaded once."""

    company: Company
    parties: dict[str, Party]  # the company's parties that were not merged, by code
    merged: dict[str, str]  # code of a merged party -> code of the party it went into
    countries: dict[str, str]
    currencies: dict[str, str]  # active ones
    archived_currencies: set[str]
    terms: dict[str, int]  # active ones, by lower-cased name
    archived_terms: set[str]
    term_names: dict[int, str]
    price_lists: dict[str, int]
    price_list_names: dict[int, str]
    groups: dict[str, int]  # by lower-cased code
    group_codes: dict[int, str]
    members: dict[str, int]  # users with an active membership, by lower-cased username
    usernames: dict[int, str]
    tags: dict[int, dict[int, tuple[int, str]]]  # party pk -> tag pk -> (link pk, tag name)
    index: dict[tuple[str, str], list[Party]]  # (reason, key) -> parties with that key
    in_file: dict[tuple[str, str], str] = field(default_factory=dict)  # new rows seen so far
    new_codes: set[str] = field(default_factory=set)


def _duplicate_keys(*, name: str, tax_id: str, phone: str, email: str) -> Iterator[tuple[str, str]]:
    """The keys under which `party_duplicates` finds a party (normalised values expected for
    the name and phone), so that the file is checked the same way the form is."""
    if name:
        yield "name", name
    tax = compact_tax_id(tax_id)
    if len(tax) >= 5:
        yield "tax_id", tax
    if len(phone) >= 6:
        yield "phone", phone
    if "@" in email:
        yield "email", email.strip().lower()


class PartyImport(imports.ImportSpec):
    """Customers, suppliers and carriers, one row per party, keyed by code."""

    key = "parties"
    title = gettext_lazy("Customers and suppliers")
    permission = PERMISSION
    columns = [
        Column(
            "code",
            gettext_lazy("Code"),
            help=gettext_lazy("an existing code updates that party; empty: numbered"),
        ),
        Column("name", gettext_lazy("Name"), required=True),
        Column("kind", gettext_lazy("Kind"), help=gettext_lazy("organisation or person")),
        Column("legal_name", gettext_lazy("Legal name")),
        Column("is_customer", gettext_lazy("Customer"), help=gettext_lazy("1 or 0")),
        Column("is_supplier", gettext_lazy("Supplier"), help=gettext_lazy("1 or 0")),
        Column("is_carrier", gettext_lazy("Carrier"), help=gettext_lazy("1 or 0")),
        Column(
            "tax_scheme",
            gettext_lazy("Tax ID scheme"),
            help=gettext_lazy("e.g. cn.uscc, eu.vat; empty: the country's"),
        ),
        Column("tax_id", gettext_lazy("Tax ID")),
        Column("email", gettext_lazy("E-mail")),
        Column("phone", gettext_lazy("Phone")),
        Column("website", gettext_lazy("Website"), help=gettext_lazy("starting with https://")),
        Column("language", gettext_lazy("Language"), help=gettext_lazy("en, zh-hans or zh-hant")),
        Column("country", gettext_lazy("Country"), help=gettext_lazy("ISO code, e.g. CN")),
        Column(
            "currency",
            gettext_lazy("Currency"),
            help=gettext_lazy("ISO 4217 code; empty: the company's"),
        ),
        Column("payment_term", gettext_lazy("Payment term"), help=gettext_lazy("its name")),
        Column("price_list", gettext_lazy("Price list"), help=gettext_lazy("its name")),
        Column("credit_limit", gettext_lazy("Credit limit"), help=gettext_lazy("empty: no limit")),
        Column("customer_group", gettext_lazy("Customer group"), help=gettext_lazy("its code")),
        Column("salesperson", gettext_lazy("Salesperson"), help=gettext_lazy("user name")),
        Column("supplier_lead_days", gettext_lazy("Supplier lead time (days)")),
        Column("tags", gettext_lazy("Tags"), help=gettext_lazy("separated by ;")),
        Column("notes", gettext_lazy("Notes")),
        Column("active", gettext_lazy("Active"), help=gettext_lazy("1 or 0")),
        Column(
            "allow_duplicate",
            gettext_lazy("Allow a duplicate"),
            help=gettext_lazy("1: create the party even if it looks like an existing one"),
        ),
    ]

    def begin(self, company: Company) -> _PartyState:
        everyone = list(Party.unscoped.filter(company=company).order_by("code"))
        by_pk = {p.pk: p for p in everyone}
        parties = {p.code: p for p in everyone if p.merged_into_id is None}
        merged = {
            p.code: by_pk[p.merged_into_id].code if p.merged_into_id in by_pk else ""
            for p in everyone
            if p.merged_into_id is not None
        }
        currencies = dict(Currency.objects.values_list("code", "active"))
        terms = list(
            PaymentTerm.unscoped.filter(company=company).values_list("pk", "name", "active")
        )
        price_list_model = Party._meta.get_field("price_list").related_model
        price_lists = dict(
            price_list_model._base_manager.filter(company=company).values_list("pk", "name")  # type: ignore[union-attr]
        )
        groups = dict(CustomerGroup.unscoped.filter(company=company).values_list("pk", "code"))
        member_ids = set(
            Membership.unscoped.filter(company=company, is_active=True).values_list(
                "user_id", flat=True
            )
        )
        referenced = {p.salesperson_id for p in parties.values() if p.salesperson_id}
        usernames = dict(
            User.objects.filter(pk__in=member_ids | referenced).values_list("pk", "username")
        )
        tags: dict[int, dict[int, tuple[int, str]]] = {}
        through = Party.tags.through
        for link_pk, party_pk, tag_pk, tag_name in through.objects.filter(
            party__company=company
        ).values_list("pk", "party_id", "tag_id", "tag__name"):
            tags.setdefault(party_pk, {})[tag_pk] = (link_pk, tag_name)
        index: dict[tuple[str, str], list[Party]] = {}
        for party in parties.values():
            for key in _duplicate_keys(
                name=party.normalized_name,
                tax_id=party.tax_id,
                phone=party.normalized_phone,
                email=party.email,
            ):
                index.setdefault(key, []).append(party)
        contact_emails = Contact.unscoped.filter(
            company=company, active=True, party__merged_into__isnull=True
        ).exclude(email="")
        for party_pk, email in contact_emails.values_list("party_id", "email"):
            for key in _duplicate_keys(name="", tax_id="", phone="", email=email):
                index.setdefault(key, []).append(by_pk[party_pk])
        return _PartyState(
            company=company,
            parties=parties,
            merged=merged,
            countries={
                code.lower(): code for code in Country.objects.values_list("code", flat=True)
            },
            currencies={code.lower(): code for code, active in currencies.items() if active},
            archived_currencies={code.lower() for code, active in currencies.items() if not active},
            terms={name.lower(): pk for pk, name, active in terms if active},
            archived_terms={name.lower() for _pk, name, active in terms if not active},
            term_names={pk: name for pk, name, _active in terms},
            price_lists={name.lower(): pk for pk, name in price_lists.items()},
            price_list_names=price_lists,
            groups={code.lower(): pk for pk, code in groups.items()},
            group_codes=groups,
            members={usernames[pk].lower(): pk for pk in member_ids if pk in usernames},
            usernames=usernames,
            tags=tags,
            index=index,
        )

    def clean_row(self, state: _PartyState, values: dict[str, str]) -> dict[str, Any]:
        cells = Cells(values)
        code = cells.text("code", max_length=30)
        current = state.parties.get(code) if code else None
        if current is None and code in state.merged:
            cells.error(
                "code",
                _("%(code)s was merged into %(survivor)s; use that code")
                % {"code": code, "survivor": state.merged[code] or "?"},
            )
        party = (
            copy.copy(current)
            if current is not None
            else Party(company=state.company, code=code, currency_id=state.company.base_currency_id)
        )
        party.name = cells.text("name", required=True)
        for attr in ("legal_name", "email", "phone", "website", "notes", "tax_id"):
            if attr in values:
                setattr(party, attr, cells.text(attr))
        if "tax_scheme" in values:
            party.tax_scheme = cells.text("tax_scheme").lower()
        party.kind = cells.choice("kind", Party.Kind, default=party.kind)
        party.language = cells.choice("language", LANGUAGES, default=party.language)
        for flag in ("is_customer", "is_supplier", "is_carrier", "active"):
            setattr(party, flag, cells.boolean(flag, default=getattr(party, flag)))
        self._links(state, cells, party, current)
        if "credit_limit" in values:
            party.credit_limit = cells.decimal("credit_limit", default=None, minimum=Decimal(0))
        if "supplier_lead_days" in values:
            party.supplier_lead_days = cells.integer("supplier_lead_days", default=None)
        tags = None
        if "tags" in values:
            tags = _tag_names(cells.text("tags").split(TAG_SEPARATOR))
            too_long = [t for t in tags if len(t) > 40]
            if too_long:
                cells.error(
                    "tags",
                    _("a tag has at most 40 characters: %(tag)s") % {"tag": too_long[0]},
                )
        allow_duplicate = cells.boolean("allow_duplicate")
        errors: Errors = {name: [message] for name, message in cells.problems.items()}
        _party_validate(party, errors, check_code=False)
        if errors:
            raise RowError(_problems(errors))
        if current is None:
            self._duplicates_check(state, party, allow_duplicate=allow_duplicate)
        return {
            "code": code,
            "values": {attr: getattr(party, attr) for attr in PARTY_VALUES},
            "tags": tags,
        }

    def _links(self, state: _PartyState, cells: Cells, party: Party, current: Party | None) -> None:
        values = cells.values
        if "country" in values:
            party.country_id = cells.lookup("country", state.countries, label=_("country"))
        if values.get("currency", "").strip():
            party.currency_id = _link(
                cells,
                "currency",
                state.currencies,
                label=_("currency"),
                keep=(current.currency_id, current.currency_id) if current else None,
                archived=state.archived_currencies,
            )
        if "payment_term" in values:
            party.payment_term_id = _link(
                cells,
                "payment_term",
                state.terms,
                label=_("payment term"),
                keep=_keep(current, "payment_term_id", state.term_names),
                archived=state.archived_terms,
            )
        if "price_list" in values:
            party.price_list_id = cells.lookup(
                "price_list", state.price_lists, label=_("price list")
            )
        if "customer_group" in values:
            party.customer_group_id = cells.lookup(
                "customer_group", state.groups, label=_("customer group")
            )
        if "salesperson" in values:
            party.salesperson_id = _link(
                cells,
                "salesperson",
                state.members,
                label=_("salesperson"),
                keep=_keep(current, "salesperson_id", state.usernames),
            )

    def _duplicates_check(self, state: _PartyState, party: Party, *, allow_duplicate: bool) -> None:
        """A new party that looks like an existing one, or like a new one of an earlier row,
        is refused unless the row allows it — as the form does with `allow_duplicate`."""
        if party.code and party.code in state.new_codes:
            return  # the same code twice: `row_key` reports the earlier row
        keys = list(
            _duplicate_keys(
                name=party.normalized_name,
                tax_id=party.tax_id,
                phone=party.normalized_phone,
                email=party.email,
            )
        )
        if not allow_duplicate:
            found: dict[int, DuplicateCandidate] = {}
            for reason, key in keys:
                for other in state.index.get((reason, key), []):
                    reasons = found.setdefault(other.pk, DuplicateCandidate(other)).reasons
                    if reason not in reasons:
                        reasons.append(reason)
            if found:
                candidates = sorted(found.values(), key=lambda c: (-len(c.reasons), c.party.code))
                raise RowError(
                    _(
                        "looks like a party that already exists: %(parties)s; write 1 in "
                        "allow_duplicate if it is a different one"
                    )
                    % {"parties": "; ".join(c.describe() for c in candidates[:3])}
                )
            earlier: dict[str, list[str]] = {}
            for reason, key in keys:
                if (reason, key) in state.in_file:
                    earlier.setdefault(state.in_file[(reason, key)], []).append(reason)
            if earlier:
                other, reasons = next(iter(earlier.items()))
                raise RowError(
                    _(
                        "looks like %(party)s of an earlier row (%(reasons)s); write 1 in "
                        "allow_duplicate if it is a different one"
                    )
                    % {"party": other, "reasons": ", ".join(str(REASONS[r]) for r in reasons)}
                )
        described = f"{party.name} ({party.code})" if party.code else party.name
        for key in keys:
            state.in_file.setdefault(key, described)
        if party.code:
            state.new_codes.add(party.code)

    def row_key(self, row: dict[str, Any]) -> Hashable | None:
        return row["code"] or None

    def save(
        self,
        state: _PartyState,
        rows: list[dict[str, Any]],
        *,
        company: Company,
        actor: User | None,
        progress: Callable[[int], None],
    ) -> dict[str, int]:
        created: list[Party] = []
        changes: list[tuple[Party, Party]] = []
        changed_attrs: set[str] = set()
        wanted_tags: list[tuple[Party, list[str]]] = []
        for number, row in enumerate(rows, start=1):
            current = state.parties.get(row["code"]) if row["code"] else None
            if current is None:
                party = Party(company=company, code=row["code"], **row["values"])
                created.append(party)
            else:
                party = copy.copy(current)
                changed = _changed(current, row["values"])
                for attr in changed:
                    setattr(party, attr, row["values"][attr])
                if changed:
                    changes.append((current, party))
                    changed_attrs |= changed
            if row["tags"] is not None:
                wanted_tags.append((party, row["tags"]))
            if number % BATCH == 0:
                progress(number)
        taken = set(state.parties) | set(state.merged) | {p.code for p in created if p.code}
        numbered = [p for p in created if not p.code]
        for party, code in zip(numbered, _codes_next(company, len(numbered), taken), strict=True):
            party.code = code
        Party.unscoped.bulk_create(created, batch_size=BATCH)
        if changes:
            Party.unscoped.bulk_update(
                [after for _before, after in changes],
                _model_field_names(Party, changed_attrs),
                batch_size=BATCH,
            )
        retagged = _tags_save(state, wanted_tags, company=company, actor=actor)
        audit_bulk([*((None, p) for p in created), *changes], actor=actor)
        _timeline_created(created, actor=actor)
        updated = {after.pk for _before, after in changes} | (retagged - {p.pk for p in created})
        return {"created": len(created), "updated": len(updated)}

    def export(self, company: Company) -> Iterable[dict[str, Any]]:
        state = self.begin(company)
        for party in state.parties.values():
            tags = sorted(
                (name for _link_pk, name in state.tags.get(party.pk, {}).values()),
                key=lambda n: (n.casefold(), n),
            )
            yield {
                "code": party.code,
                "name": party.name,
                "kind": party.kind,
                "legal_name": party.legal_name,
                "is_customer": party.is_customer,
                "is_supplier": party.is_supplier,
                "is_carrier": party.is_carrier,
                "tax_scheme": party.tax_scheme,
                "tax_id": party.tax_id,
                "email": party.email,
                "phone": party.phone,
                "website": party.website,
                "language": party.language,
                "country": party.country_id,
                "currency": party.currency_id,
                "payment_term": _name(state.term_names, party.payment_term_id),
                "price_list": _name(state.price_list_names, party.price_list_id),
                "credit_limit": party.credit_limit,
                "customer_group": _name(state.group_codes, party.customer_group_id),
                "salesperson": _name(state.usernames, party.salesperson_id),
                "supplier_lead_days": party.supplier_lead_days,
                "tags": f"{TAG_SEPARATOR} ".join(tags),
                "notes": party.notes,
                "active": party.active,
            }


def _name(names: dict[int, str], pk: int | None) -> str:
    return names.get(pk, "") if pk is not None else ""


def _keep(current: Any, attr: str, names: dict[int, str]) -> tuple[str, Any] | None:
    """The current link of `current` as (its text in the file, its id), if it has one."""
    pk = getattr(current, attr) if current is not None else None
    return (names[pk], pk) if pk is not None and pk in names else None


def _codes_next(company: Company, count: int, taken: set[str]) -> list[str]:
    """`count` new party codes from the company's `party.party` sequence (shared with
    `party_create`), skipping codes already in use; numbers are reserved in blocks (one counter
    update per block), not one query per party."""
    sequence_ensure(
        company=company,
        code=PARTY_SEQUENCE,
        name=str(gettext_lazy("Parties")),
        pattern=PARTY_CODE_PATTERN,
    )
    today = timezone.localdate()
    codes: list[str] = []
    while len(codes) < count:
        for code in sequence_next_many(
            company=company, code=PARTY_SEQUENCE, date=today, count=count - len(codes)
        ):
            if code not in taken:
                taken.add(code)
                codes.append(code)
    return codes


def _tags_save(
    state: _PartyState,
    wanted: list[tuple[Party, list[str]]],
    *,
    company: Company,
    actor: User | None,
) -> set[int]:
    """Give each party exactly the tags named (created when missing), writing the links in
    bulk and the audit entries django-auditlog writes for `tags.set`; returns the pks of the
    parties whose tags changed."""
    names = _tag_names(name for _party, tags in wanted for name in tags)
    tags = {t.name.casefold(): t for t in _tags_ensure(company_id=company.pk, names=names)}
    through = Party.tags.through
    links, unlinked, entries = [], [], []
    retagged: set[int] = set()
    party_type = ContentType.objects.get_for_model(Party)
    actor = _actor_or_none(actor)
    now, cid = timezone.now(), get_cid()
    for party, tag_names in wanted:
        have = state.tags.get(party.pk, {})
        want = {tags[n.casefold()].pk: tags[n.casefold()].name for n in tag_names}
        added = [pk for pk in want if pk not in have]
        removed = [pk for pk in have if pk not in want]
        links += [through(party_id=party.pk, tag_id=pk) for pk in added]
        unlinked += [have[pk][0] for pk in removed]
        for operation, objects in (
            ("add", [want[pk] for pk in added]),
            ("delete", [have[pk][1] for pk in removed]),
        ):
            if not objects:
                continue
            retagged.add(party.pk)
            entries.append(
                AuditEntry(
                    content_type=party_type,
                    object_pk=str(party.pk),
                    object_id=party.pk,
                    object_repr=str(party),
                    action=AuditEntry.Action.UPDATE,
                    changes={"tags": {"type": "m2m", "operation": operation, "objects": objects}},
                    actor=actor,
                    actor_email=getattr(actor, "email", None),
                    cid=cid,
                    additional_data=party.get_additional_data(),
                    company_id=company.pk,
                    timestamp=now,
                )
            )
    for start in range(0, len(unlinked), BATCH):
        through.objects.filter(pk__in=unlinked[start : start + BATCH]).delete()
    through.objects.bulk_create(links, batch_size=BATCH)
    AuditEntry.objects.bulk_create(entries, batch_size=BATCH)
    return retagged


def _timeline_created(parties: list[Party], *, actor: User | None) -> None:
    """The "party.created" entries `party_create` writes, in bulk."""
    now, actor = timezone.now(), _actor_or_none(actor)
    entries = []
    for party in parties:
        roles = [
            str(label)
            for flag, label in (
                (party.is_customer, gettext_lazy("customer")),
                (party.is_supplier, gettext_lazy("supplier")),
                (party.is_carrier, gettext_lazy("carrier")),
            )
            if flag
        ]
        summary = _("%(name)s created as %(roles)s") % {
            "name": party.name,
            "roles": ", ".join(roles),
        }
        if len(summary) > 255:
            summary = summary[:254] + "…"
        entries.append(
            TimelineEntry(
                company_id=party.company_id,
                party=party,
                kind="party.created",
                summary=summary,
                occurred_at=now,
                actor=actor,
            )
        )
    TimelineEntry.unscoped.bulk_create(entries, batch_size=BATCH)


# --- contacts ---------------------------------------------------------------------------------


@dataclass
class _ContactState:
    company: Company
    parties: dict[str, int]  # code -> pk of the company's parties that were not merged
    merged: dict[str, str]  # code of a merged party -> code of the party it went into
    contacts: dict[tuple[int, str], Contact]  # (party pk, lower-cased name) -> contact
    primaries: dict[int, list[Contact]]  # party pk -> its primary contacts
    primary_rows: dict[int, str] = field(default_factory=dict)  # party pk -> name in the file


class ContactImport(imports.ImportSpec):
    """The people at the parties, keyed by the party's code and the contact's name."""

    key = "contacts"
    title = gettext_lazy("Contacts")
    permission = PERMISSION
    columns = [
        Column("party", gettext_lazy("Party"), required=True, help=gettext_lazy("its code")),
        Column(
            "name",
            gettext_lazy("Name"),
            required=True,
            help=gettext_lazy("a contact of the party with this name is updated"),
        ),
        Column("role", gettext_lazy("Role")),
        Column("email", gettext_lazy("E-mail")),
        Column("phone", gettext_lazy("Phone")),
        Column("mobile", gettext_lazy("Mobile")),
        Column("wechat", gettext_lazy("WeChat ID")),
        Column(
            "preferred_channel",
            gettext_lazy("Preferred channel"),
            help=gettext_lazy("email, phone, wechat, sms or post"),
        ),
        Column("language", gettext_lazy("Language"), help=gettext_lazy("en, zh-hans or zh-hant")),
        Column(
            "is_primary",
            gettext_lazy("Primary contact"),
            help=gettext_lazy("1 makes the party's other contacts not primary"),
        ),
        Column("opt_out", gettext_lazy("No marketing"), help=gettext_lazy("1 or 0")),
        Column("active", gettext_lazy("Active"), help=gettext_lazy("1 or 0")),
    ]

    def begin(self, company: Company) -> _ContactState:
        everyone = list(
            Party.unscoped.filter(company=company).values_list("pk", "code", "merged_into_id")
        )
        codes = {pk: code for pk, code, _merged in everyone}
        contacts: dict[tuple[int, str], Contact] = {}
        primaries: dict[int, list[Contact]] = {}
        for contact in Contact.unscoped.filter(
            company=company, party__merged_into__isnull=True
        ).order_by("pk"):
            contacts.setdefault((contact.party_id, contact.name.lower()), contact)
            if contact.is_primary:
                primaries.setdefault(contact.party_id, []).append(contact)
        return _ContactState(
            company=company,
            parties={code: pk for pk, code, merged in everyone if merged is None},
            merged={code: codes.get(merged, "") for _pk, code, merged in everyone if merged},
            contacts=contacts,
            primaries=primaries,
        )

    def clean_row(self, state: _ContactState, values: dict[str, str]) -> dict[str, Any]:
        cells = Cells(values)
        code = cells.text("party", required=True)
        party_pk = state.parties.get(code) if code else None
        if code and party_pk is None:
            if code in state.merged:
                cells.error(
                    "party",
                    _("%(code)s was merged into %(survivor)s; use that code")
                    % {"code": code, "survivor": state.merged[code] or "?"},
                )
            else:
                cells.error("party", _("unknown party “%(code)s”") % {"code": code})
        name = cells.text("name", required=True)
        key = (party_pk or 0, name.lower())
        current = state.contacts.get(key)
        contact = (
            copy.copy(current)
            if current is not None
            else Contact(company=state.company, party_id=party_pk)
        )
        contact.name = name
        for attr in ("role", "email", "phone", "mobile", "wechat"):
            if attr in values:
                setattr(contact, attr, cells.text(attr))
        contact.preferred_channel = cells.choice(
            "preferred_channel", Contact.Channel, default=contact.preferred_channel
        )
        contact.language = cells.choice("language", LANGUAGES, default=contact.language)
        for flag in ("is_primary", "opt_out", "active"):
            setattr(contact, flag, cells.boolean(flag, default=getattr(contact, flag)))
        made_primary = values.get("is_primary", "").strip().lower() in imports.TRUE_WORDS
        if made_primary and party_pk is not None:
            other = state.primary_rows.get(party_pk)
            if other is not None and other.lower() != name.lower():
                cells.error(
                    "is_primary",
                    _("an earlier row already makes %(name)s the primary contact of %(party)s")
                    % {"name": other, "party": code},
                )
        errors: Errors = {name: [message] for name, message in cells.problems.items()}
        _full_clean(contact, errors, exclude=["party"])
        if errors:
            raise RowError(_problems(errors))
        if made_primary and party_pk is not None:
            state.primary_rows.setdefault(party_pk, name)
        return {
            "key": key,
            "party_id": party_pk,
            "made_primary": made_primary,
            "values": {attr: getattr(contact, attr) for attr in CONTACT_VALUES},
        }

    def row_key(self, row: dict[str, Any]) -> Hashable | None:
        return row["key"]

    def save(
        self,
        state: _ContactState,
        rows: list[dict[str, Any]],
        *,
        company: Company,
        actor: User | None,
        progress: Callable[[int], None],
    ) -> dict[str, int]:
        """A row whose `is_primary` is 1 makes the party's other contacts not primary, even
        those of rows that leave the cell empty. Demotions are written before anything else, so
        that the database never holds two primary contacts of a party
        (`party_one_primary_contact`)."""
        created: list[Contact] = []
        changes: list[tuple[Contact, Contact, set[str]]] = []
        written: set[int] = set()
        made_primary = {row["party_id"] for row in rows if row["made_primary"]}
        for number, row in enumerate(rows, start=1):
            values = row["values"]
            if row["party_id"] in made_primary and not row["made_primary"]:
                values = {**values, "is_primary": False}
            current = state.contacts.get(row["key"])
            if current is None:
                created.append(Contact(company=company, party_id=row["party_id"], **values))
            else:
                written.add(current.pk)
                changed = _changed(current, values)
                if changed:
                    contact = copy.copy(current)
                    for attr in changed:
                        setattr(contact, attr, values[attr])
                    changes.append((current, contact, changed))
            if number % BATCH == 0:
                progress(number)
        updated = len(changes)
        for party_pk in made_primary:
            for contact in state.primaries.get(party_pk, []):
                if contact.pk not in written:
                    demoted = copy.copy(contact)
                    demoted.is_primary = False
                    changes.append((contact, demoted, {"is_primary"}))
        demotions = [c for c in changes if c[0].is_primary and not c[1].is_primary]
        others = [c for c in changes if not (c[0].is_primary and not c[1].is_primary)]
        for group in (demotions, others):
            if group:
                Contact.unscoped.bulk_update(
                    [after for _before, after, _attrs in group],
                    _model_field_names(Contact, set().union(*(attrs for *_pair, attrs in group))),
                    batch_size=BATCH,
                )
        Contact.unscoped.bulk_create(created, batch_size=BATCH)
        audit_bulk(
            [
                *((before, after) for before, after, _attrs in changes),
                *((None, c) for c in created),
            ],
            actor=actor,
        )
        return {"created": len(created), "updated": updated}

    def export(self, company: Company) -> Iterable[dict[str, Any]]:
        codes = dict(Party.unscoped.filter(company=company).values_list("pk", "code"))
        contacts = Contact.unscoped.filter(company=company, party__merged_into__isnull=True)
        for contact in contacts.order_by("party__code", "name", "pk").iterator():
            yield {
                "party": codes[contact.party_id],
                **{attr: getattr(contact, attr) for attr in CONTACT_VALUES},
            }


imports.register(PartyImport())
imports.register(ContactImport())
