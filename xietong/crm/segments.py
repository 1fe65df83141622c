"""Segments: saved filters over party, order and behaviour data, evaluated live, and static
lists of parties.

A rule segment stores a small JSON list of conditions, each `{"field": …, "op": …, "value": …}`
(and `"days"` for the revenue over a period); `match` says whether all or any must hold. Only
the fields and operators of `FIELDS` exist: `rules_clean` refuses anything else with a message
naming the condition, and `rules_q` compiles the clean conditions into a queryset filter
(subqueries for order and behaviour data) — nothing is ever evaluated as code.

Fields: country, region (of an address), customer_group, tag, language, name; revenue (sum of
the untaxed amount of confirmed or done sales orders over the last `days` days), last_order
(days since the last confirmed order: `older_than` includes parties that never ordered, or
`within`), open_opportunity (true/false), email_opened / email_clicked (a campaign's e-mail,
`eq` a campaign id, or `any` campaign)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import (
    DecimalField,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.core.audit import audited
from xietong.core.models import Company, User
from xietong.crm.models import Opportunity, Recipient, Segment, SegmentMember
from xietong.party.models import Address, Party
from xietong.sales import selectors as sales_selectors

Errors = dict[str, list[str]]
MAX_CONDITIONS = 20

LIST_OPS = ("eq", "ne", "in", "not_in")
NUMBER_OPS = ("gt", "gte", "lt", "lte")


@dataclass(frozen=True)
class FieldSpec:
    label: Any
    ops: tuple[str, ...]
    value: str  # "text", "id", "number", "days", "bool", "campaign"


FIELDS: dict[str, FieldSpec] = {
    "country": FieldSpec(gettext_lazy("Country (code)"), LIST_OPS, "text"),
    "region": FieldSpec(gettext_lazy("Region of an address (code)"), ("in", "not_in"), "text"),
    "customer_group": FieldSpec(
        gettext_lazy("Customer group (id)"), (*LIST_OPS, "empty", "not_empty"), "id"
    ),
    "tag": FieldSpec(gettext_lazy("Tag (name)"), ("in", "not_in"), "text"),
    "language": FieldSpec(gettext_lazy("Language"), ("eq", "in"), "text"),
    "name": FieldSpec(gettext_lazy("Name"), ("contains",), "text"),
    "revenue": FieldSpec(gettext_lazy("Revenue over the last N days"), NUMBER_OPS, "number"),
    "last_order": FieldSpec(
        gettext_lazy("Last order (days ago)"), ("older_than", "within"), "days"
    ),
    "open_opportunity": FieldSpec(gettext_lazy("Has an open opportunity"), ("is",), "bool"),
    "email_opened": FieldSpec(gettext_lazy("Opened a campaign e-mail"), ("eq", "any"), "id"),
    "email_clicked": FieldSpec(gettext_lazy("Clicked a campaign e-mail"), ("eq", "any"), "id"),
}
OP_LABELS = {
    "eq": gettext_lazy("is"),
    "ne": gettext_lazy("is not"),
    "in": gettext_lazy("is one of"),
    "not_in": gettext_lazy("is none of"),
    "empty": gettext_lazy("is empty"),
    "not_empty": gettext_lazy("is set"),
    "contains": gettext_lazy("contains"),
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "older_than": gettext_lazy("more than N days ago (or never)"),
    "within": gettext_lazy("within the last N days"),
    "is": gettext_lazy("is"),
    "any": gettext_lazy("any campaign"),
}


# --- the rule language --------------------------------------------------------------------------


def _fail(errors: list[str], n: int, message: str) -> None:
    errors.append(_("Condition %(n)s: %(message)s") % {"n": n, "message": message})


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _clean_value(spec: FieldSpec, op: str, value: Any, n: int, errors: list[str]) -> Any:
    if op in ("empty", "not_empty", "any"):
        return None
    if spec.value == "bool":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "yes"):
            return True
        if str(value).lower() in ("false", "0", "no"):
            return False
        _fail(errors, n, _("give true or false."))
        return None
    if spec.value in ("number", "days"):
        if isinstance(value, float | bool) or value in (None, ""):
            _fail(errors, n, _("give a number (as text)."))
            return None
        try:
            number = Decimal(str(value))
        except (InvalidOperation, ValueError):
            _fail(errors, n, _("“%(value)s” is not a number.") % {"value": value})
            return None
        if not number.is_finite() or number < 0 or number >= Decimal(10) ** 15:
            _fail(errors, n, _("give a number from 0 up."))
            return None
        if spec.value == "days":
            if number != number.to_integral_value() or number > 36500:
                _fail(errors, n, _("give a whole number of days."))
                return None
            return int(number)
        return str(number)
    values = _as_list(value)
    if op in ("eq", "ne", "contains") and len(values) != 1:
        _fail(errors, n, _("give one value."))
        return None
    if not values or any(v in (None, "") or isinstance(v, dict | list) for v in values):
        _fail(errors, n, _("give at least one value."))
        return None
    if spec.value == "id":
        try:
            ids = [int(v) for v in values]
        except (TypeError, ValueError):
            _fail(errors, n, _("give record ids (whole numbers)."))
            return None
        return ids if op in ("in", "not_in") else ids[0]
    texts = [str(v).strip()[:120] for v in values]
    if op in ("in", "not_in"):
        return texts
    return texts[0]


def rules_clean(rules: Any) -> list[dict[str, Any]]:
    """The conditions of `rules` in their clean form; raises ValidationError on `rules` with
    one message per bad condition (unknown field or operator, a value of the wrong kind)."""
    errors: list[str] = []
    if rules in (None, ""):
        return []
    if not isinstance(rules, list | tuple):
        raise ValidationError({"rules": [_("Rules are a list of conditions.")]})
    if len(rules) > MAX_CONDITIONS:
        raise ValidationError(
            {"rules": [_("Use at most %(n)s conditions.") % {"n": MAX_CONDITIONS}]}
        )
    clean: list[dict[str, Any]] = []
    for n, raw in enumerate(rules, start=1):
        if not isinstance(raw, Mapping):
            _fail(errors, n, _("a condition has a field, an operator and a value."))
            continue
        unknown = set(raw) - {"field", "op", "value", "days"}
        if unknown:
            _fail(errors, n, _("unknown keys: %(keys)s.") % {"keys": ", ".join(sorted(unknown))})
            continue
        field = str(raw.get("field") or "")
        spec = FIELDS.get(field)
        if spec is None:
            _fail(errors, n, _("unknown field “%(field)s”; use one of %(fields)s.")
                  % {"field": field, "fields": ", ".join(FIELDS)})  # fmt: skip
            continue
        op = str(raw.get("op") or "")
        if op not in spec.ops:
            _fail(errors, n, _("the field “%(field)s” takes the operators %(ops)s, not “%(op)s”.")
                  % {"field": field, "ops": ", ".join(spec.ops), "op": op})  # fmt: skip
            continue
        value = _clean_value(spec, op, raw.get("value"), n, errors)
        condition: dict[str, Any] = {"field": field, "op": op, "value": value}
        if field == "revenue":
            days = _clean_value(FIELDS["last_order"], "within", raw.get("days", 365), n, errors)
            condition["days"] = days
        clean.append(condition)
    if errors:
        raise ValidationError({"rules": errors})
    return clean


def _list_q(lookup: str, op: str, value: Any) -> Q:
    if op == "eq":
        return Q(**{lookup: value})
    if op == "ne":
        return ~Q(**{lookup: value})
    if op == "in":
        return Q(**{f"{lookup}__in": value})
    return ~Q(**{f"{lookup}__in": value})


def _condition_q(condition: dict[str, Any], n: int, today: dt.date) -> tuple[Q, dict[str, Any]]:
    """The filter of one clean condition and the annotations it needs."""
    field, op, value = condition["field"], condition["op"], condition["value"]
    if field == "country":
        return _list_q("country_id", op, value), {}
    if field == "language":
        return _list_q("language", op, value), {}
    if field == "name":
        return Q(name__icontains=value), {}
    if field == "customer_group":
        if op == "empty":
            return Q(customer_group__isnull=True), {}
        if op == "not_empty":
            return Q(customer_group__isnull=False), {}
        return _list_q("customer_group_id", op, value), {}
    if field == "region":
        has = Exists(Address.unscoped.filter(party=OuterRef("pk"), active=True,
                                             region__code__in=value))  # fmt: skip
        return (Q(has) if op == "in" else ~Q(has)), {}
    if field == "tag":
        has = Exists(Party.tags.through.objects.filter(party_id=OuterRef("pk"),
                                                       tag__name__in=value))  # fmt: skip
        return (Q(has) if op == "in" else ~Q(has)), {}
    if field == "revenue":
        since = today - dt.timedelta(days=condition["days"])
        total = sales_selectors.party_won_revenue_subquery(since=since)
        name = f"seg_revenue_{n}"
        decimal = DecimalField(max_digits=19, decimal_places=4)
        annotation = {name: Coalesce(Subquery(total, output_field=decimal),
                                     Value(Decimal(0)), output_field=decimal)}  # fmt: skip
        return Q(**{f"{name}__{op}": Decimal(value)}), annotation
    if field == "last_order":
        name = f"seg_last_order_{n}"
        last = sales_selectors.party_last_order_subquery()
        cutoff = today - dt.timedelta(days=value)
        annotation = {name: Subquery(last)}
        if op == "older_than":
            return Q(**{f"{name}__lt": cutoff}) | Q(**{f"{name}__isnull": True}), annotation
        return Q(**{f"{name}__gte": cutoff}), annotation
    if field == "open_opportunity":
        has = Exists(Opportunity.unscoped.filter(party=OuterRef("pk"),
                                                 state=Opportunity.State.OPEN))  # fmt: skip
        return (Q(has) if value else ~Q(has)), {}
    # email_opened / email_clicked
    stamp = "opened_at" if field == "email_opened" else "clicked_at"
    rows = Recipient.unscoped.filter(party=OuterRef("pk"), **{f"{stamp}__isnull": False})
    if op == "eq":
        rows = rows.filter(campaign_id=value)
    return Q(Exists(rows)), {}


def rules_queryset(*, company: Company, rules: Any, match: str = "all",
                   today: dt.date | None = None) -> QuerySet[Party]:  # fmt: skip
    """The active customers of `company` the `rules` select (clean them first or get the
    ValidationError of `rules_clean`)."""
    clean = rules_clean(rules)
    today = today or timezone.localdate()
    rows = Party.unscoped.filter(company=company, is_customer=True, active=True,
                                 merged_into__isnull=True)  # fmt: skip
    annotations: dict[str, Any] = {}
    parts = []
    for n, condition in enumerate(clean, start=1):
        q, extra = _condition_q(condition, n, today)
        parts.append(q)
        annotations.update(extra)
    if annotations:
        rows = rows.annotate(**annotations)
    if parts:
        combined = parts[0]
        for q in parts[1:]:
            combined = (combined | q) if match == Segment.Match.ANY else (combined & q)
        rows = rows.filter(combined)
    return rows.order_by("name", "pk")


def segment_parties(segment: Segment, *, today: dt.date | None = None) -> QuerySet[Party]:
    """The parties of the segment now: the rules evaluated live, or the static list."""
    if segment.kind == Segment.Kind.STATIC:
        return Party.unscoped.filter(
            company_id=segment.company_id,
            pk__in=SegmentMember.unscoped.filter(segment=segment).values("party_id"),
        ).order_by("name", "pk")
    return rules_queryset(company=segment.company, rules=segment.rules, match=segment.match,
                          today=today)  # fmt: skip


def segment_preview(segment: Segment, *, limit: int = 50) -> tuple[int, list[Party]]:
    """How many parties the segment has now, and the first `limit` of them."""
    rows = segment_parties(segment)
    return rows.count(), list(rows.select_related("country", "customer_group")[:limit])


def rule_text(condition: Mapping[str, Any]) -> str:
    """A condition for people: “Revenue over the last N days ≥ 10000 (365 days)”."""
    spec = FIELDS.get(str(condition.get("field")))
    label = spec.label if spec else condition.get("field")
    op = OP_LABELS.get(str(condition.get("op")), condition.get("op"))
    value = condition.get("value")
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    text = f"{label} {op}" + ("" if value is None else f" {value}")
    if condition.get("days") is not None:
        text += " " + _("(%(days)s days)") % {"days": condition["days"]}
    return text


# --- writes -------------------------------------------------------------------------------------


def _segment_fields(segment: Segment, fields: Mapping[str, Any], errors: Errors) -> None:
    allowed = {"name", "kind", "match", "rules", "description"}
    for key in set(fields) - allowed:
        errors.setdefault(key, []).append(_("This field cannot be set here."))
    if "name" in fields:
        name = " ".join(str(fields["name"] or "").split())
        if not name:
            errors.setdefault("name", []).append(_("This field is required."))
        elif len(name) > 120:
            errors.setdefault("name", []).append(_("Use at most %(n)s characters.") % {"n": 120})
        elif (
            Segment.unscoped.filter(company_id=segment.company_id, name=name)
            .exclude(pk=segment.pk)
            .exists()
        ):
            errors.setdefault("name", []).append(_("Another segment already has this name."))
        segment.name = name
    if "kind" in fields:
        if fields["kind"] not in Segment.Kind.values:
            errors.setdefault("kind", []).append(_("Choose rules or a static list."))
        else:
            segment.kind = fields["kind"]
    if "match" in fields:
        if fields["match"] not in Segment.Match.values:
            errors.setdefault("match", []).append(_("Choose all or any."))
        else:
            segment.match = fields["match"]
    if "rules" in fields:
        try:
            segment.rules = rules_clean(fields["rules"])
        except ValidationError as exc:
            errors.setdefault("rules", []).extend(exc.message_dict["rules"])
    if "description" in fields:
        segment.description = str(fields["description"] or "")[:5000]


@audited
def segment_create(*, company: Company, actor: User | None, name: str, **fields: Any) -> Segment:
    """A segment (`fields`: kind "rules" or "static", match "all"/"any", rules, description).
    Raises ValidationError (field `rules`: one message per bad condition)."""
    errors: Errors = {}
    segment = Segment(company=company)
    _segment_fields(segment, {"name": name, **fields}, errors)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        segment.save()
    return segment


@audited
def segment_update(*, segment: Segment, actor: User | None, **fields: Any) -> Segment:
    """Change a segment's name, kind, match, rules or description. Raises ValidationError."""
    errors: Errors = {}
    draft = Segment.unscoped.get(pk=segment.pk)
    _segment_fields(draft, fields, errors)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        draft.save()
    for name in ("name", "kind", "match", "rules", "description"):
        setattr(segment, name, getattr(draft, name))
    return segment


