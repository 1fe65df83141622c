"""Leads imported from a CSV (UTF-8) or XLSX file, all or nothing.

Columns (the first row names them, in any order; only `name` is required): name,
company_name, email, phone, country (ISO 3166 code: CN), region (its ISO code, CN-SH, or the
part after the country, SH), campaign (the code or name of a marketing campaign), description.
Other columns are listed as ignored.

`lead_import_check` reads the file and checks every row without writing anything: each problem
names the row's line in the file and its column. It also finds the duplicates: a row whose
e-mail address is already a lead's, a customer's or a contact's, or an earlier row's.
`lead_import` checks again and then creates every lead in one transaction (source "import",
owner chosen by the team's assignment strategy); duplicates are refused ("report", the
default: they are listed as problems), left out ("skip") or imported too ("import").

A file is at most `MAX_BYTES` and `MAX_ROWS` rows, so that one request can check and save it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.core.audit import audit_bulk, audited
from xietong.core.imports import Cells, Column, ImportFileError, ImportSpec, Problem, read_table
from xietong.core.models import Company, User
from xietong.crm.assignment import Place, assignees_choose
from xietong.crm.campaign_selectors import campaign_for_code
from xietong.crm.models import Lead, SalesTeam
from xietong.party.models import Contact, Country, Party, Region

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
BATCH = 500
DUPLICATE_MODES = ("report", "skip", "import")


class _Spec(ImportSpec):
    """What `core.imports.read_table` needs: the columns."""

    key = "crm_leads"
    columns = [
        Column("name", gettext_lazy("Contact name"), required=True),
        Column("company_name", gettext_lazy("Company name")),
        Column("email", gettext_lazy("E-mail")),
        Column("phone", gettext_lazy("Phone")),
        Column("country", gettext_lazy("Country (ISO code)")),
        Column("region", gettext_lazy("Region (code)")),
        Column("campaign", gettext_lazy("Campaign (code or name)")),
        Column("description", gettext_lazy("Description")),
    ]


SPEC = _Spec()
COLUMNS = [c.name for c in SPEC.columns]


@dataclass
class LeadRow:
    line: int
    values: dict[str, Any]
    duplicate: str = ""  # why the row looks like an existing lead or party ("" when it does not)


@dataclass
class LeadImportPreview:
    total: int
    rows: list[LeadRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> list[LeadRow]:
        return [row for row in self.rows if row.duplicate]


@dataclass
class LeadImportResult:
    leads: list[Lead]
    skipped: list[LeadRow]


class LeadImportError(ValidationError):
    """The file cannot be imported: `problems` lists each row's line, column and reason (line 0
    and no column: the file as a whole). Nothing was saved."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__([str(p) if p.line else p.message for p in problems] or [""])


