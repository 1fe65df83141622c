"""Requests for quotation (RFQs): ask several suppliers for their price and lead time, record
their answers, compare them and award the best, partly or wholly, as purchase orders.

An RFQ is made from lines given by the buyer or from the open lines of approved requisitions
(one RFQ line per product and unit, with the summed quantity and the earliest need date; the
requisition lines are then `in_rfq`). Suppliers are invited (`RfqSupplier`); `rfq_send`
e-mails each invited supplier the RFQ as a PDF in its language. `bids_record` records a
supplier's answer (`RfqBid`, one per RFQ line: price, quantity offered, lead time);
`invitation_decline` a refusal to quote. `rfq_comparison` lays the bids side by side with the
suppliers' scorecards and recommends one per line. `rfq_award` gives quantities to bids, a line
possibly split between suppliers, and makes one draft purchase order per awarded supplier
(`orders.order_create`); the requisition lines behind the RFQ follow to the order lines.
`rfq_cancel` gives the requisition lines back to sourcing.

Every write service locks the RFQ row first, refuses (PurchaseError naming every bad field,
nothing written) before it writes and records each step on the suppliers' timelines (kind
"rfq")."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.documents import Rendering, file_name, mail_message, quantity_text
from xietong.core.models import Company, Currency
from xietong.core.money import minor_units
from xietong.inventory.models import Warehouse
from xietong.party.models import Contact, Party
from xietong.party.selectors import address_text, default_address
from xietong.purchase.common import (
    ZERO,
    Errors,
    PurchaseError,
    date_of,
    decimal_of,
    lines_clean,
    numbers_next,
    pk_of,
    purchase_settings,
    refusal,
    supplier_check,
    timeline,
    user_or_none,
)
from xietong.purchase.models import (
    PurchaseOrder,
    Requisition,
    RequisitionLine,
    Rfq,
    RfqBid,
    RfqLine,
    RfqSupplier,
)
from xietong.purchase.requisitions import requisitions_refresh
from xietong.purchase.scorecard import scorecards

RState = Rfq.State
IState = RfqSupplier.State
LState = RequisitionLine.State
MAX_LEAD_DAYS = 32767  # PositiveSmallIntegerField


def register() -> None:
    """Connect this module to the layers below (called from `PurchaseConfig.ready()`)."""


# --- helpers --------------------------------------------------------------------------------


def _raise(errors: Errors) -> None:
    if errors:
        raise PurchaseError(errors)


def _merge(errors: Errors, exc: ValidationError) -> None:
    """Add the messages of a refusal raised by a helper to `errors`."""
    if hasattr(exc, "error_dict"):
        for key, items in exc.error_dict.items():
            for item in items:
                errors.setdefault(key, []).extend(item.messages)
    else:
        errors.setdefault("__all__", []).extend(exc.messages)


def _locked(rfq: Rfq | int, *states: str) -> Rfq:
    """The RFQ's row, locked (not the rows it joins); refused unless in one of `states`."""
    row = (
        Rfq.unscoped.select_for_update(of=("self",))
        .select_related("company", "warehouse", "buyer")
        .get(pk=pk_of(rfq))
    )
    if states and row.state not in states:
        raise refusal(
            _("%(rfq)s is %(state)s; this is not possible now.")
            % {"rfq": row.number, "state": row.get_state_display()},
            "state",
            "state",
        )
    return row


def _suppliers_clean(company: Company, suppliers: Iterable[Any], errors: Errors) -> list[Party]:
    """The distinct suppliers of `suppliers` (parties or pks), each checked; errors under
    `suppliers.N`."""
    given = list(suppliers)
    pks = {pk_of(s) for s in given if not isinstance(s, Party)} - {None}
    loaded = Party.unscoped.in_bulk(list(pks)) if pks else {}
    found: list[Party] = []
    for n, value in enumerate(given, start=1):
        party = value if isinstance(value, Party) else loaded.get(pk_of(value) or 0)
        if supplier_check(company, party, errors, f"suppliers.{n}") and party.pk not in {
            p.pk for p in found
        }:
            found.append(party)
    return found


