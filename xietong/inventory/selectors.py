"""The inventory app's reads for screens and other apps: stock on hand as rows (per quant or
summed per product, product and location, or product and lot), locations below a location,
a product's open moves, lots with their stock, the ledger balance of the stock accounts, and
what planning reads (on hand per product, open moves crossing the stock's boundary).

Every query here goes through the company-scoped managers (`Model.objects`), so it reads the
current company only — except the planning reads, which take the company as an argument (they
run in background jobs too) — and locks nothing. On hand and reserved follow `stock.on_hand` and
`stock.available`: quants of stock locations (internal or transit), in the product's stock
unit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from xietong.core.models import Company
from xietong.finance import selectors as finance_selectors
from xietong.inventory.models import CategoryValuation, Location, Lot, Move, Picking, Quant
from xietong.product.models import Product

ZERO = Decimal(0)
STOCK_USAGES = (Location.Usage.INTERNAL, Location.Usage.TRANSIT)
OPEN_STATES = (Move.State.DRAFT, Move.State.WAITING, Move.State.ASSIGNED)
QTY_FIELD = DecimalField(max_digits=24, decimal_places=6)

# Groupings of the stock rows: the keys each row is summed over (besides the product).
GROUPS: dict[str, tuple[str, ...]] = {
    "": ("location_id", "location__full_name", "lot_id", "lot__name", "lot__expiry_date"),
    "product": (),
    "location": ("location_id", "location__full_name"),
    "lot": ("lot_id", "lot__name", "lot__expiry_date"),
}
PRODUCT_KEYS = (
    "product_id",
    "product__sku",
    "product__name",
    "product__name_i18n",
    "product__uom__code",
    "product__uom__rounding",
)


class GroupedRows(QuerySet):
    """Quants summed per group (a `values(...).annotate(...)` queryset). Django adds every
    ordering field to the GROUP BY, so an ordering by anything but the group's own keys and
    sums would split the groups: such fields (the list pattern's `pk` tie-breaker, a column
    grouped away) are replaced by the group keys."""

    def order_by(self, *field_names: Any) -> GroupedRows:
        keys = list(self.query.values_select)
        allowed = set(keys) | set(self.query.annotations)
        kept: list[Any] = []
        for name in field_names:
            if isinstance(name, str) and name.lstrip("-") not in allowed:
                prefix = "-" if name.startswith("-") else ""
                kept.extend(f"{prefix}{key}" for key in keys if f"{prefix}{key}" not in kept)
            else:
                kept.append(name)
        return super().order_by(*kept)  # type: ignore[return-value]


def stock_rows(*, group: str = "") -> GroupedRows:
    """On hand, reserved and available of the current company's stock locations, one dict per
    quant (`group` ""), or summed per product ("product"), product and location ("location")
    or product and lot ("lot"); each row also counts the locations and lots it sums. Quants
    with nothing on hand or reserved are left out. Filters on quant fields (`location_id`,
    `lot__name`…) apply before summing, on the sums (`on_hand__gt`) after."""
    keys = (*PRODUCT_KEYS, *GROUPS[group])
    base = Quant.objects.filter(location__usage__in=STOCK_USAGES).exclude(quantity=0, reserved=0)
    rows = GroupedRows(model=Quant, query=base.query.chain(), using=base.db)
    return rows.values(*keys).annotate(
        on_hand=Sum("quantity", output_field=QTY_FIELD),
        reserved_qty=Sum("reserved", output_field=QTY_FIELD),
        available_qty=Sum(F("quantity") - F("reserved"), output_field=QTY_FIELD),
        locations=Count("location_id", distinct=True),
        lots=Count("lot_id", distinct=True),
    )


def locations_below(location: Location) -> QuerySet[Location]:
    """`location` and every location below it (stock or not)."""
    return Location.objects.filter(
        Q(pk=location.pk) | Q(full_name__startswith=f"{location.full_name}/")
    )


def product_quants(*, product: Product) -> QuerySet[Quant]:
    """The product's quants in stock locations with something on hand or reserved, by
    location and lot."""
    return (
        Quant.objects.filter(product=product, location__usage__in=STOCK_USAGES)
        .exclude(quantity=0, reserved=0)
        .select_related("location", "lot")
        .order_by("location__full_name", "lot__name", "pk")
    )


@dataclass(frozen=True)
class OpenMoves:
    """A product's moves not done or cancelled: coming into stock, leaving it, and moving
    between stock locations; `incoming_qty`/`outgoing_qty` in the stock unit."""

    incoming: list[Move]
    outgoing: list[Move]
    internal: list[Move]

    @property
    def incoming_qty(self) -> Decimal:
        return sum((m.quantity_base for m in self.incoming), ZERO)

    @property
    def outgoing_qty(self) -> Decimal:
        return sum((m.quantity_base for m in self.outgoing), ZERO)


def product_open_moves(*, product: Product) -> OpenMoves:
    """The product's open moves (draft, waiting, reserved) with their pickings and parties,
    soonest first."""
    moves = (
        Move.objects.filter(product=product, state__in=OPEN_STATES)
        .select_related("uom", "lot", "from_location", "to_location", "picking__party")
        .order_by("planned_date", "pk")
    )
    incoming, outgoing, internal = [], [], []
    for move in moves:
        into, out_of = move.to_location.is_stock, move.from_location.is_stock
        if into and not out_of:
            incoming.append(move)
        elif out_of and not into:
            outgoing.append(move)
        else:
            internal.append(move)
    return OpenMoves(incoming, outgoing, internal)


def lots_with_stock() -> QuerySet[Lot]:
    """The current company's lots with their product (and its unit) and `on_hand`, the
    quantity of the lot in stock locations."""
    in_stock = Q(quants__location__usage__in=STOCK_USAGES)
    return Lot.objects.select_related("product__uom").annotate(
        on_hand=Coalesce(
            Sum("quants__quantity", filter=in_stock, output_field=QTY_FIELD),
            Value(ZERO),
            output_field=QTY_FIELD,
        )
    )


@dataclass(frozen=True)
class AccountBalance:
    account_id: int
    code: str
    name: str
    balance: Decimal


@dataclass(frozen=True)
class StockBooks:
    """The balances of the stock accounts of the company's valuation set-up on a day (None
    when the company keeps stock in quantities only)."""

    accounts: list[AccountBalance]

    @property
    def total(self) -> Decimal:
        return sum((a.balance for a in self.accounts), ZERO)


def stock_account_balances(*, company: Company, as_of: dt.date) -> StockBooks | None:
    """The posted balance at the end of `as_of` of every stock account named by the company's
    valuation rows (`CategoryValuation`), each counted once; None without valuation rows. Two
    queries per account (the finance general ledger with no lines)."""
    ids = sorted(
        set(
            CategoryValuation.objects.filter(company=company).values_list(
                "stock_account_id", flat=True
            )
        )
    )
    if not ids:
        return None
    balances = []
    for account_id in ids:
        ledger = finance_selectors.general_ledger(
            company=company, account=account_id, start=as_of, end=as_of, limit=0
        )
        balances.append(AccountBalance(account_id, ledger.code, ledger.name, ledger.closing))
    return StockBooks(balances)


# --- what planning reads ------------------------------------------------------------------------


def on_hand_by_product(
    *, company: Company, product_ids: Iterable[int] | None = None
) -> dict[int, Decimal]:
    """Quantity in the company's stock locations (internal and transit) per product id, in
    the product's stock unit; products without stock are missing. One query."""
    quants = Quant.unscoped.filter(company=company, location__usage__in=STOCK_USAGES)
    if product_ids is not None:
        quants = quants.filter(product_id__in=list(product_ids))
    return dict(
        quants.values("product_id").annotate(total=Sum("quantity")).order_by()
        .values_list("product_id", "total")
    )  # fmt: skip