def _table(data: bytes, filename: str) -> Any:
    if len(data) > MAX_BYTES:
        raise ImportFileError(_("The file is larger than %(size)s MB; split it into smaller files.")
                              % {"size": MAX_BYTES // (1024 * 1024)})  # fmt: skip
    name = filename.lower()
    if not name.endswith((".csv", ".xlsx")):
        raise ImportFileError(_("Upload a CSV or an XLSX file."))
    table = read_table(data, filename, SPEC)
    if len(table.rows) > MAX_ROWS:
        raise ImportFileError(
            _("The file has %(count)s rows; at most %(max)s can be imported at once.")
            % {"count": len(table.rows), "max": MAX_ROWS}
        )
    return table


class _Lookups:
    """What checking a row needs, loaded once per file."""

    def __init__(self, company: Company) -> None:
        self.company = company
        self.countries = set(Country.objects.values_list("code", flat=True))
        self.regions: dict[tuple[str, str], int] = {}
        self.region_codes: dict[str, list[tuple[str, int]]] = {}
        for pk, country, code in Region.objects.values_list("pk", "country_id", "code"):
            self.regions[(country, code.upper())] = pk
            self.region_codes.setdefault(code.upper(), []).append((country, pk))
        self.campaigns: dict[str, int | None] = {}

    def campaign(self, text: str) -> int | None:
        key = text.strip()
        if key not in self.campaigns:
            self.campaigns[key] = campaign_for_code(self.company.pk, key)
        return self.campaigns[key]

    def region(self, cells: Cells, country: str) -> tuple[int | None, str]:
        raw = cells.values.get("region", "").strip().upper()
        if not raw:
            return None, country
        if country:
            pk = self.regions.get((country, raw)) or self.regions.get((country, f"{country}-{raw}"))
            if pk is None:
                cells.error("region", _("unknown region “%(value)s” of %(country)s")
                            % {"value": raw, "country": country})  # fmt: skip
            return pk, country
        found = self.region_codes.get(raw, [])
        if len(found) != 1:
            cells.error("region", _("unknown region “%(value)s”; give its ISO code (CN-SH) or the "
                                    "country") % {"value": raw})  # fmt: skip
            return None, country
        return found[0][1], found[0][0]


def _clean(lookups: _Lookups, values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    cells = Cells(values)
    row: dict[str, Any] = {
        "name": cells.text("name", required=True, max_length=120),
        "company_name": cells.text("company_name", max_length=200),
        "email": cells.text("email", max_length=254).lower(),
        "phone": cells.text("phone", max_length=40),
        "description": cells.text("description", max_length=10_000),
    }
    if row["email"]:
        try:
            validate_email(row["email"])
        except ValidationError:
            cells.error(
                "email", _("“%(value)s” is not an e-mail address") % {"value": row["email"]}
            )
    if not (row["email"] or row["phone"] or row["company_name"]):
        cells.error("email", _("give an e-mail address, a phone number or a company name"))
    country = cells.text("country").upper()
    if country and country not in lookups.countries:
        cells.error("country", _("unknown country code “%(value)s”") % {"value": country})
        country = ""
    row["region"], country = lookups.region(cells, country)
    row["country"] = country or None
    campaign = cells.text("campaign", max_length=120)
    if campaign and lookups.campaign(campaign) is None:
        cells.error("campaign", _("no campaign has the code or name “%(value)s”")
                    % {"value": campaign})  # fmt: skip
    row["campaign"] = campaign
    row["marketing_campaign"] = lookups.campaign(campaign) if campaign else None
    return row, cells.problems


def _known_emails(company: Company, emails: set[str]) -> dict[str, str]:
    """The rows' e-mail addresses that are already a lead's, party's or contact's → why."""
    known: dict[str, str] = {}
    if not emails:
        return known
    for email, name in (Lead.unscoped.filter(company=company).annotate(low=Lower("email"))
                        .filter(low__in=emails).values_list("low", "name")):  # fmt: skip
        known.setdefault(email, _("the lead %(name)s has this e-mail") % {"name": name})
    for email, name in (Party.unscoped.filter(company=company).annotate(low=Lower("email"))
                        .filter(low__in=emails).values_list("low", "name")):  # fmt: skip
        known.setdefault(email, _("the customer %(name)s has this e-mail") % {"name": name})
    for email, name, party in (Contact.unscoped.filter(company=company)
                               .annotate(low=Lower("email")).filter(low__in=emails)
                               .values_list("low", "name", "party__name")):  # fmt: skip
        known.setdefault(email, _("%(name)s, contact of %(party)s, has this e-mail")
                         % {"name": name, "party": party})  # fmt: skip
    return known


def _team(company: Company, value: Any) -> SalesTeam | None:
    if value in (None, ""):
        return None
    try:
        team = SalesTeam.unscoped.filter(company=company, pk=getattr(value, "pk", value)).first()
    except (TypeError, ValueError):
        team = None
    if team is None:
        raise ValidationError({"team": [_("Choose a valid sales team of your company.")]})
    return team


def lead_import_check(*, company: Company, data: bytes, filename: str) -> LeadImportPreview:
    """Read and check the file (nothing is written): the clean rows, with the duplicates marked,
    and every problem (line, column, reason). Raises ImportFileError when the file as a whole
    cannot be used (type, size, encoding, no `name` column, no rows, too many rows)."""
    table = _table(data, filename)
    lookups = _Lookups(company)
    preview = LeadImportPreview(total=len(table.rows),
                                ignored_columns=[h for h in table.header if h and h not in COLUMNS])  # fmt: skip
    for line, values in table.rows:
        row, problems = _clean(lookups, values)
        if problems:
            preview.problems.extend(Problem(line, column, message)
                                    for column, message in problems.items())  # fmt: skip
        else:
            preview.rows.append(LeadRow(line=line, values=row))
    known = _known_emails(company, {r.values["email"] for r in preview.rows if r.values["email"]})
    first: dict[str, int] = {}
    for row in preview.rows:
        email = row.values["email"]
        if not email:
            continue
        if email in known:
            row.duplicate = known[email]
        elif email in first:
            row.duplicate = _("row %(line)s has this e-mail") % {"line": first[email]}
        first.setdefault(email, row.line)
    return preview


@audited
def lead_import(*, company: Company, actor: User | None, data: bytes, filename: str,
                team: Any = None, duplicates: str = "report") -> LeadImportResult:  # fmt: skip
    """Check the file (`lead_import_check`) and create all its leads in one transaction:
    source "import", of `team`, each owner chosen by the team's assignment strategy
    (`assignees_choose`: the batch spreads over the team as if created one by one), written in
    bulk with their audit entries (`audit_bulk`). `duplicates`: "report" refuses the file when
    any row is a duplicate, "skip" leaves those rows out, "import" creates them too.

    Raises LeadImportError listing every problem (nothing saved), ImportFileError for a file
    that cannot be read, ValidationError for a bad `team` or `duplicates`."""
    if duplicates not in DUPLICATE_MODES:
        raise ValidationError({"duplicates": [_("Choose how to treat duplicates.")]})
    preview = lead_import_check(company=company, data=data, filename=filename)
    problems = list(preview.problems)
    if duplicates == "report":
        problems.extend(Problem(row.line, "email", _("duplicate: %(why)s") % {"why": row.duplicate})
                        for row in preview.duplicates)  # fmt: skip
    if problems:
        raise LeadImportError(sorted(problems, key=lambda p: (p.line, p.column)))
    keep = [row for row in preview.rows if duplicates == "import" or not row.duplicate]
    skipped = [row for row in preview.rows if row.duplicate and duplicates == "skip"]
    sales_team = _team(company, team)
    leads = [
        Lead(company=company, source=Lead.Source.IMPORT, team=sales_team,
             marketing_campaign_id=row.values["marketing_campaign"],
             country_id=row.values["country"], region_id=row.values["region"],
             **{k: row.values[k] for k in ("name", "company_name", "email", "phone", "campaign",
                                           "description")})
        for row in keep
    ]  # fmt: skip
    with transaction.atomic():
        if sales_team is not None:
            places = [Place(lead.country_id, lead.region_id) for lead in leads]
            for lead, decision in zip(leads, assignees_choose(team=sales_team, places=places),
                                      strict=True):  # fmt: skip
                lead.owner_id = decision.user_id
        created = Lead.unscoped.bulk_create(leads, batch_size=BATCH)
        if any(lead.pk is None for lead in created):  # a backend that returns no ids
            raise RuntimeError("bulk_create returned no primary keys")
        audit_bulk(((None, lead) for lead in created), actor=actor)
    return LeadImportResult(leads=leads, skipped=skipped)