def _invite(rfq: Rfq, parties: Sequence[Party], actor: Any) -> list[RfqSupplier]:
    invitations = RfqSupplier.objects.bulk_create(
        RfqSupplier(rfq=rfq, supplier=party) for party in parties
    )
    for party in parties:
        timeline(party, "rfq", _("Invited to quote for %(rfq)s") % {"rfq": rfq.number},
                 actor=actor, source=rfq)  # fmt: skip
    return invitations


def _today() -> dt.date:
    return timezone.localdate()


# --- create, invite, cancel -----------------------------------------------------------------


def _requisition_groups(
    company: Company, requisition_lines: Sequence[Any], errors: Errors
) -> list[tuple[Any, list[RequisitionLine]]]:
    """The requisition lines (locked) grouped by (product, unit), in the order of their first
    line; errors under `requisition_lines.N`."""
    pks = [pk_of(value) for value in requisition_lines]
    rows = (
        RequisitionLine.objects.select_for_update(of=("self",))
        .select_related("requisition", "product", "uom")
        .in_bulk([pk for pk in pks if pk is not None])
    )
    groups: dict[tuple[int, int], list[RequisitionLine]] = {}
    seen: set[int] = set()
    for n, pk in enumerate(pks, start=1):
        key = f"requisition_lines.{n}"
        row = rows.get(pk or 0)
        if row is None or row.requisition.company_id != company.pk:
            errors.setdefault(key, []).append(_("Choose a requisition line of this company."))
            continue
        if row.pk in seen:
            continue
        seen.add(row.pk)
        if row.requisition.state != Requisition.State.APPROVED:
            errors.setdefault(key, []).append(
                _("The requisition %(number)s is not approved.")
                % {"number": row.requisition.number}
            )
        elif row.state != LState.OPEN:
            errors.setdefault(key, []).append(
                _("The line “%(line)s” of %(number)s is %(state)s, not open.")
                % {
                    "line": row.description,
                    "number": row.requisition.number,
                    "state": row.get_state_display(),
                }  # fmt: skip
            )
        elif not row.product.active:
            errors.setdefault(key, []).append(
                _("The product “%(name)s” is archived.") % {"name": row.product.name}
            )
        groups.setdefault((row.product_id, row.uom_id), []).append(row)
    return list(groups.items())


