"""Products and what is made of them: categories, variants, price lists, costs, BOMs, work
centers, routings and the product configurator."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from xietong.core.tenancy import CompanyOwned
from xietong.party.models import InvoicePolicy

QTY = {"max_digits": 18, "decimal_places": 6}
MONEY = {"max_digits": 18, "decimal_places": 6}  # unit prices and costs keep 6 decimals
PERCENT = {
    "max_digits": 7,
    "decimal_places": 3,
    "validators": [MinValueValidator(0), MaxValueValidator(100)],
}


class Category(CompanyOwned):
    name = models.CharField(_("name"), max_length=120)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent category"),
    )
    path = models.CharField(
        max_length=500, editable=False, db_index=True
    )  # "Bikes / E-bikes", kept by the service

    class Meta(CompanyOwned.Meta):
        ordering = ["path"]
        verbose_name = _("product category")
        verbose_name_plural = _("product categories")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "parent", "name"], name="product_category_unique"
            )
        ]

    def __str__(self) -> str:
        return self.path or self.name


class Product(CompanyOwned):
    class Type(models.TextChoices):
        STOCKABLE = "stockable", _("Stockable")
        CONSUMABLE = "consumable", _("Consumable")
        SERVICE = "service", _("Service")

    class Tracking(models.TextChoices):
        NONE = "none", _("Not tracked")
        LOT = "lot", _("By lot")
        SERIAL = "serial", _("By serial number")

    class Supply(models.TextChoices):
        BUY = "buy", _("Buy")
        MAKE = "make", _("Make")

    class LotSizing(models.TextChoices):
        LOT_FOR_LOT = "lot_for_lot", _("Lot for lot")
        FIXED = "fixed", _("Fixed order quantity")
        EOQ = "eoq", _("Economic order quantity")
        PERIODS = "periods", _("Periods of supply")
        MIN_MAX = "min_max", _("Min/max")

    sku = models.CharField(_("SKU"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    name_i18n = models.JSONField(_("translated names"), default=dict, blank=True)
    description = models.TextField(_("description"), blank=True)
    description_i18n = models.JSONField(_("translated descriptions"), default=dict, blank=True)
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="products",
        verbose_name=_("category"),
    )
    type = models.CharField(_("type"), max_length=12, choices=Type.choices, default=Type.STOCKABLE)
    uom = models.ForeignKey(
        "core.UnitOfMeasure",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("stock unit"),
    )
    purchase_uom = models.ForeignKey(
        "core.UnitOfMeasure",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("purchase unit"),
    )
    sales_uom = models.ForeignKey(
        "core.UnitOfMeasure",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("sales unit"),
    )
    barcode = models.CharField(_("barcode"), max_length=40, blank=True)
    weight_kg = models.DecimalField(_("weight (kg)"), null=True, blank=True, **QTY)
    volume_m3 = models.DecimalField(_("volume (m³)"), null=True, blank=True, **QTY)
    tracking = models.CharField(
        _("tracking"), max_length=8, choices=Tracking.choices, default=Tracking.NONE
    )
    supply = models.CharField(
        _("make or buy"), max_length=4, choices=Supply.choices, default=Supply.BUY
    )
    purchase_lead_days = models.PositiveSmallIntegerField(_("purchase lead time (days)"), default=0)
    inspection_required = models.BooleanField(_("quality inspection at receipt"), default=False)
    manufacturing_lead_days = models.PositiveSmallIntegerField(
        _("manufacturing lead time (days)"), default=0
    )
    safety_stock = models.DecimalField(_("safety stock"), default=Decimal(0), **QTY)
    min_qty = models.DecimalField(_("minimum stock"), default=Decimal(0), **QTY)
    max_qty = models.DecimalField(_("maximum stock"), default=Decimal(0), **QTY)
    lot_sizing = models.CharField(
        _("lot sizing"), max_length=12, choices=LotSizing.choices, default=LotSizing.LOT_FOR_LOT
    )
    lot_size = models.DecimalField(_("lot size"), default=Decimal(0), **QTY)
    lot_multiple = models.DecimalField(_("order multiple"), default=Decimal(0), **QTY)
    list_price = models.DecimalField(_("list price"), default=Decimal(0), **MONEY)
    standard_cost = models.DecimalField(_("standard cost"), default=Decimal(0), **MONEY)
    average_cost = models.DecimalField(_("moving average cost"), default=Decimal(0), **MONEY)
    is_configurable = models.BooleanField(_("configurable"), default=False)
    invoice_policy = models.CharField(
        _("invoicing policy"),
        max_length=10,
        choices=InvoicePolicy.choices,
        blank=True,
        help_text=_(
            "How order lines of this product are invoiced, whoever the customer. Empty: the "
            "customer's, else the company's sales settings. Services are invoiced on order."
        ),
    )
    active = models.BooleanField(_("active"), default=True)
    low_level_code = models.PositiveSmallIntegerField(
        _("low-level code"), default=0, editable=False
    )

    class Meta(CompanyOwned.Meta):
        ordering = ["sku"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.UniqueConstraint(fields=["company", "sku"], name="product_sku_unique"),
            models.CheckConstraint(
                condition=Q(list_price__gte=0) & Q(standard_cost__gte=0),
                name="product_prices_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"[{self.sku}] {self.display_name}"

    @property
    def display_name(self) -> str:
        """The name in the active language, falling back to the base name."""
        return self.name_i18n.get(translation.get_language() or "", "") or self.name


class Attribute(CompanyOwned):
    name = models.CharField(_("name"), max_length=60)

    class Meta(CompanyOwned.Meta):
        ordering = ["name"]
        verbose_name = _("attribute")
        verbose_name_plural = _("attributes")
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="product_attribute_unique")
        ]

    def __str__(self) -> str:
        return self.name


class AttributeValue(models.Model):
    attribute = models.ForeignKey(
        Attribute, on_delete=models.CASCADE, related_name="values", verbose_name=_("attribute")
    )
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=60)

    class Meta:
        ordering = ["attribute_id", "code"]
        verbose_name = _("attribute value")
        verbose_name_plural = _("attribute values")
        constraints = [
            models.UniqueConstraint(
                fields=["attribute", "code"], name="product_attribute_value_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def company_id(self) -> int | None:
        """The attribute's company, so that audit entries of a value belong to it."""
        return self.attribute.company_id if self.attribute_id else None

    def get_additional_data(self) -> dict[str, int | None]:
        return {"company_id": self.company_id, "attribute_id": self.attribute_id}


