"""Perpetual stock valuation: every done move that brings stock into or takes it out of the
company's stock locations leaves a valuation layer and is booked to the ledger at once.

Configuration (`valuation_setup`): a `CategoryValuation` row per product category (the nearest
category up the tree that has one applies) or the company default (no category) gives the
costing method (moving average or FIFO), the accounts and the stock journal. A company with
neither a row nor a chart of accounts keeps stock in quantities only; a company with a chart
but no row gets the default row (average cost, accounts picked from its chart) on its first
valued move.

Valuing (`moves_value`, called by `stock.moves_done` in its transaction): only stockable
products are valued (consumables and services never are), and only moves that cross the
boundary of the company's stock (`Location.is_stock`: internal or transit):

- in (non-stock → stock): a layer of +quantity at the move's unit cost when it has one, else
  a returned delivery's own cost (the move's `previous` delivery), else the current cost
  (average: stock value / quantity; FIFO: the last receipt's cost; then the standard cost);
  Dr stock / Cr counterpart. The product's `average_cost` becomes the stock's value /
  quantity after the receipt (the receipt's cost when the stock was empty or negative), with
  a cost history record (`CostRecord`), as `product_average_cost_update` would write them —
  but under the no-key lock below, since that service's FOR UPDATE deadlocks against a
  concurrent quant insert (which takes FOR KEY SHARE on the product).
- out (stock → non-stock): a layer of −quantity valued at the moving average (the whole stock
  value when the move empties the stock, so that no residue is left) or, for FIFO, taken from
  the oldest open layers (`remaining_qty/remaining_value`; locked in primary-key order,
  consumed by date then id; the last unit of a layer takes all its remaining value);
  Dr counterpart / Cr stock.
- internal (stock → stock) and outside moves (supplier → customer): nothing.
- counterpart by the other location's usage: supplier → input (received not invoiced),
  customer → output (cost of sales), inventory/scrap → loss, production → production (work in
  progress), anything else → input.
- negative stock (where a location allows it): what is taken beyond the stock is valued at the
  last known cost; the next receipt revalues it at its own cost with a zero-quantity
  adjustment layer against the output account (average: the negative units are brought to the
  receipt's cost; FIFO: the receipt first fills the negative layers, oldest first).

Entries: one entry per call, journal and date (lines per account and product, netted), in
the company currency, `source_type` "inventory.move" and `source_id` the first move's id; each
layer points at its entry. Moves are never written (done moves are immutable): a move's value
is the sum of its layers (`move_values`).

Locks: the products' rows FOR NO KEY UPDATE in primary-key order (this serialises the
valuation of a product without conflicting with the FOR KEY SHARE a concurrent quant, move or
layer insert takes on it), then FIFO open layers, then the journal (`entry_post`).

Added value (`moves_add_value`: landed costs such as freight and duties): zero-quantity
layers on done receipts carrying the value added to the units still in stock (average: the
new stock value / quantity on hand becomes the average cost; FIFO: the receipt layer's
remaining value grows), the value for the units already gone booked to the output account.

Stock value (`stock_value`): Σ layers dated up to a day, by product; by location, the quantity
there on that day (today's quants less the done moves after that day) × the product's unit
value then. It equals the stock accounts' balance on that day, since each layer is booked on
its own date to its stock account.

Backdated moves and the correction (`product_revalue`, job "inventory.revalue"): a move done
with an effective date before the product's latest layer is valued at once with today's cost
and booked on its own date; the costs of the outgoing moves after it should have changed. On
commit a background job is queued for (product, date) (one queued job per product and
earliest date; the job is idempotent, so overlapping jobs are harmless). The job, in one
transaction holding the product row lock (the same lock `moves_value` takes, so no move of the
product is valued meanwhile):

1. builds the state just before the date: average — Σ quantity and Σ value of the layers dated
   before it (one aggregate query); FIFO — the receipts still open on that date, which are the
   latest ones whose quantities cover the stock then (read newest first, stopping there);
2. walks the layers dated on or after the date in (date, id) order, `batch_size` at a time by
   keyset pagination (so it reads only the later layers and its cost grows with them):
   receipts keep their booked value (a purchase cost is a fact), outgoing layers are valued
   again by the same engine as `moves_value`, zero-quantity layers (adjustments, earlier
   corrections) are replaced by what the engine produces;
3. correction = stock value recomputed − stock value booked; when not zero, ONE entry dated
   today, Dr/Cr stock against the output account, and a zero-quantity layer of that value; no
   posted entry is ever rewritten. FIFO: the open quantities and values of the layers are set
   to the recomputed queue. Average: the product's average cost is set to the recomputed one.

The correction therefore equals the difference between the booked outgoing values and those
the moves would have had in date order. Receipts without their own cost keep the cost they
were valued at. Unit costs are in the company currency.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core import jobs
from xietong.core.audit import audited
from xietong.core.models import Company, Job, User
from xietong.core.money import minor_units
from xietong.finance.models import (
    Account,
    AccountSubtype,
    AccountType,
    Entry,
    FinanceSettings,
    Journal,
)
from xietong.finance.posting import EntrySpec, LineSpec, entry_post, quantize
from xietong.inventory.models import (
    CategoryValuation,
    Location,
    Move,
    Picking,
    Quant,
    ValuationLayer,
    ValuationTotal,
)
from xietong.inventory.stock import refusal
from xietong.inventory.warehouses import internal_locations_below
from xietong.product.models import Category, CostRecord, Product

ZERO = Decimal(0)
COST = Decimal("0.000001")
QTY = Decimal("0.000001")
VALUE = Decimal("0.0001")
Method = CategoryValuation.Method
Usage = Location.Usage
SOURCE = "inventory.move"
REVALUE_SOURCE = "inventory.revalue"
JOB_KIND = "inventory.revalue"
BATCH = 1000
STOCK_USAGES = (Usage.INTERNAL, Usage.TRANSIT)
ACCOUNT_FIELDS = (
    "stock_account",
    "input_account",
    "output_account",
    "loss_account",
    "production_account",
)

# Codes tried first for each account (a group code stands for its first leaf below it), by
# chart template; then the fallbacks of `_default_accounts`.
CANDIDATES: dict[str, dict[str, tuple[str, ...]]] = {
    "cn": {
        "stock_account": ("1405",),
        "input_account": ("1402",),  # 在途物资: received, supplier's invoice not yet booked
        "output_account": ("6401",),
        "loss_account": ("6711", "660208", "6602"),
        "production_account": ("5001",),
    },
    "ifrs": {
        "stock_account": ("1230",),
        "input_account": ("1240",),  # goods in transit
        "output_account": ("5100",),
        "loss_account": ("6800",),
        "production_account": ("1220",),
    },
}


# --- setup -----------------------------------------------------------------------------------


def _leaf(company: Company, code: str) -> Account | None:
    """The active postable account `code`, or the first one below it when it is a group."""
    found = (
        Account.unscoped.filter(company=company, active=True, is_group=False)
        .filter(Q(code=code) | Q(code__startswith=code))
        .order_by("code")
    )
    exact = next((a for a in found if a.code == code), None)
    return exact or found.first()


def _default_accounts(company: Company) -> dict[str, Any]:
    """Accounts and journal picked from the company's chart (see `valuation_setup`)."""
    settings = (
        FinanceSettings.unscoped.select_related("payable_account", "expense_account")
        .filter(company=company)
        .first()
    )
    chart = (settings.chart if settings else "") or "cn"
    codes = CANDIDATES.get(chart, CANDIDATES["cn"])
    leaves = Account.unscoped.filter(company=company, active=True, is_group=False)
    stock_journal = (
        Journal.unscoped.filter(company=company, kind=Journal.Kind.STOCK, active=True)
        .select_related("account")
        .order_by("code")
        .first()
    )
    found: dict[str, Any] = {}
    for name, tried in codes.items():
        for code in tried:
            account = _leaf(company, code)
            if account is not None:
                found[name] = account
                break
    if stock_journal is not None and stock_journal.account and not stock_journal.account.is_group:
        found["stock_account"] = stock_journal.account
    fallbacks = {
        "stock_account": lambda: leaves.filter(subtype=AccountSubtype.STOCK).order_by("code"),
        "input_account": lambda: [settings.payable_account] if settings else [],
        "output_account": lambda: leaves.filter(subtype=AccountSubtype.COST_OF_SALES).order_by(
            "code"
        ),
        "loss_account": lambda: [settings.expense_account] if settings else [],
        "production_account": lambda: [settings.expense_account] if settings else [],
    }
    for name, candidates in fallbacks.items():
        if found.get(name) is None:
            found[name] = next((a for a in candidates() if a is not None), None)
    if found.get("loss_account") is None:
        found["loss_account"] = leaves.filter(type=AccountType.EXPENSE).order_by("code").first()
    if found.get("production_account") is None:
        found["production_account"] = found["loss_account"]
    journal = stock_journal
    if journal is None and settings is not None and settings.general_journal_id:
        journal = Journal.unscoped.get(pk=settings.general_journal_id)
    if journal is None:
        journal = (
            Journal.unscoped.filter(company=company, kind=Journal.Kind.GENERAL, active=True)
            .order_by("code")
            .first()
        )
    found["journal"] = journal
    return found