@audited
def rfq_create(
    *,
    company: Company,
    actor: Any,
    lines: Sequence[Mapping[str, Any]] = (),
    requisition_lines: Sequence[Any] = (),
    suppliers: Iterable[Any] = (),
    answer_by: dt.date | None = None,
    warehouse: Warehouse | None = None,
    currency: Any = None,
    notes: str = "",
) -> Rfq:
    """A draft RFQ of `lines` (dicts of product, quantity, uom, need_date, description; see
    `common.lines_clean`) and of `requisition_lines` (RequisitionLine rows or pks, open lines
    of approved requisitions of `company`), these consolidated into one RFQ line per product
    and unit (summed quantity, earliest need date) and set `in_rfq` with their RFQ line.
    `suppliers` (parties or pks) are invited; `answer_by` defaults to today + the settings'
    `rfq_answer_days`, `warehouse` to the settings', `currency` to the company's.

    Locks the requisition lines. Raises PurchaseError (nothing written) naming every bad
    field: no line, a product or supplier of another company, a party that is not an active
    supplier, a requisition line not open or of a requisition not approved. Writes an "rfq"
    timeline entry on each invited supplier."""
    errors: Errors = {}
    settings = purchase_settings(company)
    today = _today()
    warehouse = warehouse or settings.warehouse
    if warehouse is None:
        errors["warehouse"] = [_("Set up a warehouse to receive in first.")]
    elif not isinstance(warehouse, Warehouse) or warehouse.company_id != company.pk:
        errors["warehouse"] = [_("Choose a warehouse of this company.")]
    currency_code = getattr(currency, "code", currency) or company.base_currency_id
    if not Currency.objects.filter(pk=currency_code).exists():
        errors["currency"] = [_("“%(code)s” is not a currency.") % {"code": currency_code}]
    answer_by = date_of(answer_by, errors, "answer_by",
                        default=today + dt.timedelta(days=settings.rfq_answer_days))  # fmt: skip
    if answer_by < today:
        errors.setdefault("answer_by", []).append(_("Give a date from today on."))
    parties = _suppliers_clean(company, suppliers, errors)
    if not lines and not requisition_lines:
        errors.setdefault("lines", []).append(_("Add at least one line."))
    data = []
    if lines:
        try:
            data = lines_clean(company=company, lines=lines, supplier=None,
                               currency=currency_code, date=today, default_tax=None,
                               priced=False)  # fmt: skip
        except PurchaseError as exc:
            _merge(errors, exc)
    with transaction.atomic():
        groups = _requisition_groups(company, requisition_lines, errors)
        _raise(errors)
        rfq = Rfq(company=company, date=today, answer_by=answer_by, warehouse=warehouse,
                  buyer=user_or_none(actor), currency_id=currency_code,
                  notes=str(notes or ""))  # fmt: skip
        rfq.number = numbers_next(company, "purchase.rfq", today)[0]
        rfq.save()
        new = [
            RfqLine(rfq=rfq, product=line.product, description=line.description,
                    quantity=line.quantity, uom=line.uom, need_date=line.need_date)
            for line in data
        ]  # fmt: skip
        for _key, rows in groups:
            first = rows[0]
            new.append(
                RfqLine(
                    rfq=rfq,
                    product=first.product,
                    description=first.description if len(rows) == 1 else first.product.name,
                    quantity=sum((row.quantity for row in rows), ZERO),
                    uom=first.uom,
                    need_date=min(row.need_date for row in rows),
                )
            )
        for n, line in enumerate(new, start=1):
            line.sequence = n
        made = RfqLine.objects.bulk_create(new)
        changed = []
        for line, (_key, rows) in zip(made[len(data) :], groups, strict=True):
            for row in rows:
                row.rfq_line, row.state = line, LState.IN_RFQ
                changed.append(row)
        RequisitionLine.objects.bulk_update(changed, ["rfq_line", "state"])
        _invite(rfq, parties, actor)
    return rfq


@audited
def rfq_invite(*, rfq: Rfq, suppliers: Iterable[Any], actor: Any) -> list[RfqSupplier]:
    """Invite more suppliers to a draft or sent RFQ (those invited already are skipped);
    returns the new invitations. Locks the RFQ. Refused (PurchaseError) for a party that is not
    an active supplier of the RFQ's company or an RFQ awarded or cancelled."""
    with transaction.atomic():
        row = _locked(rfq, RState.DRAFT, RState.SENT)
        errors: Errors = {}
        parties = _suppliers_clean(row.company, suppliers, errors)
        _raise(errors)
        invited = set(RfqSupplier.objects.filter(rfq=row).values_list("supplier_id", flat=True))
        return _invite(row, [p for p in parties if p.pk not in invited], actor)


@audited
def rfq_cancel(*, rfq: Rfq, actor: Any) -> Rfq:
    """Cancel a draft or sent RFQ: its requisition lines go back to `open` (their RFQ line
    cleared) and the suppliers it was sent to see it on their timeline. Locks the RFQ."""
    with transaction.atomic():
        row = _locked(rfq, RState.DRAFT, RState.SENT)
        RequisitionLine.objects.filter(rfq_line__rfq=row, state=LState.IN_RFQ).update(
            state=LState.OPEN, rfq_line=None
        )
        row.state = RState.CANCELLED
        row.save(update_fields=["state"])
        told = (
            RfqSupplier.objects.filter(rfq=row)
            .exclude(state=IState.INVITED)
            .select_related("supplier")
        )
        for invitation in told:
            timeline(invitation.supplier, "rfq", _("%(rfq)s cancelled") % {"rfq": row.number},
                     actor=actor, source=row)  # fmt: skip
    return row


# --- PDF and sending ------------------------------------------------------------------------


