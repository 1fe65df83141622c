"""Stock: warehouses and their location tree, lots and serial numbers, stock moves, the on-hand
quantity table (quants) and reservations, pickings, inventory counts, replenishment rules and
the valuation layers that tie stock to the ledger.

On hand is never written directly: a move becomes `done` (and immutable) and, in the same
transaction, adds its base quantity to the destination quant and takes it from the source
quant, so that every quant always equals the sum of the done moves into its product, location
and lot minus those out of it. A reservation holds part of a quant for a move; available =
on hand − reserved. Quantities are `Decimal` in the product's stock unit (`quantity_base`);
a move also keeps the quantity in the unit it was entered in.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xietong.core.tenancy import CompanyOwned

QTY = {"max_digits": 18, "decimal_places": 6}
MONEY = {"max_digits": 18, "decimal_places": 6}  # unit costs
VALUE = {"max_digits": 19, "decimal_places": 4}  # amounts, as in the ledger
ZERO = Decimal(0)


class Location(CompanyOwned):
    """A place stock can be: a shelf, a warehouse's input or output area, or a virtual place
    stock comes from or goes to (suppliers, customers, production, inventory loss, scrap)."""

    class Usage(models.TextChoices):
        VIEW = "view", _("View (groups locations)")
        INTERNAL = "internal", _("Internal (storage)")
        SUPPLIER = "supplier", _("Supplier")
        CUSTOMER = "customer", _("Customer")
        PRODUCTION = "production", _("Production")
        INVENTORY = "inventory", _("Inventory loss")
        SCRAP = "scrap", _("Scrap")
        TRANSIT = "transit", _("Transit")

    name = models.CharField(_("name"), max_length=80)
    full_name = models.CharField(_("full name"), max_length=400, editable=False)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent location"),
    )
    warehouse = models.ForeignKey(
        "Warehouse",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="locations",
        verbose_name=_("warehouse"),
    )
    usage = models.CharField(_("usage"), max_length=12, choices=Usage.choices)
    barcode = models.CharField(_("barcode"), max_length=60, blank=True)
    allow_negative = models.BooleanField(_("negative stock allowed"), default=False)
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["full_name"]
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "parent", "name"], name="inventory_location_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.name

    @property
    def is_stock(self) -> bool:
        """Stock here is the company's own and counts as on hand."""
        return self.usage in (self.Usage.INTERNAL, self.Usage.TRANSIT)