def _stock_held_conflicts(
    company: Company, category: Category | None, method: str, stock_account_id: int
) -> list[int]:
    """Products holding stock (or stock value) whose costing method or stock account would
    change if `category`'s row (the default's when None) became (method, stock account)."""
    rows = (
        ValuationLayer.unscoped.filter(company=company)
        .values("product_id")
        .annotate(q=Sum("quantity"), v=Sum("value"))
        .order_by()
    )
    held = [r["product_id"] for r in rows if r["q"] or r["v"]]
    if not held:
        return []
    before = _Resolver(company)
    after = _Resolver(company)
    after.rows[category.pk if category is not None else None] = CategoryValuation(
        company=company, category=category, method=method, stock_account_id=stock_account_id
    )

    def key(row: CategoryValuation | None) -> tuple[str, int] | None:
        return (row.method, row.stock_account_id) if row is not None else None

    products = Product.unscoped.filter(pk__in=held).only("pk", "category_id")
    return [
        p.pk for p in products if key(before.row(p.category_id)) != key(after.row(p.category_id))
    ]


@audited
def valuation_setup(
    *,
    company: Company,
    actor: Any = None,
    method: str = Method.AVERAGE,
    category: Category | None = None,
    stock_account: Account | None = None,
    input_account: Account | None = None,
    output_account: Account | None = None,
    loss_account: Account | None = None,
    production_account: Account | None = None,
    journal: Journal | None = None,
) -> CategoryValuation:
    """Create or update how `category`'s products (the company default when None) are valued.

    Accounts left out keep their current value; a new category row takes the company
    default's; otherwise they are picked from the chart:
    stock — the stock journal's account, else 1405 (CN) / 1230 (IFRS), else the first
    stock-subtype leaf; input (goods received, supplier invoice not yet booked) — 1402 在途物资
    (CN) / 1240 (IFRS), else the company's payable account; output — 6401 / 5100, else the first
    cost-of-sales leaf; loss — 6711 营业外支出, else 660208 or a leaf of 6602 (CN) / 6800 (IFRS),
    else the purchase expense account; production — the first leaf of 5001 生产成本 (CN) / 1220
    (IFRS), else the expense account; journal — the stock journal (STK), else the general one.

    Raises ValidationError (nothing written) for an unknown method, records of another company,
    a group, archived or missing account, a stock account that is also a counterpart, and a
    change of the method or stock account of products holding stock (a new category row
    included). Locks the company's rows.
    """
    errors: dict[str, list[str]] = defaultdict(list)
    if method not in Method.values:
        errors["method"].append(_("“%(method)s” is not a costing method.") % {"method": method})
    if category is not None and category.company_id != company.pk:
        errors["category"].append(_("The category belongs to another company."))
    given = {
        "stock_account": stock_account,
        "input_account": input_account,
        "output_account": output_account,
        "loss_account": loss_account,
        "production_account": production_account,
        "journal": journal,
    }
    if errors:
        raise ValidationError(dict(errors))
    with transaction.atomic():
        rows = CategoryValuation.unscoped.select_for_update().filter(company=company)
        existing = (
            rows.filter(category__isnull=True).first()
            if category is None
            else rows.filter(category=category).first()
        )
        base = existing
        if base is None and category is not None:  # a new category row starts from the default
            base = rows.filter(category__isnull=True).first()
        chosen: dict[str, Any] = {}
        defaults: dict[str, Any] | None = None
        for name, value in given.items():
            if value is None and base is not None:
                value = getattr(base, name)
            if value is None:
                defaults = defaults if defaults is not None else _default_accounts(company)
                value = defaults.get(name)
            chosen[name] = value
        for name, value in chosen.items():
            label = CategoryValuation._meta.get_field(name).verbose_name
            if value is None:
                errors[name].append(
                    _("No %(what)s found in the chart of accounts; choose one.") % {"what": label}
                )
            elif value.company_id != company.pk:
                errors[name].append(_("%(what)s belongs to another company.") % {"what": value})
            elif not value.active:
                errors[name].append(_("%(what)s is archived.") % {"what": value})
            elif name != "journal" and value.is_group:
                errors[name].append(
                    _("%(what)s is a group account; choose one of its sub-accounts.")
                    % {"what": value}
                )
        stock = chosen["stock_account"]
        if stock is not None and not errors.get("stock_account"):
            if stock.type != AccountType.ASSET:
                errors["stock_account"].append(
                    _("The stock account %(account)s is not an asset account.") % {"account": stock}
                )
            for name in ACCOUNT_FIELDS[1:]:
                if chosen[name] is not None and chosen[name].pk == stock.pk:
                    errors[name].append(
                        _("The stock account %(account)s cannot also be the counterpart.")
                        % {"account": stock}
                    )
        if errors:
            raise ValidationError(dict(errors))
        if existing is None or (existing.method, existing.stock_account_id) != (method, stock.pk):
            held = _stock_held_conflicts(company, category, method, stock.pk)
            if held:
                raise ValidationError(
                    _(
                        "%(count)s products valued this way still hold stock; the costing method "
                        "and the stock account can only change when they have none."
                    )
                    % {"count": len(held)},
                    code="stock_held",
                )
        row = existing or CategoryValuation(company=company, category=category)
        row.method = method
        for name, value in chosen.items():
            setattr(row, name, value)
        row.save()
    return row