def _parties(company_id: int, values: Iterable[Any], errors: Errors) -> list[Party]:
    keys = [getattr(v, "pk", v) for v in values]
    found: dict[Any, Party] = {}
    codes = [k for k in keys if isinstance(k, str) and not k.isdigit()]
    ids = []
    for k in keys:
        if k not in codes:
            try:
                ids.append(int(k))
            except (TypeError, ValueError):
                codes.append(str(k))
    rows = Party.unscoped.filter(company_id=company_id).filter(Q(pk__in=ids) | Q(code__in=codes))
    for party in rows:
        found[party.pk] = party
        found[party.code] = party
    missing = [str(k) for k in ids if k not in found] + [c for c in codes if c not in found]
    if missing:
        errors.setdefault("parties", []).append(
            _("Unknown parties: %(keys)s.") % {"keys": ", ".join(missing)}
        )
    return list({p.pk: p for p in found.values()}.values())


@audited
def segment_members_add(*, segment: Segment, actor: User | None, parties: Iterable[Any]
                        ) -> int:  # fmt: skip
    """Put parties (records, ids or codes of the company) on a static list; returns how many
    were added (those already on it are skipped). Raises ValidationError."""
    errors: Errors = {}
    if segment.kind != Segment.Kind.STATIC:
        errors["parties"] = [_("Only a static list has members; a rule segment is computed.")]
        raise ValidationError(errors)
    chosen = _parties(segment.company_id, parties, errors)
    if not chosen and not errors:
        errors["parties"] = [_("Choose at least one party.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        present = set(
            SegmentMember.unscoped.filter(segment=segment).values_list("party_id", flat=True)
        )
        new = [
            SegmentMember(company_id=segment.company_id, segment=segment, party=p)
            for p in chosen
            if p.pk not in present
        ]
        SegmentMember.unscoped.bulk_create(new)
    return len(new)


@audited
def segment_member_remove(*, segment: Segment, actor: User | None, party: Any) -> None:
    """Take a party off a static list (nothing happens when it is not on it)."""
    key = getattr(party, "pk", party)
    with transaction.atomic():
        SegmentMember.unscoped.filter(segment=segment, party_id=key).delete()