class Warehouse(CompanyOwned):
    class ReceptionSteps(models.TextChoices):
        ONE = "one", _("Receive into stock (1 step)")
        TWO = "two", _("Input, then stock (2 steps)")
        THREE = "three", _("Input, quality control, then stock (3 steps)")

    class DeliverySteps(models.TextChoices):
        ONE = "one", _("Ship from stock (1 step)")
        TWO = "two", _("Pick, then ship (2 steps)")
        THREE = "three", _("Pick, pack, then ship (3 steps)")

    code = models.CharField(_("code"), max_length=10)
    name = models.CharField(_("name"), max_length=80)
    view_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", verbose_name=_("view location")
    )
    stock_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", verbose_name=_("stock location")
    )
    input_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", verbose_name=_("input location")
    )
    quality_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", verbose_name=_("quality location")
    )
    pack_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", verbose_name=_("packing location")
    )
    output_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", verbose_name=_("output location")
    )
    reception_steps = models.CharField(
        _("reception"), max_length=6, choices=ReceptionSteps.choices, default=ReceptionSteps.ONE
    )
    delivery_steps = models.CharField(
        _("delivery"), max_length=6, choices=DeliverySteps.choices, default=DeliverySteps.ONE
    )
    address = models.ForeignKey(
        "party.Address",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("address"),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["code"]
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="inventory_warehouse_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Lot(CompanyOwned):
    """A lot or serial number of a tracked product (a serial number is a lot of one unit)."""

    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    name = models.CharField(_("lot or serial number"), max_length=80)
    expiry_date = models.DateField(_("expiry date"), null=True, blank=True)
    supplier_lot = models.CharField(_("supplier's lot"), max_length=80, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["product_id", "name"]
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "product", "name"], name="inventory_lot_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Picking(CompanyOwned):
    """A transfer document grouping moves: a receipt, an internal transfer (put-away, quality,
    pick, pack) or a delivery, one step of a warehouse's route."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        INTERNAL = "internal", _("Internal transfer")
        DELIVERY = "delivery", _("Delivery")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        WAITING = "waiting", _("Waiting")
        READY = "ready", _("Ready")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(_("number"), max_length=40, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    step = models.CharField(_("step"), max_length=20, blank=True)  # "input", "quality", "pick"…
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="pickings", verbose_name=_("warehouse")
    )
    from_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", verbose_name=_("from")
    )
    to_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", verbose_name=_("to")
    )
    party = models.ForeignKey(
        "party.Party",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("partner"),
    )
    scheduled_date = models.DateField(_("scheduled date"))
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    origin = models.CharField(_("source document"), max_length=80, blank=True)
    source_type = models.CharField(max_length=60, blank=True)
    source_id = models.PositiveBigIntegerField(null=True, blank=True)
    previous = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="next_steps",
        verbose_name=_("previous step"),
    )
    backorder_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="backorders",
        verbose_name=_("backorder of"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-scheduled_date", "-id"]
        verbose_name = _("picking")
        verbose_name_plural = _("pickings")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "number"],
                condition=~Q(number=""),
                name="inventory_picking_number",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "kind", "state"], name="inventory_picking_todo"),
            models.Index(fields=["source_type", "source_id"], name="inventory_picking_source"),
        ]

    def __str__(self) -> str:
        return self.number or _("Draft picking %(id)s") % {"id": self.pk}


class Move(CompanyOwned):
    """A quantity of a product going from one location to another. Done moves are immutable;
    a correction is another move."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        WAITING = "waiting", _("Waiting for availability")
        ASSIGNED = "assigned", _("Reserved")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    uom = models.ForeignKey(
        "core.UnitOfMeasure", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit")
    )
    quantity = models.DecimalField(_("quantity"), **QTY)  # in `uom`
    quantity_base = models.DecimalField(_("quantity in stock unit"), **QTY)
    from_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="moves_out", verbose_name=_("from")
    )
    to_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="moves_in", verbose_name=_("to")
    )
    lot = models.ForeignKey(
        Lot,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="moves",
        verbose_name=_("lot or serial number"),
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    planned_date = models.DateField(_("planned date"))
    effective_date = models.DateField(_("effective date"), null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    picking = models.ForeignKey(
        Picking,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="moves",
        verbose_name=_("picking"),
    )
    origin = models.CharField(_("source document"), max_length=80, blank=True)
    source_type = models.CharField(max_length=60, blank=True)
    source_id = models.PositiveBigIntegerField(null=True, blank=True)
    # The move this one continues (receipt → quality → stock; pick → pack → ship), and the
    # moves whose stock it consumed (production), for traceability.
    previous = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="next_moves",
        verbose_name=_("previous move"),
    )
    consumed = models.ManyToManyField(
        "self", blank=True, symmetrical=False, related_name="produced", verbose_name=_("consumed")
    )
    unit_cost = models.DecimalField(_("unit cost"), null=True, blank=True, **MONEY)
    value = models.DecimalField(_("value"), null=True, blank=True, **VALUE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("done by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-planned_date", "-id"]
        verbose_name = _("stock move")
        verbose_name_plural = _("stock moves")
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0) & Q(quantity_base__gt=0),
                name="inventory_move_positive",
            ),
            models.CheckConstraint(
                condition=~Q(from_location=models.F("to_location")),
                name="inventory_move_two_places",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "product", "state"], name="inventory_move_product"),
            models.Index(
                fields=["company", "product", "effective_date"], name="inventory_move_history"
            ),
            models.Index(fields=["source_type", "source_id"], name="inventory_move_source"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.product_id}: {self.quantity_base} {self.from_location_id}→{self.to_location_id}"
        )