def rfq_rendering(
    *, rfq: Rfq, invitation: RfqSupplier, contact: Contact | None = None
) -> Rendering:
    """The RFQ as one supplier receives it, in the supplier's language."""
    row = Rfq.unscoped.select_related("company", "warehouse", "buyer").get(pk=rfq.pk)
    supplier = invitation.supplier
    language = supplier.language or None
    rows = list(row.lines.select_related("product", "uom").order_by("sequence", "pk"))
    buyer = row.buyer
    with translation.override(language or translation.get_language()):
        address = default_address(party=supplier)
        context = {
            "company": row.company,
            "rfq": row,
            "party": supplier,
            "contact": contact,
            "supplier_address": address_text(address) if address else "",
            "warehouse": row.warehouse,
            "buyer": (buyer.get_full_name() or buyer.username) if buyer else "",
            "buyer_email": buyer.email if buyer else "",
            "currency": row.currency_id,
            "lines": [
                {
                    "number": n,
                    "description": line.description,
                    "sku": line.product.sku,
                    "quantity": quantity_text(line.quantity),
                    "uom": line.uom.code,
                    "need_date": line.need_date,
                }
                for n, line in enumerate(rows, start=1)
            ],
        }
    return Rendering("purchase/pdf/rfq.html", context, language)


def rfq_pdf(*, rfq: Rfq, invitation: RfqSupplier) -> bytes:
    """The RFQ as a PDF for one invited supplier, in its language: number, dates, the answer
    date, the warehouse to deliver to, and the lines with quantities and need dates, with
    room for the supplier's price and lead time."""
    return rfq_rendering(rfq=rfq, invitation=invitation).pdf()


def _addresses(invitations: Sequence[RfqSupplier]) -> dict[int, tuple[str, Contact | None]]:
    """Per invitation pk: the e-mail address to send to (the supplier's, else its first active
    contact's with one) and the contact to greet (one query)."""
    contacts: dict[int, list[Contact]] = defaultdict(list)
    for contact in Contact.unscoped.filter(
        party_id__in=[i.supplier_id for i in invitations], active=True
    ).order_by("party_id", "-is_primary", "pk"):
        contacts[contact.party_id].append(contact)
    found = {}
    for invitation in invitations:
        people = contacts[invitation.supplier_id]
        with_mail = [c for c in people if c.email]
        if invitation.supplier.email:
            found[invitation.pk] = (invitation.supplier.email, people[0] if people else None)
        elif with_mail:
            found[invitation.pk] = (with_mail[0].email, with_mail[0])
        else:
            found[invitation.pk] = ("", None)
    return found


@audited
def rfq_send(*, rfq: Rfq, actor: Any, suppliers: Iterable[Any] | None = None) -> Rfq:
    """E-mail the RFQ, one message with its PDF (`<number>.pdf`) per invited supplier in the
    supplier's language, to the supplier's address, else its first contact's: to every
    invitation not sent yet, or to `suppliers` (parties or pks, invited already; sent again
    when sent before). The invitations become `sent`, the RFQ `sent`; a timeline entry on each
    supplier. Locks the RFQ.

    Refused (PurchaseError, nothing written, nothing sent) for an RFQ awarded or cancelled, a
    supplier not invited, nobody left to send to and suppliers without an e-mail address
    (all named). The mail server's errors propagate and then nothing is written."""
    with transaction.atomic():
        row = _locked(rfq, RState.DRAFT, RState.SENT)
        invitations = list(RfqSupplier.objects.filter(rfq=row).select_related("supplier"))
        errors: Errors = {}
        if suppliers is None:
            chosen = [i for i in invitations if i.state == IState.INVITED]
        else:
            by_party = {i.supplier_id: i for i in invitations}
            chosen = []
            for n, value in enumerate(suppliers, start=1):
                invitation = by_party.get(pk_of(value) or 0)
                if invitation is None:
                    errors.setdefault(f"suppliers.{n}", []).append(
                        _("“%(name)s” is not invited to this RFQ.") % {"name": value}
                    )
                elif invitation not in chosen:
                    chosen.append(invitation)
        if not chosen and not errors:
            errors["suppliers"] = [_("There is no invited supplier left to send the RFQ to.")]
        addresses = _addresses(chosen)
        for invitation in chosen:
            address = addresses[invitation.pk][0]
            if not address:
                errors.setdefault("suppliers", []).append(
                    _("The supplier “%(name)s” has no e-mail address.")
                    % {"name": invitation.supplier.name}
                )
                continue
            try:
                validate_email(address)
            except ValidationError:
                errors.setdefault("suppliers", []).append(
                    _("“%(address)s” of “%(name)s” is not an e-mail address.")
                    % {"address": address, "name": invitation.supplier.name}
                )
        _raise(errors)
        now = timezone.now()
        for invitation in chosen:
            invitation.state, invitation.sent_at = IState.SENT, now
        RfqSupplier.objects.bulk_update(chosen, ["state", "sent_at"])
        row.state = RState.SENT
        row.sent_at = row.sent_at or now
        row.save(update_fields=["state", "sent_at"])
        messages = []
        for invitation in chosen:
            address, contact = addresses[invitation.pk]
            timeline(invitation.supplier, "rfq", _("%(rfq)s sent to %(to)s")
                     % {"rfq": row.number, "to": address}, actor=actor,
                     source=row)  # fmt: skip
            rendering = rfq_rendering(rfq=row, invitation=invitation, contact=contact)
            messages.append(_message(rendering=rendering, to=address,
                                     attachment=file_name(row.number), actor=actor))  # fmt: skip
        for message in messages:  # all rendered first: a template error sends nothing
            message.send(fail_silently=False)
    return row