class Variant(CompanyOwned):
    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="variants", verbose_name=_("product")
    )
    sku = models.CharField(_("SKU"), max_length=60)
    barcode = models.CharField(_("barcode"), max_length=40, blank=True)
    values = models.ManyToManyField(
        AttributeValue, related_name="variants", verbose_name=_("attribute values")
    )
    price_extra = models.DecimalField(_("price extra"), default=Decimal(0), **MONEY)
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["sku"]
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        constraints = [
            models.UniqueConstraint(fields=["company", "sku"], name="product_variant_sku_unique")
        ]

    def __str__(self) -> str:
        return self.sku


class PriceList(CompanyOwned):
    name = models.CharField(_("name"), max_length=80)
    currency = models.ForeignKey(
        "core.Currency", on_delete=models.PROTECT, related_name="+", verbose_name=_("currency")
    )
    active = models.BooleanField(_("active"), default=True)
    is_default = models.BooleanField(
        _("company default"),
        default=False,
        help_text=_("Used for parties without a price list of their own."),
    )

    class Meta(CompanyOwned.Meta):
        ordering = ["name"]
        verbose_name = _("price list")
        verbose_name_plural = _("price lists")
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="product_pricelist_unique"),
            models.UniqueConstraint(
                fields=["company"],
                condition=Q(is_default=True),
                name="product_pricelist_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PriceRule(models.Model):
    """One rule of a price list. The most specific applicable rule wins (variant > product >
    category, customer group before none, higher minimum quantity first), then `sequence`."""

    class Method(models.TextChoices):
        FIXED = "fixed", _("Fixed price")
        DISCOUNT = "discount", _("Discount on list price")
        COST_PLUS = "cost_plus", _("Cost plus margin")

    price_list = models.ForeignKey(
        PriceList, on_delete=models.CASCADE, related_name="rules", verbose_name=_("price list")
    )
    sequence = models.PositiveIntegerField(_("sequence"), default=10)
    product = models.ForeignKey(
        Product,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("product"),
    )
    variant = models.ForeignKey(
        Variant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("variant"),
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("category"),
    )
    customer_group = models.ForeignKey(
        "party.CustomerGroup",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("customer group"),
    )
    min_qty = models.DecimalField(_("minimum quantity"), default=Decimal(0), **QTY)
    date_from = models.DateField(_("valid from"), null=True, blank=True)
    date_to = models.DateField(_("valid until"), null=True, blank=True)
    method = models.CharField(
        _("method"), max_length=10, choices=Method.choices, default=Method.FIXED
    )
    fixed_price = models.DecimalField(_("fixed price"), null=True, blank=True, **MONEY)
    discount_percent = models.DecimalField(_("discount (%)"), null=True, blank=True, **PERCENT)
    margin_percent = models.DecimalField(
        _("margin on cost (%)"),
        null=True,
        blank=True,
        max_digits=7,
        decimal_places=3,
        validators=[MinValueValidator(0)],
    )

    class Meta:
        ordering = ["price_list_id", "sequence", "id"]
        verbose_name = _("price rule")
        verbose_name_plural = _("price rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(date_from__isnull=True)
                | Q(date_to__isnull=True)
                | Q(date_from__lte=models.F("date_to")),
                name="product_rule_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.price_list_id}#{self.sequence}"

    @property
    def company_id(self) -> int | None:
        """The price list's company, so that audit entries of a rule belong to it."""
        return self.price_list.company_id if self.price_list_id else None

    def get_additional_data(self) -> dict[str, int | None]:
        """Extra data of this rule's audit entries: the price list shows them in its history."""
        return {"company_id": self.company_id, "price_list_id": self.price_list_id}


class CostRecord(CompanyOwned):
    """Cost history of a product: every change of standard or average cost, with its reason."""

    class Kind(models.TextChoices):
        STANDARD = "standard", _("Standard cost")
        AVERAGE = "average", _("Moving average cost")

    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="cost_history", verbose_name=_("product")
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    date = models.DateField(_("date"))
    cost = models.DecimalField(_("cost"), **MONEY)
    reason = models.CharField(_("reason"), max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["product_id", "-date", "-id"]
        verbose_name = _("cost record")
        verbose_name_plural = _("cost records")

    def __str__(self) -> str:
        return f"{self.product_id} {self.kind} {self.cost}"


class Bom(CompanyOwned):
    """A bill of materials of `product`: `quantity` of it (in `uom`) is made of the lines."""

    class Kind(models.TextChoices):
        NORMAL = "normal", _("Manufactured")
        PHANTOM = "phantom", _("Phantom (kit)")

    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="boms", verbose_name=_("product")
    )
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.NORMAL)
    quantity = models.DecimalField(_("quantity produced"), default=Decimal(1), **QTY)
    uom = models.ForeignKey(
        "core.UnitOfMeasure", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit")
    )
    effective_from = models.DateField(_("effective from"), null=True, blank=True)
    effective_to = models.DateField(_("effective until"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["product_id", "-version"]
        verbose_name = _("bill of materials")
        verbose_name_plural = _("bills of materials")
        constraints = [
            models.UniqueConstraint(
                fields=["product", "version"], name="product_bom_version_unique"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="product_bom_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} v{self.version}"


class BomLine(models.Model):
    bom = models.ForeignKey(
        Bom, on_delete=models.CASCADE, related_name="lines", verbose_name=_("bill of materials")
    )
    sequence = models.PositiveIntegerField(_("sequence"), default=10)
    component = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="used_in", verbose_name=_("component")
    )
    quantity = models.DecimalField(_("quantity"), **QTY)
    uom = models.ForeignKey(
        "core.UnitOfMeasure", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit")
    )
    scrap_percent = models.DecimalField(_("scrap (%)"), default=Decimal(0), **PERCENT)

    class Meta:
        ordering = ["bom_id", "sequence", "id"]
        verbose_name = _("BOM line")
        verbose_name_plural = _("BOM lines")
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="product_bomline_quantity_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.bom_id}: {self.quantity} × {self.component_id}"


class WorkCenter(CompanyOwned):
    """A machine group or line; capacity per day = hours per working day × units × efficiency."""

    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=80)
    working_days = models.JSONField(
        _("working days"), default=list, help_text=_("ISO weekdays, 1 = Monday")
    )
    hours_per_day = models.DecimalField(
        _("hours per working day"),
        max_digits=5,
        decimal_places=2,
        default=Decimal(8),
        validators=[MinValueValidator(0), MaxValueValidator(24)],
    )
    units = models.PositiveSmallIntegerField(_("parallel units"), default=1)
    efficiency_percent = models.DecimalField(
        _("efficiency (%)"),
        max_digits=6,
        decimal_places=2,
        default=Decimal(100),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(200)],
    )
    cost_per_hour = models.DecimalField(_("cost per hour"), default=Decimal(0), **MONEY)
    overhead_per_hour = models.DecimalField(_("overhead per hour"), default=Decimal(0), **MONEY)
    holidays = models.JSONField(_("closed dates"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["code"]
        verbose_name = _("work center")
        verbose_name_plural = _("work centers")
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="product_workcenter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Routing(CompanyOwned):
    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="routings", verbose_name=_("product")
    )
    name = models.CharField(_("name"), max_length=80)
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["product_id", "name"]
        verbose_name = _("routing")
        verbose_name_plural = _("routings")

    def __str__(self) -> str:
        return self.name


class RoutingOperation(models.Model):
    routing = models.ForeignKey(
        Routing, on_delete=models.CASCADE, related_name="operations", verbose_name=_("routing")
    )
    sequence = models.PositiveIntegerField(_("sequence"), default=10)
    name = models.CharField(_("operation"), max_length=80)
    work_center = models.ForeignKey(
        WorkCenter,
        on_delete=models.PROTECT,
        related_name="operations",
        verbose_name=_("work center"),
    )
    setup_minutes = models.DecimalField(
        _("setup (min)"),
        max_digits=10,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(0)],
    )
    run_minutes = models.DecimalField(
        _("run time per unit (min)"),
        max_digits=10,
        decimal_places=3,
        default=Decimal(0),
        validators=[MinValueValidator(0)],
    )

    class Meta:
        ordering = ["routing_id", "sequence", "id"]
        verbose_name = _("operation")
        verbose_name_plural = _("operations")

    def __str__(self) -> str:
        return f"{self.sequence} {self.name}"


class OptionGroup(models.Model):
    """A question of the configurator: choose one (radio) or several (checkboxes)."""

    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="option_groups", verbose_name=_("product")
    )
    sequence = models.PositiveSmallIntegerField(_("step"), default=10)
    code = models.SlugField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=80)
    multiple = models.BooleanField(_("choose several"), default=False)
    required = models.BooleanField(_("required"), default=True)

    class Meta:
        ordering = ["product_id", "sequence", "id"]
        verbose_name = _("option group")
        verbose_name_plural = _("option groups")
        constraints = [
            models.UniqueConstraint(fields=["product", "code"], name="product_optiongroup_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Option(models.Model):
    group = models.ForeignKey(
        OptionGroup,
        on_delete=models.CASCADE,
        related_name="options",
        verbose_name=_("option group"),
    )
    code = models.SlugField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=80)
    price_delta = models.DecimalField(_("price difference"), default=Decimal(0), **MONEY)
    is_default = models.BooleanField(_("default"), default=False)
    sequence = models.PositiveSmallIntegerField(_("sequence"), default=10)

    class Meta:
        ordering = ["group_id", "sequence", "id"]
        verbose_name = _("option")
        verbose_name_plural = _("options")
        constraints = [
            models.UniqueConstraint(fields=["group", "code"], name="product_option_unique")
        ]

    def __str__(self) -> str:
        return self.name


class OptionBomChange(models.Model):
    """What choosing an option does to the generated BOM."""

    class Action(models.TextChoices):
        ADD = "add", _("Add component")
        REMOVE = "remove", _("Remove component")
        REPLACE = "replace", _("Replace component")

    option = models.ForeignKey(
        Option, on_delete=models.CASCADE, related_name="bom_changes", verbose_name=_("option")
    )
    action = models.CharField(_("action"), max_length=8, choices=Action.choices)
    component = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", verbose_name=_("component")
    )
    replacement = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("replace with"),
    )
    quantity = models.DecimalField(_("quantity"), null=True, blank=True, **QTY)

    class Meta:
        verbose_name = _("BOM change")
        verbose_name_plural = _("BOM changes")

    def __str__(self) -> str:
        return f"{self.action} {self.component_id}"