class Quant(CompanyOwned):
    """On hand and reserved of a product at a location (and lot), in the stock unit. Written
    only by the move services, under a row lock; always Σ done moves in − out."""

    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="quants", verbose_name=_("location")
    )
    lot = models.ForeignKey(
        Lot,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="quants",
        verbose_name=_("lot or serial number"),
    )
    quantity = models.DecimalField(_("on hand"), default=ZERO, **QTY)
    reserved = models.DecimalField(_("reserved"), default=ZERO, **QTY)
    in_date = models.DateTimeField(_("first received"), null=True, blank=True)  # FIFO order

    class Meta(CompanyOwned.Meta):
        ordering = ["product_id", "location_id", "lot_id"]
        verbose_name = _("quant")
        verbose_name_plural = _("quants")
        constraints = [
            models.UniqueConstraint(
                fields=["product", "location", "lot"],
                condition=Q(lot__isnull=False),
                name="inventory_quant_unique_lot",
            ),
            models.UniqueConstraint(
                fields=["product", "location"],
                condition=Q(lot__isnull=True),
                name="inventory_quant_unique",
            ),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="inventory_quant_reserved"),
        ]
        indexes = [
            models.Index(fields=["company", "product", "location"], name="inventory_quant_lookup"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.location_id}: {self.quantity}"

    @property
    def available(self) -> Decimal:
        return self.quantity - self.reserved


class Reservation(CompanyOwned):
    """Part of a quant held for a move until the move is done or the reservation released."""

    move = models.ForeignKey(
        Move, on_delete=models.CASCADE, related_name="reservations", verbose_name=_("move")
    )
    quant = models.ForeignKey(
        Quant, on_delete=models.PROTECT, related_name="reservations", verbose_name=_("quant")
    )
    quantity = models.DecimalField(_("quantity"), **QTY)  # stock unit

    class Meta(CompanyOwned.Meta):
        ordering = ["move_id", "id"]
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="inventory_reservation_pos"),
            models.UniqueConstraint(fields=["move", "quant"], name="inventory_reservation_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.move_id}: {self.quantity} of {self.quant_id}"


class InventoryCount(CompanyOwned):
    """A count sheet: what was counted at a location, posted as adjustments to inventory loss."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        COUNTING = "counting", _("Counting")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(_("number"), max_length=40, blank=True)
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", verbose_name=_("location")
    )
    abc_class = models.CharField(_("ABC class"), max_length=1, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    date = models.DateField(_("date"))
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("counted by"),
    )
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-date", "-id"]
        verbose_name = _("inventory count")
        verbose_name_plural = _("inventory counts")

    def __str__(self) -> str:
        return self.number or _("Draft count %(id)s") % {"id": self.pk}


class CountLine(models.Model):
    count = models.ForeignKey(
        InventoryCount, on_delete=models.CASCADE, related_name="lines", verbose_name=_("count")
    )
    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", verbose_name=_("location")
    )
    lot = models.ForeignKey(
        Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("lot or serial number"),
    )  # fmt: skip
    expected = models.DecimalField(_("expected"), default=ZERO, **QTY)
    counted = models.DecimalField(_("counted"), null=True, blank=True, **QTY)
    move = models.ForeignKey(
        Move, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("adjustment"),
    )  # fmt: skip

    class Meta:
        ordering = ["count_id", "location_id", "product_id"]
        verbose_name = _("count line")
        verbose_name_plural = _("count lines")

    def __str__(self) -> str:
        return f"{self.product_id}: {self.counted} / {self.expected}"


class ReplenishmentRule(CompanyOwned):
    """Keep a product between `min_qty` and `max_qty` in a warehouse: when the forecast stock
    (on hand + incoming − outgoing) falls to the reorder point, order up to the maximum in
    multiples of `multiple`."""

    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="+", verbose_name=_("warehouse")
    )
    min_qty = models.DecimalField(_("reorder point"), default=ZERO, **QTY)
    max_qty = models.DecimalField(_("maximum"), default=ZERO, **QTY)
    multiple = models.DecimalField(_("order multiple"), default=ZERO, **QTY)
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["warehouse_id", "product_id"]
        verbose_name = _("replenishment rule")
        verbose_name_plural = _("replenishment rules")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "product", "warehouse"], name="inventory_rule_unique"
            ),
            models.CheckConstraint(
                condition=Q(min_qty__gte=0)
                & Q(max_qty__gte=models.F("min_qty"))
                & Q(multiple__gte=0),
                name="inventory_rule_range",
            ),  # fmt: skip
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.min_qty}–{self.max_qty}"


class CategoryValuation(CompanyOwned):
    """How the products of a category (or, with no category, the company's default) are
    valued and on which accounts the value is booked."""

    class Method(models.TextChoices):
        AVERAGE = "average", _("Moving average")
        FIFO = "fifo", _("First in, first out")

    category = models.OneToOneField(
        "product.Category",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("category"),
    )
    method = models.CharField(
        _("costing method"), max_length=8, choices=Method.choices, default=Method.AVERAGE
    )
    stock_account = models.ForeignKey(
        "finance.Account", on_delete=models.PROTECT, related_name="+",
        verbose_name=_("stock account"),
    )  # fmt: skip
    input_account = models.ForeignKey(
        "finance.Account", on_delete=models.PROTECT, related_name="+",
        verbose_name=_("stock received not invoiced"),
    )  # fmt: skip
    output_account = models.ForeignKey(
        "finance.Account", on_delete=models.PROTECT, related_name="+",
        verbose_name=_("cost of goods sold"),
    )  # fmt: skip
    loss_account = models.ForeignKey(
        "finance.Account", on_delete=models.PROTECT, related_name="+",
        verbose_name=_("inventory gains and losses"),
    )  # fmt: skip
    production_account = models.ForeignKey(
        "finance.Account", on_delete=models.PROTECT, related_name="+",
        verbose_name=_("work in progress"),
    )  # fmt: skip
    journal = models.ForeignKey(
        "finance.Journal", on_delete=models.PROTECT, related_name="+",
        verbose_name=_("stock journal"),
    )  # fmt: skip

    class Meta(CompanyOwned.Meta):
        verbose_name = _("category valuation")
        verbose_name_plural = _("category valuations")
        constraints = [
            models.UniqueConstraint(
                fields=["company"],
                condition=Q(category__isnull=True),
                name="inventory_valuation_default",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.category_id or '*'}: {self.method}"


class ValuationLayer(CompanyOwned):
    """The value a done move added to (quantity > 0) or took from (< 0) the company's stock.
    For FIFO, incoming layers keep what is left of them (`remaining_qty`/`remaining_value`),
    consumed oldest first. Σ value of a product's layers up to a date is its stock value then,
    and equals the stock account's balance."""

    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    move = models.ForeignKey(
        Move, on_delete=models.PROTECT, null=True, blank=True, related_name="layers",
        verbose_name=_("move"),
    )  # fmt: skip
    date = models.DateField(_("date"))
    quantity = models.DecimalField(_("quantity"), **QTY)
    unit_cost = models.DecimalField(_("unit cost"), **MONEY)
    value = models.DecimalField(_("value"), **VALUE)
    remaining_qty = models.DecimalField(_("remaining quantity"), default=ZERO, **QTY)
    remaining_value = models.DecimalField(_("remaining value"), default=ZERO, **VALUE)
    description = models.CharField(_("description"), max_length=200, blank=True)
    entry = models.ForeignKey(
        "finance.Entry", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("journal entry"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["product_id", "date", "id"]
        verbose_name = _("valuation layer")
        verbose_name_plural = _("valuation layers")
        indexes = [
            models.Index(fields=["company", "product", "date"], name="inventory_layer_asof"),
            models.Index(
                fields=["product", "id"],
                condition=Q(remaining_qty__gt=0),
                name="inventory_layer_fifo_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.date}: {self.quantity} × {self.unit_cost}"


class ValuationTotal(CompanyOwned):
    """Σ quantity and Σ value of a product's valuation layers, the date of its latest layer
    and the unit cost of its latest receipt, kept up to date by the valuation services each
    time they write layers (under the product's row lock), so that valuing a move reads one
    row instead of summing every layer of the product."""

    product = models.OneToOneField(
        "product.Product",
        on_delete=models.CASCADE,
        related_name="valuation_total",
        verbose_name=_("product"),
    )
    quantity = models.DecimalField(_("quantity"), default=ZERO, max_digits=24, decimal_places=6)
    value = models.DecimalField(_("value"), default=ZERO, max_digits=24, decimal_places=4)
    last_date = models.DateField(_("date of the latest layer"), null=True, blank=True)
    last_in_cost = models.DecimalField(
        _("unit cost of the latest receipt"), null=True, blank=True, **MONEY
    )

    class Meta(CompanyOwned.Meta):
        verbose_name = _("valuation total")
        verbose_name_plural = _("valuation totals")

    def __str__(self) -> str:
        return f"{self.product_id}: {self.quantity} = {self.value}"