class _Resolver:
    """Which valuation row applies to a category: its own, else the nearest ancestor's, else
    the company default."""

    def __init__(self, company: Company) -> None:
        self.company = company
        self.rows = {
            row.category_id: row
            for row in CategoryValuation.unscoped.filter(company=company).select_related(
                "stock_account",
                "input_account",
                "output_account",
                "loss_account",
                "production_account",
                "journal",
            )
        }
        self._parents: dict[int, int | None] | None = None

    def parents(self) -> dict[int, int | None]:
        if self._parents is None:
            self._parents = dict(
                Category.unscoped.filter(company=self.company).values_list("id", "parent_id")
            )
        return self._parents

    def row(self, category_id: int | None) -> CategoryValuation | None:
        seen = set()
        while category_id is not None and category_id not in seen:
            if category_id in self.rows:
                return self.rows[category_id]
            seen.add(category_id)
            category_id = self.parents().get(category_id)
        return self.rows.get(None)


def _resolver(company: Company, actor: Any) -> _Resolver | None:
    """The company's valuation rows, creating the default from its chart when it has a chart
    but no default yet; None when the company keeps no books (stock is then not valued)."""
    resolver = _Resolver(company)
    if None in resolver.rows:
        return resolver
    if not resolver.rows and not FinanceSettings.unscoped.filter(company=company).exists():
        return None
    try:
        with transaction.atomic():
            valuation_setup(company=company, actor=actor)
    except IntegrityError:  # set up meanwhile by another transaction
        pass
    except ValidationError as exc:
        raise refusal(
            _("Stock valuation of %(company)s is not set up: %(problem)s"),
            "valuation_not_configured",
            company=company,
            problem="; ".join(exc.messages),
        ) from exc
    return _Resolver(company)


# --- the costing engines (shared by moves_value and the correction) ------------------------


class _Average:
    """Moving average: the stock's quantity and value; `cost` is the last known unit cost
    (used when nothing is in stock)."""

    def __init__(self, quantity: Decimal, value: Decimal, cost: Decimal, rnd: Callable) -> None:
        self.q, self.v, self.rnd = quantity, value, rnd
        self.cost = value / quantity if quantity > 0 else cost

    def unit_cost(self) -> Decimal:
        return self.v / self.q if self.q > 0 else self.cost

    def take(self, key: Any, qty: Decimal) -> Decimal:
        """Value of `qty` leaving the stock (positive)."""
        if self.q > 0:
            self.cost = self.v / self.q
            if qty < self.q:
                value = self.rnd(qty * self.v / self.q)
            else:  # empties the stock: all its value, and the rest at the average
                value = self.v + self.rnd((qty - self.q) * self.cost)
        else:
            value = self.rnd(qty * self.cost)
        self.q -= qty
        self.v -= value
        return value

    def put(self, key: Any, qty: Decimal, value: Decimal) -> Decimal:
        """Add a receipt; returns the adjustment (revaluing negative or emptied stock to the
        receipt's cost)."""
        cost = value / qty
        adjustment = ZERO
        if self.q <= 0:
            adjustment = self.rnd(self.q * cost) - self.v
        self.q += qty
        self.v += value + adjustment
        self.cost = self.v / self.q if self.q > 0 else cost
        return adjustment

    def total(self) -> Decimal:
        return self.v


class _Fifo:
    """FIFO: the open receipts `[key, remaining qty, remaining value]` oldest first, and the
    outgoing layers that took more than the stock (negative remaining) waiting for a receipt.
    `touched` keeps every entry changed, by id(key) or key."""

    def __init__(self, entries: Iterable[list], cost: Decimal, rnd: Callable) -> None:
        self.queue: deque[list] = deque()
        self.neg: deque[list] = deque()
        for entry in entries:
            (self.queue if entry[1] > 0 else self.neg).append(entry)
        self.cost, self.rnd = cost, rnd
        self.touched: dict[Any, list] = {}

    def _touch(self, entry: list) -> None:
        key = entry[0]
        self.touched[key if isinstance(key, int | type(None)) else id(key)] = entry

    def unit_cost(self) -> Decimal:
        return self.cost

    def take(self, key: Any, qty: Decimal) -> Decimal:
        value = ZERO
        while qty > 0 and self.queue:
            entry = self.queue[0]
            if qty >= entry[1]:
                taken, part = entry[1], entry[2]
                entry[1], entry[2] = ZERO, ZERO
                self.queue.popleft()
            else:
                taken, part = qty, self.rnd(qty * entry[2] / entry[1])
                entry[1] -= taken
                entry[2] -= part
            self._touch(entry)
            value += part
            qty -= taken
        if qty > 0:
            short = self.rnd(qty * self.cost)
            value += short
            entry = [key, -qty, -short]
            self.neg.append(entry)
            self._touch(entry)
        return value

    def put(self, key: Any, qty: Decimal, value: Decimal) -> Decimal:
        self.cost = value / qty
        rq, rv, adjustment = qty, value, ZERO
        while rq > 0 and self.neg:
            entry = self.neg[0]
            need = -entry[1]
            fill = min(need, rq)
            if fill == need:
                estimated = -entry[2]
                entry[1], entry[2] = ZERO, ZERO
                self.neg.popleft()
            else:
                estimated = self.rnd(fill * entry[2] / entry[1])
                entry[1] += fill
                entry[2] += estimated
            real = rv if fill == rq else self.rnd(fill * rv / rq)
            rq -= fill
            rv -= real
            adjustment += estimated - real
            self._touch(entry)
        entry = [key, rq, rv]
        if rq > 0:
            self.queue.append(entry)
        self._touch(entry)
        return adjustment

    def total(self) -> Decimal:
        return sum((e[2] for e in self.queue), ZERO) + sum((e[2] for e in self.neg), ZERO)


# --- valuing moves ---------------------------------------------------------------------------


def _counterpart(row: CategoryValuation, usage: str) -> Account:
    if usage == Usage.CUSTOMER:
        return row.output_account
    if usage in (Usage.INVENTORY, Usage.SCRAP):
        return row.loss_account
    if usage == Usage.PRODUCTION:
        return row.production_account
    return row.input_account


@dataclass
class _Booking:
    """Lines of one entry being built: signed amounts by (account, product)."""

    journal: Journal
    date: dt.date
    amounts: dict[tuple[int, int], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    accounts: dict[int, Account] = field(default_factory=dict)
    products: dict[int, Product] = field(default_factory=dict)
    layers: list[ValuationLayer] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)

    def add(self, account: Account, product: Product, amount: Decimal) -> None:
        self.accounts[account.pk] = account
        self.products[product.pk] = product
        self.amounts[(account.pk, product.pk)] += amount