@dataclass(frozen=True)
class BoundaryMove:
    """An open (waiting or reserved) move that enters or leaves the company's stock."""

    pk: int
    product_id: int
    planned_date: dt.date
    quantity: Decimal  # in the product's stock unit
    incoming: bool
    origin: str
    source_type: str
    source_id: int | None


def open_moves_across_stock(
    *, company: Company, product_ids: Iterable[int] | None = None
) -> list[BoundaryMove]:
    """The company's open moves from outside its stock into it (scheduled receipts) or from
    it to outside (demand on stock), in primary-key order; moves inside the stock or outside
    it are left out. Two queries."""
    inside = set(
        Location.unscoped.filter(company=company, usage__in=STOCK_USAGES).values_list(
            "pk", flat=True
        )  # fmt: skip
    )
    moves = Move.unscoped.filter(
        company=company, state__in=(Move.State.WAITING, Move.State.ASSIGNED)
    )
    if product_ids is not None:
        moves = moves.filter(product_id__in=list(product_ids))
    found = []
    for row in moves.order_by("pk").values_list(
        "pk", "product_id", "from_location_id", "to_location_id", "planned_date",
        "quantity_base", "origin", "source_type", "source_id",
    ):  # fmt: skip
        pk, product_id, source, target, date, quantity, origin, kind, source_id = row
        if (source in inside) != (target in inside):
            found.append(BoundaryMove(pk, product_id, date, quantity, target in inside, origin,
                                      kind, source_id))  # fmt: skip
    return found


@dataclass
class PartyDeliveries:
    latest: list[Picking]
    open: int
    done: int


def party_deliveries(*, party: Any, limit: int = 5) -> PartyDeliveries:
    """A customer's deliveries (the pickings of kind delivery to it): the latest `limit` not
    cancelled, the number still open and the number done. Two queries whatever the history."""
    rows = Picking.objects.filter(party=party, kind=Picking.Kind.DELIVERY)
    latest = list(
        rows.exclude(state=Picking.State.CANCELLED).order_by("-scheduled_date", "-id")[:limit]
    )
    closed = (Picking.State.DONE, Picking.State.CANCELLED)
    counts = rows.aggregate(
        open=Count("pk", filter=~Q(state__in=closed)),
        done=Count("pk", filter=Q(state=Picking.State.DONE)),
    )
    return PartyDeliveries(latest=latest, open=counts["open"], done=counts["done"])