def _message(*, rendering: Rendering, to: str, attachment: str, actor: Any) -> EmailMessage:
    """The e-mail of one supplier (subject and body from `purchase/email/rfq_*.txt` in the
    supplier's language) with the PDF attached."""
    context = {**rendering.context,
               "sender": getattr(actor, "get_full_name", lambda: "")() or ""}  # fmt: skip
    return mail_message(templates="purchase/email/rfq", context=context,
                        language=rendering.language, to=[to], attachment=attachment,
                        pdf=rendering.pdf(), reply_to=[context.get("buyer_email") or "",
                                                       getattr(actor, "email", "")])  # fmt: skip


# --- answers --------------------------------------------------------------------------------


def _invitation_locked(invitation: RfqSupplier | int) -> tuple[Rfq, RfqSupplier]:
    """The invitation's RFQ (locked, draft or sent) and the invitation."""
    found = RfqSupplier.objects.only("rfq_id").get(pk=pk_of(invitation))
    row = _locked(found.rfq_id, RState.DRAFT, RState.SENT)
    return row, RfqSupplier.objects.select_related("supplier").get(pk=found.pk)


@audited
def bids_record(
    *,
    invitation: RfqSupplier,
    actor: Any,
    bids: Sequence[Mapping[str, Any]],
    reference: str = "",
    valid_until: dt.date | None = None,
) -> RfqSupplier:
    """Record a supplier's answer: `bids` are dicts of `line` (RfqLine or pk, of this RFQ),
    `unit_price`, `quantity` (default the line's) and `lead_time_days` (default 0); they
    replace the invitation's earlier bids. The invitation becomes `answered` (answered_at now)
    with the supplier's `reference` and `valid_until`. Locks the RFQ.

    Refused (PurchaseError, nothing written, naming every bad field `bids.N.x`) once the RFQ is
    awarded or cancelled, without bids (record a decline instead), for a line of another RFQ,
    a line given twice, a negative price, a quantity not above zero or a bad lead time. A
    timeline entry on the supplier."""
    with transaction.atomic():
        row, found = _invitation_locked(invitation)
        lines = {line.pk: line for line in RfqLine.objects.filter(rfq=row)}
        errors: Errors = {}
        if not bids:
            errors["bids"] = [_("Give at least one price, or record that the supplier declined.")]
        new: list[RfqBid] = []
        seen: set[int] = set()
        for n, raw in enumerate(bids, start=1):
            key = f"bids.{n}"
            line = lines.get(pk_of(raw.get("line")) or 0)
            if line is None:
                errors.setdefault(f"{key}.line", []).append(_("Choose a line of this RFQ."))
                continue
            if line.pk in seen:
                errors.setdefault(f"{key}.line", []).append(
                    _("The line “%(line)s” is given twice.") % {"line": line.description}
                )
                continue
            seen.add(line.pk)
            price = decimal_of(raw.get("unit_price"), errors, f"{key}.unit_price", minimum=ZERO)
            quantity = decimal_of(raw.get("quantity"), errors, f"{key}.quantity",
                                  default=line.quantity, positive=True)  # fmt: skip
            lead = decimal_of(raw.get("lead_time_days"), errors, f"{key}.lead_time_days",
                              default=ZERO, minimum=ZERO)  # fmt: skip
            if lead != lead.to_integral_value() or lead > MAX_LEAD_DAYS:
                errors.setdefault(f"{key}.lead_time_days", []).append(
                    _("Give a whole number of days.")
                )
                lead = ZERO
            new.append(RfqBid(invitation=found, line=line, unit_price=price, quantity=quantity,
                              lead_time_days=int(lead)))  # fmt: skip
        if valid_until not in (None, ""):
            valid_until = date_of(valid_until, errors, "valid_until")
        _raise(errors)
        RfqBid.objects.filter(invitation=found).delete()
        RfqBid.objects.bulk_create(new)
        found.state, found.answered_at = IState.ANSWERED, timezone.now()
        found.reference = str(reference or "")[:80]
        found.valid_until = valid_until or None
        found.save(update_fields=["state", "answered_at", "reference", "valid_until"])
        timeline(found.supplier, "rfq", _("Answered %(rfq)s: %(count)s prices")
                 % {"rfq": row.number, "count": len(new)}, actor=actor, source=row)  # fmt: skip
    return found