def _post(company: Company, booking: _Booking, *, ref: str, source_type: str,
          source_id: int | None, actor: Any) -> Any:  # fmt: skip
    lines = []
    for (account_id, product_id), amount in sorted(booking.amounts.items()):
        if not amount:
            continue
        product = booking.products[product_id]
        lines.append(
            LineSpec(
                account=booking.accounts[account_id],
                debit=amount if amount > 0 else ZERO,
                credit=-amount if amount < 0 else ZERO,
                label=str(product)[:200],
                product=product,
            )
        )
    if not lines:
        return None
    spec = EntrySpec(
        journal=booking.journal,
        date=booking.date,
        lines=lines,
        ref=ref[:120],
        source_type=source_type,
        source_id=source_id,
    )
    return entry_post(company=company, spec=spec, actor=actor)


def _user(actor: Any) -> User | None:
    return actor if isinstance(actor, User) and actor.pk else None


@audited
def moves_value(
    *, moves: Sequence[Move], actor: Any = None, just_done: bool = False
) -> list[ValuationLayer]:
    """Value done moves: layers, the products' average cost and the ledger entries (see the
    module docstring). Moves already valued, not done, of consumables, or not crossing the
    stock boundary are skipped. Locks the products' rows in primary-key order, then (FIFO) their
    open layers in primary-key order, then the journal (`entry_post`). Raises StockError when
    valuation is not set up or a unit cost is negative, PostingError when the ledger refuses
    the entry (closed period…); nothing is written then. Returns the layers created.

    `just_done`: the moves were done a moment ago in the caller's transaction
    (`stock.moves_done`) and are passed as it holds them, locations and company read: they
    are not read again, and the caller's transaction is the only one (no savepoint)."""
    ids = sorted({m.pk for m in moves if m.pk})
    if not ids:
        return []
    with transaction.atomic(savepoint=not just_done):
        if just_done:
            rows = sorted(
                {m.pk: m for m in moves if m.pk and m.state == Move.State.DONE}.values(),
                key=lambda m: m.pk,
            )
        else:
            rows = list(
                Move.unscoped.filter(pk__in=ids, state=Move.State.DONE)
                .exclude(pk__in=ValuationLayer.unscoped.filter(move_id__in=ids).values("move_id"))
                .select_related("company", "from_location", "to_location", "picking")
                .order_by("pk")
            )
        created: list[ValuationLayer] = []
        by_company: dict[int, list[Move]] = defaultdict(list)
        for move in rows:
            if move.from_location.is_stock != move.to_location.is_stock:
                by_company[move.company_id].append(move)
        for company_moves in by_company.values():
            created += _company_value(company_moves[0].company, company_moves, actor)
    return created


def _company_value(company: Company, moves: list[Move], actor: Any) -> list[ValuationLayer]:
    # the products locked, with the running totals of their layers (read under that lock)
    products = {
        p.pk: p
        for p in Product.unscoped.select_for_update(no_key=True, of=("self",))
        .filter(pk__in=sorted({m.product_id for m in moves}), type=Product.Type.STOCKABLE)
        .select_related("valuation_total")
        .order_by("pk")
    }
    # (a product without a total yet raises RelatedObjectDoesNotExist, an AttributeError)
    totals = {
        pid: p.valuation_total for pid, p in products.items() if hasattr(p, "valuation_total")
    }
    moves = [m for m in moves if m.product_id in products]
    if not moves:
        return []
    resolver = _resolver(company, actor)
    if resolver is None:
        return []
    currency = company.base_currency_id

    def rnd(amount: Decimal) -> Decimal:
        return quantize(amount, currency)

    pids = sorted(products)
    config = {pid: resolver.row(products[pid].category_id) for pid in pids}
    last_date = {pid: t.last_date for pid, t in totals.items() if t.last_date is not None}
    returned = {}
    previous_ids = [m.previous_id for m in moves if m.previous_id and m.unit_cost is None]
    if previous_ids:
        returned = {
            layer.move_id: layer.unit_cost
            for layer in ValuationLayer.unscoped.filter(
                move_id__in=previous_ids, quantity__lt=0
            ).order_by("pk")
        }
    engines: dict[int, _Average | _Fifo] = {}
    fifo_pids = [pid for pid in pids if config[pid].method == Method.FIFO]
    avg_pids = [pid for pid in pids if config[pid].method != Method.FIFO]
    for pid in avg_pids:  # the stock's quantity and value: Σ of the product's layers
        product, total = products[pid], totals.get(pid)
        engines[pid] = _Average(
            (total.quantity if total else ZERO).quantize(QTY),
            rnd(total.value if total else ZERO),
            product.average_cost or product.standard_cost,
            rnd,
        )
    if fifo_pids:
        entries: dict[int, list[list]] = defaultdict(list)
        for layer in (
            ValuationLayer.unscoped.select_for_update()
            .filter(company=company, product_id__in=fifo_pids)
            .filter(Q(remaining_qty__gt=0) | Q(remaining_qty__lt=0))
            .order_by("pk")
        ):
            entries[layer.product_id].append([layer, layer.remaining_qty, layer.remaining_value])
        for found in entries.values():  # locked in pk order, consumed in date order
            found.sort(key=lambda e: (e[0].date, e[0].pk))
        for pid in fifo_pids:
            product, total = products[pid], totals.get(pid)
            last = total.last_in_cost if total else None  # the last receipt's cost
            cost = last if last is not None else (product.standard_cost or product.average_cost)
            engines[pid] = _Fifo(entries[pid], cost, rnd)
    bookings: dict[tuple[int, dt.date], _Booking] = {}
    created: list[ValuationLayer] = []
    receipts: list[tuple[Product, Decimal, dt.date, str]] = []
    backdated: dict[int, dt.date] = {}
    for move in moves:
        product, row = products[move.product_id], config[move.product_id]
        engine = engines[move.product_id]
        day = move.effective_date or timezone.localdate()
        incoming = move.to_location.is_stock
        other = move.from_location if incoming else move.to_location
        qty = move.quantity_base
        key = (row.journal_id, day)
        booking = bookings.get(key)
        if booking is None:
            booking = bookings[key] = _Booking(journal=row.journal, date=day)
        booking.moves.append(move)
        counterpart = _counterpart(row, other.usage)
        description = f"{move.from_location} → {move.to_location}"[:200]
        if incoming:
            if move.unit_cost is not None:
                cost = move.unit_cost
            elif move.previous_id in returned:
                cost = returned[move.previous_id]
            else:
                cost = engine.unit_cost()
            if cost < 0:
                raise refusal(_("The unit cost of %(product)s cannot be negative."),
                            "negative_cost", product=product)  # fmt: skip
            value = rnd(qty * cost)
            layer = ValuationLayer(
                company=company, product=product, move=move, date=day, quantity=qty,
                unit_cost=Decimal(cost).quantize(COST), value=value, description=description,
            )  # fmt: skip
            before = _quantity(engine)
            adjustment = engine.put(layer, qty, value)
            after = _quantity(engine)
            average = engine.total() / after if after > 0 else Decimal(cost)
            reason = _("Receipt of %(qty)s at %(cost)s (on hand %(on_hand)s)") % {
                "qty": _plain(qty), "cost": _plain(Decimal(cost)), "on_hand": _plain(before)
            }  # fmt: skip
            receipts.append((product, average, day, reason))
            booking.add(row.stock_account, product, value)
            booking.add(counterpart, product, -value)
            created.append(layer)
            booking.layers.append(layer)
            if adjustment:
                extra = ValuationLayer(
                    company=company, product=product, move=move, date=day, quantity=ZERO,
                    unit_cost=ZERO, value=adjustment,
                    description=_("Negative stock revalued at the receipt's cost")[:200],
                )  # fmt: skip
                booking.add(row.stock_account, product, adjustment)
                booking.add(row.output_account, product, -adjustment)
                created.append(extra)
                booking.layers.append(extra)
        else:
            layer = ValuationLayer(
                company=company, product=product, move=move, date=day, quantity=-qty,
                description=description,
            )  # fmt: skip
            value = engine.take(layer, qty)
            layer.unit_cost, layer.value = (value / qty).quantize(COST), -value
            booking.add(row.stock_account, product, -value)
            booking.add(counterpart, product, value)
            created.append(layer)
            booking.layers.append(layer)
        previous_last = last_date.get(product.pk)
        if previous_last is not None and day < previous_last:
            backdated[product.pk] = min(day, backdated.get(product.pk, day))
    # FIFO: what is left of each layer
    for engine in engines.values():
        if isinstance(engine, _Fifo):
            for entry in engine.touched.values():
                layer = entry[0]
                layer.remaining_qty, layer.remaining_value = entry[1], entry[2]
    numbers = _picking_numbers(moves)
    for (_journal, _day), booking in sorted(bookings.items(), key=lambda kv: kv[0][1]):
        refs = sorted({numbers.get(m.picking_id) or m.origin for m in booking.moves} - {""})
        entry = _post(
            company,
            booking,
            ref=", ".join(refs) or _("Stock valuation"),
            source_type=SOURCE,
            source_id=booking.moves[0].pk,
            actor=actor,
        )
        for layer in booking.layers:
            layer.entry = entry
    ValuationLayer.unscoped.bulk_create(created)
    _totals_add(company, created, totals)
    changed = [
        entry[0]
        for engine in engines.values()
        if isinstance(engine, _Fifo)
        for entry in engine.touched.values()
        if entry[0].pk
    ]
    if changed:
        ValuationLayer.unscoped.bulk_update(changed, ["remaining_qty", "remaining_value"])
    for product, average, day, reason in receipts:
        _average_cost_set(product, average, min(day, timezone.localdate()), reason)
    for pid, day in backdated.items():
        revalue_schedule(product=products[pid], from_date=day, actor=actor)
    return created


