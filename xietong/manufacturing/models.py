"""Plan to produce: demand forecasts, the master production schedule, MRP runs with their
planned orders, pegging and exception messages, what-if scenarios, and production orders with
their materials and operations.

The flow (DESIGN.md §5): forecasts entered by the planner (later: statistical forecasts from
analytics) and firm sales orders make the demand of the master production schedule; an MRP run
(a background job) explodes it through the BOMs with lot sizing and lead-time offsets into
planned purchase and production orders, pegged to the demands they serve; the planner firms
planned orders into purchase requisitions or production orders. Production orders reserve and
issue their materials, report time per operation, receive the finished goods and close with
their variances posted through finance.

Every plan belongs to a scenario: the company's live plan is the scenario marked `live`; a what-
if scenario is a copy with changes (demand, capacity, lead times) that is run and compared and
may be released to become the live plan."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from xietong.core.tenancy import CompanyOwned

ZERO = Decimal(0)
QTY = {"max_digits": 18, "decimal_places": 6}
AMOUNT = {"max_digits": 19, "decimal_places": 4}
MINUTES = {"max_digits": 14, "decimal_places": 3}


class PlanningSettings(CompanyOwned):
    """A company's planning defaults (created on first use)."""

    class Bucket(models.TextChoices):
        DAY = "day", _("Day")
        WEEK = "week", _("Week")

    bucket = models.CharField(_("bucket"), max_length=4, choices=Bucket.choices,
                              default=Bucket.WEEK)  # fmt: skip
    horizon = models.PositiveSmallIntegerField(
        _("horizon (buckets)"), default=26, help_text=_("How many buckets MRP plans ahead.")
    )
    frozen_days = models.PositiveSmallIntegerField(
        _("frozen fence (days)"),
        default=7,
        help_text=_(
            "Demand time fence: within it only firm orders count as demand and the master "
            "schedule cannot be changed."
        ),
    )
    slushy_days = models.PositiveSmallIntegerField(
        _("slushy fence (days)"),
        default=28,
        help_text=_(
            "Planning time fence: within it, forecast is consumed by orders and changes to the "
            "master schedule need the planner; beyond it the plan is liquid."
        ),
    )
    consume_backward_days = models.PositiveSmallIntegerField(
        _("forecast consumed backward (days)"), default=7
    )
    consume_forward_days = models.PositiveSmallIntegerField(
        _("forecast consumed forward (days)"), default=7
    )
    warehouse = models.ForeignKey(
        "inventory.Warehouse",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("production warehouse"),
    )
    absorption_account = models.ForeignKey(
        "finance.Account", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("absorbed labour and overhead account"),
        help_text=_("Credited with the labour and overhead of finished orders. Empty: "
                    "manufacturing overhead (CN 5101) or cost of sales."),
    )  # fmt: skip
    variance_account = models.ForeignKey(
        "finance.Account", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("production variance account"),
        help_text=_("Takes the material, labour and overhead variances of closed orders. "
                    "Empty: cost of sales."),
    )  # fmt: skip

    class Meta(CompanyOwned.Meta):
        verbose_name = _("planning settings")
        verbose_name_plural = _("planning settings")
        constraints = [
            models.UniqueConstraint(fields=["company"], name="manufacturing_settings_unique"),
            models.CheckConstraint(condition=Q(horizon__gt=0), name="manufacturing_horizon_pos"),
        ]

    def __str__(self) -> str:
        return str(_("Planning settings"))