@audited
def invitation_decline(*, invitation: RfqSupplier, actor: Any, reason: str = "") -> RfqSupplier:
    """Record that the supplier does not quote: the invitation becomes `declined` (answered_at
    now, `reason` in its notes) and its bids are dropped. Locks the RFQ; refused once the RFQ
    is awarded or cancelled. A timeline entry on the supplier."""
    with transaction.atomic():
        row, found = _invitation_locked(invitation)
        RfqBid.objects.filter(invitation=found).delete()
        found.state, found.answered_at = IState.DECLINED, timezone.now()
        found.notes = str(reason or "")
        found.save(update_fields=["state", "answered_at", "notes"])
        timeline(found.supplier, "rfq", _("Declined to quote for %(rfq)s") % {"rfq": row.number},
                 actor=actor, source=row)  # fmt: skip
    return found


# --- comparison -----------------------------------------------------------------------------


@dataclass
class BidRow:
    """One supplier's bid for an RFQ line, as compared."""

    bid: RfqBid
    supplier: Party
    unit_price: Decimal
    quantity: Decimal
    total: Decimal
    lead_time_days: int
    promised_date: dt.date
    late: bool
    covers: bool  # offers the whole line quantity
    score: Decimal | None  # the supplier's overall scorecard score, None without history
    awarded_quantity: Decimal
    cheapest: bool = False
    fastest: bool = False
    best_score: bool = False
    recommended: bool = False


@dataclass
class LineComparison:
    """An RFQ line and its bids, cheapest first."""

    line: RfqLine
    bids: list[BidRow] = field(default_factory=list)
    recommended: BidRow | None = None

    @property
    def awarded(self) -> Decimal:
        return sum((b.awarded_quantity for b in self.bids), ZERO)


def rfq_comparison(*, rfq: Rfq) -> list[LineComparison]:
    """Per RFQ line (in order), every bid of a supplier that answered: unit price, total,
    lead time, promised date (RFQ date + lead time) against the line's need date (`late`),
    the supplier's overall scorecard score; marks on the cheapest, fastest and best-scored
    bids (all that tie) and a recommended one: the cheapest on time, ties broken by the
    better score, then the shorter lead time; when no bid is on time, the earliest promised,
    ties by price. Reads only (a fixed number of queries, whatever the number of bids)."""
    row = Rfq.unscoped.select_related("company").get(pk=rfq.pk)
    places = minor_units(row.currency_id)
    lines = list(row.lines.select_related("product", "uom").order_by("sequence", "pk"))
    bids = list(
        RfqBid.objects.filter(line__rfq=row, invitation__state=IState.ANSWERED)
        .select_related("invitation__supplier")
        .order_by("unit_price", "lead_time_days", "pk")
    )
    cards = scorecards(company=row.company, suppliers=list({b.invitation.supplier for b in bids}))
    out = {line.pk: LineComparison(line=line) for line in lines}
    for bid in bids:
        line = out[bid.line_id].line
        promised = row.date + dt.timedelta(days=bid.lead_time_days)
        card = cards.get(bid.invitation.supplier_id)
        out[bid.line_id].bids.append(
            BidRow(
                bid=bid,
                supplier=bid.invitation.supplier,
                unit_price=bid.unit_price,
                quantity=bid.quantity,
                total=(bid.unit_price * bid.quantity).quantize(Decimal(1).scaleb(-places)),
                lead_time_days=bid.lead_time_days,
                promised_date=promised,
                late=promised > line.need_date,
                covers=bid.quantity >= line.quantity,
                score=card.overall if card is not None else None,
                awarded_quantity=bid.awarded_quantity,
            )
        )
    for compared in out.values():
        _mark(compared)
    return list(out.values())