def _picking_numbers(moves: Iterable[Move]) -> dict[int, str]:
    """The numbers of the moves' pickings, by picking id (read once for those not loaded)."""
    numbers: dict[int, str] = {}
    missing = set()
    for move in moves:
        if move.picking_id and move.picking_id not in numbers:
            if Move.picking.is_cached(move):
                numbers[move.picking_id] = move.picking.number
            else:
                missing.add(move.picking_id)
    if missing - set(numbers):
        numbers.update(
            Picking.unscoped.filter(pk__in=sorted(missing - set(numbers))).values_list(
                "pk", "number"
            )
        )
    return numbers


def _totals(company: Company, product_ids: Sequence[int]) -> dict[int, ValuationTotal]:
    """The running totals of the products' layers (`ValuationTotal`), by product id."""
    return {
        total.product_id: total
        for total in ValuationTotal.unscoped.filter(company=company, product_id__in=product_ids)
    }


def _totals_add(
    company: Company,
    layers: Sequence[ValuationLayer],
    totals: dict[int, ValuationTotal] | None = None,
) -> None:
    """Add layers just written (in the order they were created) to their products' running
    totals, in one upsert; `totals` are the totals as read before (updated in place). The
    products' rows are locked by the caller, so nobody else writes their totals meanwhile."""
    if not layers:
        return
    if totals is None:
        totals = _totals(company, sorted({layer.product_id for layer in layers}))
    touched: dict[int, ValuationTotal] = {}
    for layer in layers:
        total = totals.get(layer.product_id)
        if total is None:
            total = totals[layer.product_id] = ValuationTotal(
                company_id=company.pk, product_id=layer.product_id
            )
        total.quantity += layer.quantity
        total.value += layer.value
        if total.last_date is None or layer.date > total.last_date:
            total.last_date = layer.date
        if layer.quantity > 0:
            total.last_in_cost = layer.unit_cost
        touched[layer.product_id] = total
    ValuationTotal.unscoped.bulk_create(
        [
            ValuationTotal(
                company_id=company.pk,
                product_id=pid,
                quantity=total.quantity,
                value=total.value,
                last_date=total.last_date,
                last_in_cost=total.last_in_cost,
            )
            for pid, total in sorted(touched.items())
        ],
        update_conflicts=True,
        unique_fields=["product"],
        update_fields=["quantity", "value", "last_date", "last_in_cost"],
    )


def _quantity(engine: _Average | _Fifo) -> Decimal:
    if isinstance(engine, _Average):
        return engine.q
    return sum((e[1] for e in engine.queue), ZERO) + sum((e[1] for e in engine.neg), ZERO)