class Forecast(CompanyOwned):
    """Expected independent demand for a product from `date` (the first day of a bucket)."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("Entered by the planner")
        IMPORT = "import", _("Imported")
        STATISTICAL = "statistical", _("Statistical forecast")

    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    date = models.DateField(_("date"))
    quantity = models.DecimalField(_("quantity"), **QTY)
    source = models.CharField(_("source"), max_length=12, choices=Source.choices,
                              default=Source.MANUAL)  # fmt: skip
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["product_id", "date"]
        verbose_name = _("forecast")
        verbose_name_plural = _("forecasts")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "product", "date", "source"],
                name="manufacturing_forecast_unique",
            ),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="manufacturing_forecast_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.date}: {self.quantity}"


class MpsEntry(CompanyOwned):
    """A firm quantity of a made product in the master production schedule, due in the bucket
    starting on `date`. MRP takes a product's firm entries as its supply plan: they explode into
    their components, and no new planned production of the product is made in a frozen bucket,
    nor in a slushy bucket holding an entry. Zero means "nothing here, firmly"."""

    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    date = models.DateField(_("date"))
    quantity = models.DecimalField(_("quantity"), **QTY)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("created by"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["product_id", "date"]
        verbose_name = _("firm MPS entry")
        verbose_name_plural = _("firm MPS entries")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "product", "date"], name="manufacturing_mps_entry_unique"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=0), name="manufacturing_mps_entry_pos"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.date}: {self.quantity}"


class Scenario(CompanyOwned):
    """A plan: the live one, or a what-if copy with its changes."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        RELEASED = "released", _("Released")
        ARCHIVED = "archived", _("Archived")

    name = models.CharField(_("name"), max_length=80)
    live = models.BooleanField(_("live plan"), default=False)
    state = models.CharField(_("state"), max_length=10, choices=State.choices,
                             default=State.DRAFT)  # fmt: skip
    base = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("copied from"),
    )
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    kpis = models.JSONField(_("key figures"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-live", "name"]
        verbose_name = _("plan scenario")
        verbose_name_plural = _("plan scenarios")
        constraints = [
            models.UniqueConstraint(
                fields=["company"], condition=Q(live=True), name="manufacturing_one_live_plan"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """The name; the company's first live plan has none and reads "Live plan" in the
        reader's language."""
        return self.name or str(_("Live plan"))


class PlanRun(CompanyOwned):
    """One MRP run of a scenario (regenerative or net change), done by a background job."""

    class Kind(models.TextChoices):
        REGENERATIVE = "regenerative", _("Regenerative")
        NET_CHANGE = "net_change", _("Net change")

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    scenario = models.ForeignKey(
        Scenario, on_delete=models.CASCADE, related_name="runs", verbose_name=_("scenario")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=8, choices=State.choices,
                             default=State.QUEUED)  # fmt: skip
    start = models.DateField(_("plan start"))
    bucket = models.CharField(_("bucket"), max_length=4, choices=PlanningSettings.Bucket.choices)
    horizon = models.PositiveSmallIntegerField(_("horizon (buckets)"))
    job = models.ForeignKey(
        "core.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("job"),
    )  # fmt: skip
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-requested_at", "-id"]
        verbose_name = _("MRP run")
        verbose_name_plural = _("MRP runs")

    def __str__(self) -> str:
        return f"{self.scenario_id} {self.kind} {self.requested_at:%Y-%m-%d %H:%M}"


class PlannedOrder(CompanyOwned):
    """A planned purchase or production order of a scenario's latest run; firming turns it into
    a purchase requisition line or a production order.

    The plan (planned orders, their pegging and the exception messages) is the output of a run,
    replaced whole by the next one: a catalogue of 50,000 items gives over a million rows a
    run. Its links (to the company, scenario, run, product and the documents it was firmed
    into) are therefore not checked by the database, row by row, as they are written — that
    check cost more than the writing itself — but by Django on delete (PROTECT, CASCADE, SET
    NULL as declared) and by the writer, which takes every id from rows it has just read
    (`planning._write`); `tests/test_planning.py` probes that no row points nowhere. For the
    same reason it has few indexes: by scenario and product, and on the firmed links where set."""

    company = models.ForeignKey(
        "core.Company",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,  # read by scenario (the index below), never by company alone
    )

    class Supply(models.TextChoices):
        BUY = "buy", _("Buy")
        MAKE = "make", _("Make")

    class State(models.TextChoices):
        PLANNED = "planned", _("Planned")
        FIRMED = "firmed", _("Firmed")

    scenario = models.ForeignKey(
        Scenario, on_delete=models.CASCADE, related_name="planned_orders",
        verbose_name=_("scenario"), db_constraint=False, db_index=False,  # the index below
    )  # fmt: skip
    run = models.ForeignKey(
        PlanRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("MRP run"), db_constraint=False, db_index=False,
    )  # fmt: skip
    product = models.ForeignKey(
        "product.Product",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("product"),
        db_constraint=False,
        db_index=False,  # read by scenario and product (the index below)
    )
    supply = models.CharField(_("make or buy"), max_length=4, choices=Supply.choices)
    release_date = models.DateField(_("release date"))
    due_date = models.DateField(_("due date"))
    quantity = models.DecimalField(_("quantity"), **QTY)
    state = models.CharField(_("state"), max_length=8, choices=State.choices,
                             default=State.PLANNED)  # fmt: skip
    past_due = models.BooleanField(_("release past due"), default=False)
    # set when firmed (empty on the rows a run writes): indexed where set only
    requisition_line = models.ForeignKey(
        "purchase.RequisitionLine", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("requisition line"), db_constraint=False,
        db_index=False,
    )  # fmt: skip
    production_order = models.ForeignKey(
        "ProductionOrder", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("production order"), db_constraint=False,
        db_index=False,
    )  # fmt: skip

    class Meta(CompanyOwned.Meta):
        ordering = ["release_date", "product_id", "id"]
        verbose_name = _("planned order")
        verbose_name_plural = _("planned orders")
        indexes = [
            models.Index(fields=["scenario", "product", "due_date"]),
            models.Index(fields=["requisition_line"], name="manufacturing_planned_req",
                         condition=Q(requisition_line__isnull=False)),
            models.Index(fields=["production_order"], name="manufacturing_planned_mo",
                         condition=Q(production_order__isnull=False)),
        ]  # fmt: skip
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="manufacturing_planned_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.supply} {self.quantity} × {self.product_id} due {self.due_date}"


class PegDemand(models.TextChoices):
    """What a planned order's quantity serves, one level up (`PlanPegging`)."""

    ORDER = "order", _("Planned order")
    SALES = "sales", _("Sales order")
    FORECAST = "forecast", _("Forecast")
    SAFETY = "safety", _("Safety stock")
    LOT = "lot", _("Lot size")
    MPS = "mps", _("Firm MPS entry")
    OTHER = "other", _("Other demand")


class PlanPegging(models.Model):
    """The single-level pegging of a plan, packed: how much of each planned order serves the
    requirement of a parent planned order, or one independent demand (a sales order line, a
    forecast, a firm MPS entry, another demand on stock; or safety stock and lot-size
    rounding). A plan of 50,000 items has some five million such lines, so they are stored
    as chunks of a few thousand fixed-width records each, sorted by planned order (`first_order`
    to `last_order`; one order's lines are never split), written and read by
    `planning.pegging_write` / `planning.pegs_of`. The full pegging of an order, up to the
    demands, is composed from them when it is shown (`planning.pegging_full`). A new run of the
    scenario replaces them all."""

    scenario = models.ForeignKey(
        Scenario, on_delete=models.CASCADE, related_name="+", verbose_name=_("scenario"),
        db_constraint=False,
    )  # fmt: skip
    run = models.ForeignKey(
        PlanRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("run"), db_constraint=False,
    )  # fmt: skip
    first_order = models.BigIntegerField(_("first planned order"))
    last_order = models.BigIntegerField(_("last planned order"))
    lines = models.PositiveIntegerField(_("lines"))
    data = models.BinaryField(_("records"))  # zlib-compressed `planning.PEG_RECORD` rows
    references = models.TextField(_("references"), blank=True)  # one per line

    class Meta:
        verbose_name = _("pegging")
        verbose_name_plural = _("pegging")
        indexes = [
            models.Index(fields=["scenario", "first_order"], name="manufacturing_peg_range"),
        ]

    def __str__(self) -> str:
        return f"{self.scenario_id}: {self.first_order}-{self.last_order} ({self.lines})"


class PlanException(CompanyOwned):
    """An MRP exception message: act on an existing order or on the plan."""

    class Kind(models.TextChoices):
        EXPEDITE = "expedite", _("Expedite")
        DEFER = "defer", _("Defer")
        CANCEL = "cancel", _("Cancel")
        PAST_DUE = "past_due", _("Past due")
        BELOW_SAFETY = "below_safety", _("Below safety stock")

    scenario = models.ForeignKey(
        Scenario, on_delete=models.CASCADE, related_name="exceptions", verbose_name=_("scenario")
    )
    run = models.ForeignKey(
        PlanRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("MRP run"),
    )  # fmt: skip
    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    date = models.DateField(_("date"))
    suggested_date = models.DateField(_("suggested date"), null=True, blank=True)
    quantity = models.DecimalField(_("quantity"), default=ZERO, **QTY)
    reference = models.CharField(_("reference"), max_length=80, blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["date", "product_id", "id"]
        verbose_name = _("exception message")
        verbose_name_plural = _("exception messages")
        indexes = [models.Index(fields=["scenario", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.product_id} {self.date}"


class ProductionOrder(CompanyOwned):
    """Make `quantity` of `product` from its BOM along its routing."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        RELEASED = "released", pgettext_lazy("production order", "Released")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        CLOSED = "closed", _("Closed")
        CANCELLED = "cancelled", _("Cancelled")

    # not done yet (they load capacity, are scheduled, supply stock); on the shop floor
    RUNNING_STATES = (State.RELEASED, State.IN_PROGRESS)
    OPEN_STATES = (State.DRAFT, State.RELEASED, State.IN_PROGRESS)

    number = models.CharField(_("number"), max_length=40)
    state = models.CharField(_("state"), max_length=12, choices=State.choices,
                             default=State.DRAFT)  # fmt: skip
    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    bom = models.ForeignKey(
        "product.Bom", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("bill of materials"),
    )  # fmt: skip
    routing = models.ForeignKey(
        "product.Routing", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("routing"),
    )  # fmt: skip
    quantity = models.DecimalField(_("quantity"), **QTY)
    uom = models.ForeignKey(
        "core.UnitOfMeasure", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit")
    )
    warehouse = models.ForeignKey(
        "inventory.Warehouse", on_delete=models.PROTECT, related_name="+",
        verbose_name=_("warehouse"),
    )  # fmt: skip
    start_date = models.DateField(_("planned start"))
    due_date = models.DateField(_("due date"))
    scheduled_start = models.DateTimeField(_("scheduled start"), null=True, blank=True)
    scheduled_end = models.DateTimeField(_("scheduled end"), null=True, blank=True)
    produced_qty = models.DecimalField(_("produced"), default=ZERO, **QTY)
    scrapped_qty = models.DecimalField(_("scrapped"), default=ZERO, **QTY)
    backflush = models.BooleanField(
        _("backflush materials"),
        default=True,
        help_text=_("Issue the materials when finished goods are reported, not one by one."),
    )
    origin = models.CharField(_("source document"), max_length=80, blank=True)
    material_cost = models.DecimalField(_("material cost"), default=ZERO, **AMOUNT)
    labour_cost = models.DecimalField(_("labour cost"), default=ZERO, **AMOUNT)
    overhead_cost = models.DecimalField(_("overhead cost"), default=ZERO, **AMOUNT)
    received_value = models.DecimalField(_("value received"), default=ZERO, **AMOUNT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("created by"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-start_date", "-id"]
        verbose_name = _("production order")
        verbose_name_plural = _("production orders")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "number"], name="manufacturing_order_number_unique"
            ),  # fmt: skip
            models.CheckConstraint(condition=Q(quantity__gt=0), name="manufacturing_order_qty_pos"),
            models.CheckConstraint(
                condition=Q(produced_qty__gte=0) & Q(scrapped_qty__gte=0),
                name="manufacturing_order_done_pos",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class ProductionMaterial(models.Model):
    """A component a production order consumes: required from the BOM (scrap included), reserved
    and issued through its inventory move."""

    order = models.ForeignKey(
        ProductionOrder, on_delete=models.CASCADE, related_name="materials",
        verbose_name=_("production order"),
    )  # fmt: skip
    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("component")
    )
    required_qty = models.DecimalField(_("required"), **QTY)
    issued_qty = models.DecimalField(_("issued"), default=ZERO, **QTY)
    uom = models.ForeignKey(
        "core.UnitOfMeasure", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit")
    )
    issued_value = models.DecimalField(_("value issued"), default=ZERO, **AMOUNT)

    class Meta:
        ordering = ["order_id", "id"]
        verbose_name = _("material")
        verbose_name_plural = _("materials")
        constraints = [
            models.CheckConstraint(
                condition=Q(required_qty__gte=0) & Q(issued_qty__gte=0),
                name="manufacturing_material_qty_pos",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.required_qty} × {self.product_id}"


class ProductionOperation(models.Model):
    """An operation of a production order at a work center, scheduled and reported."""

    class State(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        READY = "ready", _("Ready")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")

    order = models.ForeignKey(
        ProductionOrder, on_delete=models.CASCADE, related_name="operations",
        verbose_name=_("production order"),
    )  # fmt: skip
    sequence = models.PositiveIntegerField(_("sequence"), default=10)
    name = models.CharField(_("operation"), max_length=80)
    work_center = models.ForeignKey(
        "product.WorkCenter", on_delete=models.PROTECT, related_name="+",
        verbose_name=_("work center"),
    )  # fmt: skip
    planned_minutes = models.DecimalField(_("planned minutes"), **MINUTES)
    actual_minutes = models.DecimalField(_("actual minutes"), default=ZERO, **MINUTES)
    absorbed_minutes = models.DecimalField(
        _("absorbed minutes"), default=ZERO,
        help_text=_("Minutes whose labour and overhead finishes have charged to the order."),
        **MINUTES,
    )  # fmt: skip
    done_qty = models.DecimalField(_("quantity done"), default=ZERO, **QTY)
    scrap_qty = models.DecimalField(_("scrap"), default=ZERO, **QTY)
    state = models.CharField(_("state"), max_length=8, choices=State.choices,
                             default=State.WAITING)  # fmt: skip
    scheduled_start = models.DateTimeField(_("scheduled start"), null=True, blank=True)
    scheduled_end = models.DateTimeField(_("scheduled end"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)

    class Meta:
        ordering = ["order_id", "sequence", "id"]
        verbose_name = _("production operation")
        verbose_name_plural = _("production operations")
        indexes = [models.Index(fields=["work_center", "state"])]

    def __str__(self) -> str:
        return f"{self.sequence} {self.name}"


class TimeEntry(models.Model):
    """Time reported on an operation by an operator, with the quantity and scrap."""

    operation = models.ForeignKey(
        ProductionOperation, on_delete=models.CASCADE, related_name="time_entries",
        verbose_name=_("operation"),
    )  # fmt: skip
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("operator"),
    )  # fmt: skip
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"))
    minutes = models.DecimalField(_("minutes"), **MINUTES)
    quantity = models.DecimalField(_("quantity"), default=ZERO, **QTY)
    scrap = models.DecimalField(_("scrap"), default=ZERO, **QTY)

    class Meta:
        ordering = ["operation_id", "started_at"]
        verbose_name = _("time entry")
        verbose_name_plural = _("time entries")
        constraints = [
            models.CheckConstraint(condition=Q(minutes__gte=0), name="manufacturing_time_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.operation_id}: {self.minutes} min"


class ProductionReport(models.Model):
    """One finish reported on a production order (good quantity, scrap, the lot received) or
    one issue or return of materials by hand, with the values it booked: the order's history,
    and the shares later finishes backflush and absorb from."""

    class Kind(models.TextChoices):
        FINISH = "finish", _("Finish")
        ISSUE = "issue", _("Material issue")
        RETURN = "return", _("Material return")

    order = models.ForeignKey(
        ProductionOrder, on_delete=models.CASCADE, related_name="reports",
        verbose_name=_("production order"),
    )  # fmt: skip
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.FINISH)
    quantity = models.DecimalField(_("quantity"), default=ZERO, **QTY)
    scrap = models.DecimalField(_("scrap"), default=ZERO, **QTY)
    final = models.BooleanField(_("final"), default=False)
    lot = models.ForeignKey(
        "inventory.Lot", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("lot"),
    )  # fmt: skip
    serials = models.TextField(_("serial numbers"), blank=True)
    material_value = models.DecimalField(_("material value"), default=ZERO, **AMOUNT)
    labour_value = models.DecimalField(_("labour"), default=ZERO, **AMOUNT)
    overhead_value = models.DecimalField(_("overhead"), default=ZERO, **AMOUNT)
    received_value = models.DecimalField(_("value received"), default=ZERO, **AMOUNT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("reported by"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("reported at"), auto_now_add=True)

    class Meta:
        ordering = ["order_id", "id"]
        verbose_name = _("production report")
        verbose_name_plural = _("production reports")
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=0) & Q(scrap__gte=0),
                name="manufacturing_report_qty_pos",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.kind} {self.quantity}"