class ConfigRule(models.Model):
    """`requires`: choosing `option` needs `other`; `excludes`: not both; `only_if`: `option` may
    only be chosen when `other` is."""

    class Kind(models.TextChoices):
        REQUIRES = "requires", _("requires")
        EXCLUDES = "excludes", _("excludes")
        ONLY_IF = "only_if", _("only if")

    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="config_rules", verbose_name=_("product")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    option = models.ForeignKey(
        Option, on_delete=models.CASCADE, related_name="+", verbose_name=_("option")
    )
    other = models.ForeignKey(
        Option, on_delete=models.CASCADE, related_name="+", verbose_name=_("other option")
    )
    message = models.CharField(_("message"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("configuration rule")
        verbose_name_plural = _("configuration rules")

    def __str__(self) -> str:
        return f"{self.option_id} {self.kind} {self.other_id}"


class ConfiguredItem(CompanyOwned):
    """The result of configuring a product: chosen options, price, generated BOM and cost."""

    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="configurations", verbose_name=_("product")
    )
    options = models.ManyToManyField(Option, related_name="+", verbose_name=_("options"))
    description = models.TextField(_("description"))
    currency = models.ForeignKey(
        "core.Currency", on_delete=models.PROTECT, related_name="+", verbose_name=_("currency")
    )
    price = models.DecimalField(_("unit price"), **MONEY)
    cost = models.DecimalField(_("unit cost"), **MONEY)
    bom = models.JSONField(_("generated BOM"), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-created_at"]
        verbose_name = _("configured item")
        verbose_name_plural = _("configured items")

    def __str__(self) -> str:
        return self.description[:60]


class ProductChange(models.Model):
    """A journal of the products whose planning data changed: written by database triggers on
    the tables that hold them (products, BOMs, stock moves and quants, requisitions, forecasts,
    MPS entries; see `product.changes`), whatever the code path (ORM, bulk writes, COPY), and
    read by MRP's net change to re-read only those products. A row without a product stands for
    every product of its company (a BOM, a unit or a location changed); without a company, for
    every company. ``txid``: on PostgreSQL, the id of the transaction that wrote it (rows are not
    numbered in commit order there); 0 on SQLite, where the row id is in commit order."""

    id = models.BigAutoField(primary_key=True)
    company_id = models.BigIntegerField(null=True, blank=True)
    product_id = models.BigIntegerField(null=True, blank=True)
    txid = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("product change")
        verbose_name_plural = _("product changes")
        indexes = [models.Index(fields=["company_id", "txid"], name="product_change_txid")]

    def __str__(self) -> str:
        return f"{self.company_id} {self.product_id} {self.txid}"


class ProductChangePruned(models.Model):
    """How far the journal of product changes has been pruned (one row): a reader whose
    watermark is older must read everything again."""

    id_upto = models.BigIntegerField(default=0)
    txid_upto = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("product change pruning")
        verbose_name_plural = _("product change pruning")

    def __str__(self) -> str:
        return f"{self.id_upto} {self.txid_upto}"