def _plain(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


def _average_cost_set(product: Product, average: Decimal, day: dt.date, reason: str) -> None:
    """Set the product's moving average cost and record it in its cost history (the product
    row is locked by the caller)."""
    average = Decimal(average).quantize(COST, rounding=ROUND_HALF_UP)
    if average < 0:
        return
    product.average_cost = average
    product.save(update_fields=["average_cost"])  # an UPDATE takes a no-key lock only
    CostRecord.unscoped.create(
        company_id=product.company_id,
        product=product,
        kind=CostRecord.Kind.AVERAGE,
        date=day,
        cost=average,
        reason=reason[:120],
    )


def move_values(*, moves: Sequence[Move]) -> dict[int, tuple[Decimal, Decimal]]:
    """(quantity, value) each move added to (positive) or took from (negative) the stock, by
    move id, from its layers (adjustments included); moves not valued are missing."""
    rows = (
        ValuationLayer.unscoped.filter(move_id__in=[m.pk for m in moves])
        .values("move_id")
        .annotate(q=Sum("quantity"), v=Sum("value"))
        .order_by()
    )
    return {
        r["move_id"]: (Decimal(r["q"]).quantize(QTY), Decimal(r["v"]).quantize(VALUE)) for r in rows
    }


def product_valuation_rows(
    *, company: Company, products: Sequence[Product]
) -> dict[int, CategoryValuation | None]:
    """The valuation row (`CategoryValuation`: method, accounts, journal) that applies to each
    of `products` (its category's, else the nearest ancestor's, else the company default), by
    product id; None when the company keeps stock in quantities only. Two queries."""
    resolver = _Resolver(company)
    return {product.pk: resolver.row(product.category_id) for product in products}


@audited
def moves_add_value(
    *,
    company: Company,
    amounts: Mapping[Move, Decimal],
    counterpart: Account,
    date: dt.date,
    actor: Any = None,
    source_type: str = "",
    source_id: int | None = None,
    memo: str = "",
) -> Entry:
    """Add value (landed costs: freight, duties…) to done incoming moves: `amounts` is the
    value, in the company currency, added to each move. Returns the posted entry.

    Each move's amount is split between the units it brought in that are still in stock and
    those that have left:

    - average: the product's quantity on hand Q is taken to come from these receipts first
      (R = Σ quantity of the product's moves given), so the share min(Q, R) / R of each amount
      stays in stock (a zero-quantity layer of that value on the move, Dr the stock account)
      and the product's average cost becomes (stock value + that share) / Q; the rest is for
      units already gone and goes to the output account (cost of sales). With no stock on
      hand, everything goes to the output account.
    - FIFO: the share still in stock is the receipt layer's remaining quantity / its quantity;
      the receipt layer's remaining value grows by that share (so the units taken from it
      later carry it) and a zero-quantity layer of that value is written on the move; the
      rest goes to the output account.

    One entry, dated `date`, in the journal of the first product's valuation row: Dr stock
    (and output) per product / Cr `counterpart` per product; `memo` is its reference,
    `source_type`/`source_id` its source. Σ layer values of a product therefore stays equal to
    its stock account's balance. (The correction of backdated moves, `product_revalue`, does
    not know added value: a correction across the date of a landed cost leaves it to the
    output account.)

    Locks the products' rows FOR NO KEY UPDATE in primary-key order (as `moves_value`), then
    the FIFO receipt layers, then the journal (`entry_post`). Raises ValidationError (nothing
    written) for no or non-positive amounts, moves of another company, not done, not bringing
    stockable goods into the stock or not valued, and an unusable counterpart; PostingError
    when the ledger refuses the entry (closed period…)."""
    errors: dict[str, list[str]] = defaultdict(list)
    wanted: dict[int, Decimal] = {}
    for move, amount in amounts.items():
        if getattr(move, "pk", None) is None:
            errors["amounts"].append(_("Give saved moves."))
            continue
        if isinstance(amount, float) or not isinstance(amount, Decimal | int):
            errors["amounts"].append(_("Give the amounts as decimals."))
            continue
        if Decimal(amount) <= 0:
            errors["amounts"].append(
                _("The value added to %(move)s must be above zero.") % {"move": move}
            )
        wanted[move.pk] = wanted.get(move.pk, ZERO) + Decimal(amount)
    if not wanted and not errors:
        errors["amounts"].append(_("Give at least one move and the value to add to it."))
    if (
        not isinstance(counterpart, Account)
        or counterpart.company_id != company.pk
        or counterpart.is_group
        or not counterpart.active
    ):
        errors["counterpart"].append(
            _("Choose an active, postable account of the company as the counterpart.")
        )
    if errors:
        raise ValidationError(dict(errors))
    with transaction.atomic():
        moves = list(
            Move.unscoped.filter(pk__in=sorted(wanted))
            .select_related("from_location", "to_location", "product", "picking")
            .order_by("pk")
        )
        found = {move.pk for move in moves}
        for pk in sorted(set(wanted) - found):
            errors["amounts"].append(_("Unknown move %(id)s.") % {"id": pk})
        received: dict[int, Decimal] = {}
        values = move_values(moves=moves)
        for move in moves:
            problem = None
            if move.company_id != company.pk:
                problem = _("%(move)s belongs to another company.")
            elif move.state != Move.State.DONE:
                problem = _("%(move)s is not done.")
            elif move.product.type != Product.Type.STOCKABLE or not (
                move.to_location.is_stock and not move.from_location.is_stock
            ):
                problem = _("%(move)s does not bring stockable goods into the stock.")
            elif values.get(move.pk, (ZERO, ZERO))[0] <= 0:
                problem = _("%(move)s has no stock value to add to.")
            if problem:
                errors["amounts"].append(problem % {"move": move})
            else:
                received[move.pk] = values[move.pk][0]
        if errors:
            raise ValidationError(dict(errors))
        resolver = _resolver(company, actor)
        if resolver is None:
            raise ValidationError(
                _("Stock valuation of %(company)s is not set up.") % {"company": company},
                code="valuation_not_configured",
            )
        products = {
            p.pk: p
            for p in Product.unscoped.select_for_update(no_key=True, of=("self",))
            .filter(pk__in=sorted({m.product_id for m in moves}))
            .order_by("pk")
        }
        totals = _totals(company, sorted(products))
        currency = company.base_currency_id

        def rnd(amount: Decimal) -> Decimal:
            return quantize(amount, currency)

        config = {pid: resolver.row(products[pid].category_id) for pid in sorted(products)}
        receipt_layers: dict[int, list[ValuationLayer]] = defaultdict(list)
        fifo_moves = [m.pk for m in moves if config[m.product_id].method == Method.FIFO]
        if fifo_moves:
            for layer in (
                ValuationLayer.unscoped.select_for_update()
                .filter(move_id__in=fifo_moves, quantity__gt=0)
                .order_by("pk")
            ):
                receipt_layers[layer.move_id].append(layer)
        by_product: dict[int, list[Move]] = defaultdict(list)
        for move in moves:
            by_product[move.product_id].append(move)
        booking = _Booking(journal=config[min(products)].journal, date=date)
        layers: list[ValuationLayer] = []
        changed: list[ValuationLayer] = []
        averages: list[tuple[Product, Decimal]] = []
        description = (memo or _("Value added to the receipt"))[:200]
        for pid, product_moves in sorted(by_product.items()):
            product, row = products[pid], config[pid]
            total = totals.get(pid)
            on_hand = (total.quantity if total else ZERO).quantize(QTY)
            stock_value = rnd(total.value if total else ZERO)
            incoming = sum((received[m.pk] for m in product_moves), ZERO)
            added_to_stock = ZERO
            for move in product_moves:
                amount = rnd(wanted[move.pk])
                if row.method == Method.FIFO:
                    kept = ZERO
                    for layer in receipt_layers[move.pk]:
                        share = rnd(amount * layer.quantity / received[move.pk])
                        part = (
                            share
                            if layer.remaining_qty >= layer.quantity
                            else rnd(share * max(layer.remaining_qty, ZERO) / layer.quantity)
                        )
                        if part:
                            layer.remaining_value += part
                            changed.append(layer)
                            kept += part
                else:
                    in_stock = min(max(on_hand, ZERO), incoming)
                    kept = amount if in_stock >= incoming else rnd(amount * in_stock / incoming)
                gone = amount - kept
                booking.add(counterpart, product, -amount)
                if kept:
                    booking.add(row.stock_account, product, kept)
                    layers.append(
                        ValuationLayer(
                            company=company,
                            product=product,
                            move=move,
                            date=date,
                            quantity=ZERO,
                            unit_cost=ZERO,
                            value=kept,
                            description=description,
                        )  # fmt: skip
                    )
                    added_to_stock += kept
                if gone:
                    booking.add(row.output_account, product, gone)
            if row.method != Method.FIFO and on_hand > 0 and added_to_stock:
                averages.append((product, (stock_value + added_to_stock) / on_hand))
        entry = _post(
            company,
            booking,
            ref=memo or _("Value added to receipts"),
            source_type=source_type,
            source_id=source_id,
            actor=actor,
        )
        for layer in layers:
            layer.entry = entry
        ValuationLayer.unscoped.bulk_create(layers)
        _totals_add(company, layers, totals)
        if changed:
            ValuationLayer.unscoped.bulk_update(changed, ["remaining_value"])
        for product, average in averages:
            reason = memo or _("Value added to receipts")
            _average_cost_set(product, average, min(date, timezone.localdate()), reason)
    return entry


# --- backdated moves: the correction job -----------------------------------------------------


def revalue_schedule(*, product: Product, from_date: dt.date, actor: Any = None) -> Job | None:
    """Queue the correction of `product`'s valuation from `from_date` (enqueued on commit),
    unless a queued one already starts on or before that date."""
    queued = Job.unscoped.filter(
        company_id=product.company_id,
        kind=JOB_KIND,
        status=Job.Status.QUEUED,
        params__product_id=product.pk,
    )
    if any(job.params.get("from_date", "9999") <= from_date.isoformat() for job in queued):
        return None
    return jobs.job_start(
        company=product.company,
        actor=_user(actor),
        kind=JOB_KIND,
        name=_("Revalue %(product)s from %(date)s") % {"product": product, "date": from_date},
        product_id=product.pk,
        from_date=from_date.isoformat(),
    )


@dataclass(frozen=True)
class Revaluation:
    """What `product_revalue` did: the correction booked, the layers read after the date and
    the batches it read them in, and the entry (None when nothing needed correcting)."""

    correction: Decimal
    layers: int
    batches: int
    entry: Any = None


def _start_state(company: Company, product: Product, method: str, day: dt.date,
                 rnd: Callable) -> _Average | _Fifo:  # fmt: skip
    """The engine as it stood just before `day`."""
    before = ValuationLayer.unscoped.filter(company=company, product=product, date__lt=day)
    sums = before.aggregate(q=Sum("quantity"), v=Sum("value"))
    q = Decimal(sums["q"] or 0).quantize(QTY)
    v = rnd(Decimal(sums["v"] or 0))
    last = (
        before.filter(quantity__gt=0)
        .order_by("-date", "-pk")
        .values_list("unit_cost", flat=True)
        .first()
    )
    fallback = last if last is not None else product.standard_cost
    if method != Method.FIFO:
        return _Average(q, v, fallback, rnd)
    entries: list[list] = []
    if q > 0:
        left = q
        for pk, qty, value in (
            before.filter(quantity__gt=0)
            .order_by("-date", "-pk")
            .values_list("pk", "quantity", "value")
            .iterator(chunk_size=200)
        ):
            if qty >= left:
                entries.append([pk, left, value if qty == left else rnd(left * value / qty)])
                break
            entries.append([pk, qty, value])
            left -= qty
        entries.reverse()
    elif q < 0:
        entries.append([None, q, v])
    return _Fifo(entries, fallback, rnd)


@audited
def product_revalue(
    *,
    product: Product,
    from_date: dt.date,
    actor: Any = None,
    batch_size: int = BATCH,
    progress: Callable[[int, int | None], None] | None = None,
) -> Revaluation:
    """Recompute `product`'s valuation from `from_date` as if its layers had been made in date
    order, and book the difference today (see the module docstring). Locks the product row
    (serialising with `moves_value`), then its layers. Raises PostingError when today's period
    is closed; nothing is written then."""
    company = product.company
    today = timezone.localdate()
    with transaction.atomic():
        product = (
            Product.unscoped.select_for_update(no_key=True, of=("self",))
            .select_related("company")
            .get(pk=product.pk)
        )
        resolver = _resolver(company, actor)
        if resolver is None:
            return Revaluation(ZERO, 0, 0)
        row = resolver.row(product.category_id)
        currency = company.base_currency_id

        def rnd(amount: Decimal) -> Decimal:
            return quantize(amount, currency)

        engine = _start_state(company, product, row.method, from_date, rnd)
        later = ValuationLayer.unscoped.filter(company=company, product=product)
        total = later.filter(date__gte=from_date).count() if progress else None
        booked = ZERO
        read = batches = 0
        cursor: tuple[dt.date, int] | None = None
        while True:
            page = later.filter(date__gte=from_date)
            if cursor is not None:
                page = page.filter(Q(date__gt=cursor[0]) | Q(date=cursor[0], pk__gt=cursor[1]))
            batch = list(
                page.order_by("date", "pk").values_list("pk", "date", "quantity", "value")[
                    :batch_size
                ]
            )
            if not batch:
                break
            batches += 1
            for pk, _day, qty, value in batch:
                read += 1
                booked += value
                if qty > 0:
                    engine.put(pk, qty, value)
                elif qty < 0:
                    engine.take(pk, -qty)
            cursor = (batch[-1][1], batch[-1][0])
            if progress:
                progress(read, total)
            if len(batch) < batch_size:
                break
        start = later.filter(date__lt=from_date).aggregate(v=Sum("value"))["v"]
        booked = rnd(Decimal(start or 0) + booked)
        correction = rnd(engine.total() - booked)
        entry = None
        new_layer = None
        if correction:
            booking = _Booking(journal=row.journal, date=today)
            booking.add(row.stock_account, product, correction)
            booking.add(row.output_account, product, -correction)
            entry = _post(
                company,
                booking,
                ref=_("Revaluation of %(product)s from %(date)s")
                % {"product": product.sku, "date": from_date.isoformat()},
                source_type=REVALUE_SOURCE,
                source_id=product.pk,
                actor=actor,
            )
            new_layer = ValuationLayer.unscoped.create(
                company=company,
                product=product,
                date=today,
                quantity=ZERO,
                unit_cost=ZERO,
                value=correction,
                entry=entry,
                description=(
                    _("Revaluation after a move dated %(date)s") % {"date": from_date.isoformat()}
                )[:200],
            )
        if new_layer is not None:
            _totals_add(company, [new_layer])
        if isinstance(engine, _Fifo):
            _fifo_rewrite(company, product, engine, new_layer)
        elif engine.q > 0:
            average = (engine.v / engine.q).quantize(COST, rounding=ROUND_HALF_UP)
            if average != product.average_cost:
                reason = _("Revalued after a move dated %(date)s") % {"date": from_date.isoformat()}
                _average_cost_set(product, average, today, reason)
    return Revaluation(correction, read, batches, entry)


def _fifo_rewrite(company: Company, product: Product, engine: _Fifo,
                  new_layer: ValuationLayer | None) -> None:  # fmt: skip
    """Make the layers' open quantities and values those of the recomputed queue."""
    final: dict[int, tuple[Decimal, Decimal]] = {}
    for entry in list(engine.queue) + list(engine.neg):
        if entry[0] is None:
            if new_layer is None:
                new_layer = ValuationLayer.unscoped.create(
                    company=company, product=product, date=timezone.localdate(),
                    quantity=ZERO, unit_cost=ZERO, value=ZERO,
                    description=_("Stock taken below zero before the revaluation"),
                )  # fmt: skip
                _totals_add(company, [new_layer])
            final[new_layer.pk] = (entry[1], entry[2])
        else:
            final[entry[0]] = (entry[1], entry[2])
    layers = ValuationLayer.unscoped.select_for_update().filter(
        Q(pk__in=list(final)) | ~Q(remaining_qty=0) | ~Q(remaining_value=0),
        company=company,
        product=product,
    )
    changed = []
    for layer in layers.order_by("pk"):
        qty, value = final.get(layer.pk, (ZERO, ZERO))
        if (layer.remaining_qty, layer.remaining_value) != (qty, value):
            layer.remaining_qty, layer.remaining_value = qty, value
            changed.append(layer)
    if changed:
        ValuationLayer.unscoped.bulk_update(changed, ["remaining_qty", "remaining_value"])


def revalue_job(context: jobs.JobContext, *, product_id: int, from_date: str,
                batch_size: int = BATCH) -> dict[str, Any]:  # fmt: skip
    """The "inventory.revalue" job: `product_revalue` with progress."""
    product = Product.unscoped.select_related("company").get(
        pk=product_id, company_id=context.company.pk
    )
    result = product_revalue(
        product=product,
        from_date=dt.date.fromisoformat(from_date),
        actor=context.user,
        batch_size=batch_size,
        progress=lambda done, total: context.progress(done, total),
    )
    return {
        "message": _("%(product)s revalued: correction %(amount)s.")
        % {"product": product, "amount": result.correction},
        "correction": str(result.correction),
        "layers": result.layers,
        "batches": result.batches,
        "entry_id": result.entry.pk if result.entry else None,
    }


jobs.register(JOB_KIND, revalue_job)


# --- stock value -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StockValueRow:
    product: Product
    location: Location | None
    quantity: Decimal
    value: Decimal

    @property
    def unit_cost(self) -> Decimal | None:
        return (self.value / self.quantity).quantize(COST) if self.quantity else None


@dataclass(frozen=True)
class StockValuation:
    """The rows of `stock_value` (iterable like a list) and their totals."""

    as_of: dt.date
    rows: list[StockValueRow]
    total_value: Decimal
    total_quantity: Decimal

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> StockValueRow:
        return self.rows[index]


PRODUCT_COLUMNS = ("id", "company_id", "sku", "name", "uom_id", "category_id", "type")


def stock_value(
    *,
    company: Company,
    as_of: dt.date,
    product: Product | None = None,
    location: Location | None = None,
    by_location: bool = False,
) -> StockValuation:
    """The company's stock value at the end of `as_of`: by product (Σ layers dated up to then)
    or, with `location` or `by_location`, by product and stock location (the quantity there
    then × the product's unit value then; for the whole company the rounding difference goes
    on each product's largest row, so totals equal the by-product ones). The quantity at a
    place then is Σ done moves up to then, read as today's quants less the moves done after
    `as_of` (the quants are Σ done moves), so a recent date reads few moves. Rows with neither
    quantity nor value are left out; products are loaded with their main columns only. Raises
    StockError for a product or location of another company. Locks nothing."""
    for obj in (product, location):
        if obj is not None and obj.company_id != company.pk:
            raise refusal(_("The %(what)s belongs to another company."), "foreign_record",
                        what=obj._meta.verbose_name)  # fmt: skip
    unit = Decimal(1).scaleb(-minor_units(company.base_currency_id))
    layers = ValuationLayer.unscoped.filter(company=company, date__lte=as_of)
    if product is not None:
        layers = layers.filter(product=product)
    sums: dict[int, tuple[Decimal, Decimal]] = {}
    for pid, q, v in (
        layers.values("product_id")
        .annotate(q=Sum("quantity"), v=Sum("value"))
        .order_by()
        .values_list("product_id", "q", "v")
    ):
        q, v = Decimal(q or 0).quantize(QTY), Decimal(v or 0).quantize(unit, ROUND_HALF_UP)
        if q or v:
            sums[pid] = (q, v)
    catalogue = Product.unscoped.filter(company=company).only(*PRODUCT_COLUMNS)
    if product is not None:
        catalogue = catalogue.filter(pk=product.pk)
    if location is None and not by_location:
        products = {p.pk: p for p in catalogue.filter(type=Product.Type.STOCKABLE)}
        products.update({p.pk: p for p in catalogue.filter(pk__in=set(sums) - set(products))})
        rows = [StockValueRow(products[pid], None, q, v) for pid, (q, v) in sorted(sums.items())]
        return _valuation(as_of, rows)
    if location is not None:
        place_ids = internal_locations_below(location)
    else:
        place_ids = list(
            Location.unscoped.filter(company=company, usage__in=STOCK_USAGES).values_list(
                "pk", flat=True
            )
        )
    products = {p.pk: p for p in catalogue.filter(type=Product.Type.STOCKABLE)}
    quantities: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    quants = Quant.unscoped.filter(company=company, location_id__in=place_ids)
    later = Move.unscoped.filter(company=company, state=Move.State.DONE, effective_date__gt=as_of)
    if product is not None:
        quants, later = quants.filter(product=product), later.filter(product=product)
    for pid, lid, q in quants.values_list("product_id", "location_id", "quantity").iterator(
        chunk_size=5000
    ):
        if pid in products:
            quantities[(pid, lid)] += q
    for field_name, sign in (("to_location_id", -1), ("from_location_id", 1)):
        for pid, lid, q in (
            later.filter(**{f"{field_name}__in": place_ids})
            .values("product_id", field_name)
            .annotate(q=Sum("quantity_base"))
            .order_by()
            .values_list("product_id", field_name, "q")
        ):
            if pid in products:
                quantities[(pid, lid)] += sign * Decimal(q or 0)
    by_product: dict[int, list[list]] = defaultdict(list)
    for (pid, lid), q in sorted(quantities.items()):
        q = q.quantize(QTY)
        if not q:
            continue
        total_q, total_v = sums.get(pid, (ZERO, ZERO))
        value = (q * total_v / total_q).quantize(unit, ROUND_HALF_UP) if total_q > 0 else ZERO
        by_product[pid].append([lid, q, value])
    if location is None:  # the whole company: each product's rows add up to its value
        for pid, (total_q, total_v) in sums.items():
            items = by_product[pid]
            residue = total_v - sum((i[2] for i in items), ZERO)
            if residue and items:
                max(items, key=lambda i: i[1])[2] += residue
            elif residue or (total_q and not items):
                items.append([None, ZERO if items else total_q, residue])
    places = Location.unscoped.in_bulk(place_ids)
    missing = set(by_product) - set(products)
    if missing:
        products.update({p.pk: p for p in catalogue.filter(pk__in=missing)})
    rows = [
        StockValueRow(products[pid], places.get(lid) if lid else None, q, value)
        for pid in sorted(by_product)
        for lid, q, value in by_product[pid]
    ]
    return _valuation(as_of, rows)


def _valuation(as_of: dt.date, rows: list[StockValueRow]) -> StockValuation:
    return StockValuation(
        as_of=as_of,
        rows=rows,
        total_value=sum((r.value for r in rows), ZERO),
        total_quantity=sum((r.quantity for r in rows), ZERO),
    )