def _mark(compared: LineComparison) -> None:
    rows = compared.bids
    if not rows:
        return
    cheapest = min(r.unit_price for r in rows)
    fastest = min(r.lead_time_days for r in rows)
    scores = [r.score for r in rows if r.score is not None]
    best = max(scores) if scores else None
    for r in rows:
        r.cheapest = r.unit_price == cheapest
        r.fastest = r.lead_time_days == fastest
        r.best_score = best is not None and r.score == best

    def score(r: BidRow) -> Decimal:
        return r.score if r.score is not None else Decimal(-1)

    on_time = [r for r in rows if not r.late]
    if on_time:
        pick = min(on_time, key=lambda r: (r.unit_price, -score(r), r.lead_time_days, r.bid.pk))
    else:
        pick = min(rows, key=lambda r: (r.promised_date, r.unit_price, -score(r), r.bid.pk))
    pick.recommended = True
    compared.recommended = pick


# --- award ----------------------------------------------------------------------------------


@audited
def rfq_award(*, rfq: Rfq, actor: Any, awards: Sequence[tuple[Any, Any]]) -> list[PurchaseOrder]:
    """Award quantities to bids and make one draft purchase order per awarded supplier.

    `awards` are (bid or bid pk, quantity) pairs; a line may be split between suppliers. Each
    order (through `orders.order_create`, currency, warehouse and buyer the RFQ's, the
    supplier's quotation reference) has one line per awarded bid: the awarded quantity at the
    bid's price, the RFQ line's unit, description and need date. Each bid gets its
    `awarded_quantity` and `order_line`; the requisition lines behind an RFQ line follow to the
    order line of its first award (`ordered`); those of lines awarded nothing go back to `open`
    (RFQ line cleared) to be sourced again. The RFQ becomes `awarded`; a timeline entry on each
    awarded supplier. Returns the orders, in the order of their suppliers' first award.

    Locks the RFQ. Refused (PurchaseError, nothing written, naming every bad `awards.N`) for
    an RFQ not draft or sent, no award, a bid of another RFQ, a supplier that declined or did
    not answer, a quantity not above zero, above the bid's offered quantity, or (summed per
    line) above the line's quantity; and for whatever `order_create` refuses."""
    from xietong.purchase.orders import order_create  # on use: orders is written in parallel

    with transaction.atomic():
        row = _locked(rfq, RState.DRAFT, RState.SENT)
        bids = {
            b.pk: b
            for b in RfqBid.objects.filter(line__rfq=row).select_related(
                "invitation__supplier", "line__product", "line__uom"
            )
        }
        errors: Errors = {}
        if not awards:
            errors["awards"] = [_("Award at least one bid.")]
        given: dict[int, Decimal] = {}
        first_key: dict[int, str] = {}
        for n, pair in enumerate(awards, start=1):
            key = f"awards.{n}"
            try:
                value, amount = pair
            except (TypeError, ValueError):
                errors.setdefault(key, []).append(_("Give a bid and a quantity."))
                continue
            bid = bids.get(pk_of(value) or 0)
            if bid is None:
                errors.setdefault(f"{key}.bid", []).append(_("Choose a bid of this RFQ."))
                continue
            if bid.invitation.state != IState.ANSWERED:
                errors.setdefault(f"{key}.bid", []).append(
                    _("“%(name)s” did not answer this RFQ (%(state)s); only answers are awarded.")
                    % {
                        "name": bid.invitation.supplier.name,
                        "state": bid.invitation.get_state_display(),
                    }  # fmt: skip
                )
                continue
            quantity = decimal_of(amount, errors, f"{key}.quantity", positive=True)
            given[bid.pk] = given.get(bid.pk, ZERO) + quantity
            first_key.setdefault(bid.pk, key)
        per_line: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for pk, quantity in given.items():
            bid = bids[pk]
            per_line[bid.line_id] += quantity
            if quantity > bid.quantity:
                errors.setdefault(f"{first_key[pk]}.quantity", []).append(
                    _("“%(name)s” offered only %(offered)s %(unit)s of “%(line)s”.")
                    % {
                        "name": bid.invitation.supplier.name,
                        "offered": quantity_text(bid.quantity),
                        "unit": bid.line.uom.code,
                        "line": bid.line.description,
                    }  # fmt: skip
                )
        for pk in given:
            line = bids[pk].line
            if per_line[line.pk] > line.quantity:
                errors.setdefault(f"{first_key[pk]}.quantity", []).append(
                    _("%(awarded)s %(unit)s awarded for “%(line)s”, which asks for %(asked)s.")
                    % {
                        "awarded": quantity_text(per_line[line.pk]),
                        "unit": line.uom.code,
                        "line": line.description,
                        "asked": quantity_text(line.quantity),
                    }  # fmt: skip
                )
        _raise(errors)

        requisitions: dict[int, list[RequisitionLine]] = defaultdict(list)
        for req in RequisitionLine.objects.select_for_update(of=("self",)).filter(
            rfq_line__rfq=row, state=LState.IN_RFQ
        ):
            requisitions[req.rfq_line_id].append(req)
        by_supplier: dict[int, list[RfqBid]] = {}
        first_bid: dict[int, int] = {}  # RFQ line pk → its first awarded bid
        for pk in given:  # the order of the awards
            by_supplier.setdefault(bids[pk].invitation.supplier_id, []).append(bids[pk])
            first_bid.setdefault(bids[pk].line_id, pk)
        orders = []
        for supplier_bids in by_supplier.values():
            invitation = supplier_bids[0].invitation
            order_lines = []
            for bid in supplier_bids:
                line = bid.line
                reqs = requisitions.get(line.pk, []) if first_bid[line.pk] == bid.pk else []
                order_lines.append(
                    {
                        "product": line.product,
                        "quantity": given[bid.pk],
                        "uom": line.uom,
                        "unit_price": bid.unit_price,
                        "discount": ZERO,
                        "description": line.description,
                        "need_date": line.need_date,
                        "requisition_lines": reqs,
                    }
                )
            order = order_create(
                company=row.company, actor=actor, party=invitation.supplier, lines=order_lines,
                currency=row.currency_id, warehouse=row.warehouse, buyer=row.buyer or
                user_or_none(actor), rfq=row, supplier_reference=invitation.reference,
            )  # fmt: skip
            for bid, order_line in zip(
                supplier_bids, order.lines.order_by("sequence", "pk"), strict=True
            ):
                bid.awarded_quantity, bid.order_line = given[bid.pk], order_line
            orders.append(order)
            timeline(invitation.supplier, "rfq", _("Awarded %(rfq)s: order %(order)s")
                     % {"rfq": row.number, "order": order.number}, actor=actor,
                     source=row)  # fmt: skip
        RfqBid.objects.bulk_update([bids[pk] for pk in given], ["awarded_quantity", "order_line"])
        RequisitionLine.objects.filter(rfq_line__rfq=row, state=LState.IN_RFQ).exclude(
            rfq_line_id__in=list(first_bid)
        ).update(state=LState.OPEN, rfq_line=None)
        row.state, row.awarded_at = RState.AWARDED, timezone.now()
        row.save(update_fields=["state", "awarded_at"])
        requisitions_refresh(requisition_ids=list(
            RequisitionLine.objects.filter(rfq_line__rfq=row).values_list("requisition_id",
                                                                          flat=True)))  # fmt: skip
    return orders
