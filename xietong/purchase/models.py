"""Procure to pay: purchase requisitions, requests for quotation (RFQs) with the suppliers'
answers and awards, purchase orders, quality inspections at receipt, the match of supplier
invoice lines to order lines (3-way match), landed costs and supplier prices.

The flow (DESIGN.md §5): requisition lines (from users, replenishment rules, later MRP) are
consolidated by a buyer into an RFQ or straight into purchase orders; an RFQ is sent to several
suppliers, whose answers (`RfqBid`, one per RFQ line and supplier) are compared and awarded,
partially if need be; awarded bids become purchase orders. An order is approved through the
"purchase_order_approval" process (amount bands), sent, confirmed by the supplier with promised
dates, and received against (partial receipts, a tolerance on over-receipt, an inspection for
products that require one: accepted quantities enter stock, rejected ones go back to the
supplier). Supplier invoice lines are linked to order lines (`BilledLine`) and matched against
the order's price and the accepted quantity; a mismatch blocks posting and opens a task for the
buyer. Landed costs (freight, duties) are allocated to the receipt moves and revalue stock.

An order line's received, rejected and billed quantities are kept on the line by the services
(from the done receipt moves, the inspections and the posted invoice lines), so that lists, the
match and the scorecard read them in one query; the invariant tests recompute them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xietong.core.tenancy import CompanyOwned

ZERO = Decimal(0)
AMOUNT = {"max_digits": 19, "decimal_places": 4}
PRICE = {"max_digits": 18, "decimal_places": 6}
QTY = {"max_digits": 18, "decimal_places": 6}
PERCENT = {"max_digits": 7, "decimal_places": 4}


def _user(verbose: str | object, *, related: str = "+", null: bool = True) -> models.ForeignKey:
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=null,
        blank=null,
        related_name=related,
        verbose_name=verbose,
    )


class PurchaseSettings(CompanyOwned):
    """A company's purchasing defaults and tolerances (created on first use)."""

    warehouse = models.ForeignKey(
        "inventory.Warehouse",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("receiving warehouse"),
    )
    default_tax = models.ForeignKey(
        "finance.Tax",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("default purchase tax"),
    )
    receipt_tolerance_percent = models.DecimalField(
        _("over-receipt tolerance (%)"), default=Decimal(5), **PERCENT
    )
    price_tolerance_percent = models.DecimalField(
        _("invoice price tolerance (%)"), default=Decimal(2), **PERCENT
    )
    quantity_tolerance_percent = models.DecimalField(
        _("invoice quantity tolerance (%)"), default=ZERO, **PERCENT
    )
    requisition_approval_limit = models.DecimalField(
        _("requisitions above this estimate need another person's approval"),
        default=Decimal(5000),
        **AMOUNT,
    )
    rfq_answer_days = models.PositiveSmallIntegerField(_("RFQ answers due after (days)"), default=7)
    landed_cost_account = models.ForeignKey(
        "finance.Account",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("landed costs clearing account"),
    )

    class Meta(CompanyOwned.Meta):
        verbose_name = _("purchase settings")
        verbose_name_plural = _("purchase settings")
        constraints = [
            models.UniqueConstraint(fields=["company"], name="purchase_settings_one_per_company")
        ]


class SupplierPrice(CompanyOwned):
    """A supplier's price and lead time for a product, from a minimum quantity, in a period."""

    supplier = models.ForeignKey(
        "party.Party", on_delete=models.CASCADE, related_name="+", verbose_name=_("supplier")
    )
    product = models.ForeignKey(
        "product.Product", on_delete=models.CASCADE, related_name="+", verbose_name=_("product")
    )
    supplier_code = models.CharField(_("supplier's product code"), max_length=60, blank=True)
    currency = models.ForeignKey(
        "core.Currency", on_delete=models.PROTECT, related_name="+", verbose_name=_("currency")
    )
    min_quantity = models.DecimalField(_("from quantity"), default=ZERO, **QTY)
    price = models.DecimalField(_("unit price"), **PRICE)
    lead_time_days = models.PositiveSmallIntegerField(_("lead time (days)"), default=0)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["product", "supplier", "min_quantity"]
        verbose_name = _("supplier price")
        verbose_name_plural = _("supplier prices")
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="purchase_sprice_price"),
            models.CheckConstraint(
                condition=Q(min_quantity__gte=0), name="purchase_sprice_min_quantity"
            ),
        ]
        indexes = [
            models.Index(fields=["company", "product", "supplier"], name="purchase_sprice_lookup")
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.supplier_id}: {self.price}"


class Requisition(CompanyOwned):
    """A request to buy: from a user, a replenishment rule or (later) MRP."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        TO_APPROVE = "to_approve", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        DONE = "done", _("Sourced")
        CANCELLED = "cancelled", _("Cancelled")

    class Source(models.TextChoices):
        MANUAL = "manual", _("Requested by a user")
        REPLENISHMENT = "replenishment", _("Replenishment rule")
        MRP = "mrp", _("Material requirements planning")

    number = models.CharField(_("number"), max_length=40)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.DRAFT)
    source = models.CharField(
        _("source"), max_length=14, choices=Source.choices, default=Source.MANUAL
    )
    requester = _user(_("requested by"))
    date = models.DateField(_("date"))
    warehouse = models.ForeignKey(
        "inventory.Warehouse",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("deliver to warehouse"),
    )
    notes = models.TextField(_("notes"), blank=True)
    amount_estimate = models.DecimalField(_("estimated amount"), default=ZERO, **AMOUNT)
    decided_by = _user(_("approved or rejected by"))
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_comment = models.TextField(_("decision comment"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-date", "-id"]
        verbose_name = _("purchase requisition")
        verbose_name_plural = _("purchase requisitions")
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="purchase_req_number")
        ]
        indexes = [models.Index(fields=["company", "state"], name="purchase_req_state")]

    def __str__(self) -> str:
        return self.number


class RequisitionLine(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("Open")
        IN_RFQ = "in_rfq", _("In an RFQ")
        ORDERED = "ordered", _("Ordered")
        CANCELLED = "cancelled", _("Cancelled")

    requisition = models.ForeignKey(
        Requisition, on_delete=models.CASCADE, related_name="lines", verbose_name=_("requisition")
    )
    sequence = models.PositiveSmallIntegerField(_("sequence"), default=0)
    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(_("quantity"), **QTY)
    uom = models.ForeignKey(
        "core.UnitOfMeasure", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit")
    )
    need_date = models.DateField(_("needed by"))
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    supplier = models.ForeignKey(
        "party.Party",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("suggested supplier"),
    )
    price_estimate = models.DecimalField(_("estimated unit price"), default=ZERO, **PRICE)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    rfq_line = models.ForeignKey(
        "RfqLine",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requisition_lines",
        verbose_name=_("RFQ line"),
    )
    order_line = models.ForeignKey(
        "PurchaseOrderLine",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requisition_lines",
        verbose_name=_("purchase order line"),
    )

    class Meta:
        ordering = ["sequence", "id"]
        verbose_name = _("requisition line")
        verbose_name_plural = _("requisition lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="purchase_rline_quantity")
        ]

    def __str__(self) -> str:
        return self.description


class Rfq(CompanyOwned):
    """A request for quotation sent to several suppliers."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENT = "sent", _("Sent")
        AWARDED = "awarded", _("Awarded")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(_("number"), max_length=40)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    date = models.DateField(_("date"))
    answer_by = models.DateField(_("answers due"))
    warehouse = models.ForeignKey(
        "inventory.Warehouse",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("deliver to warehouse"),
    )
    buyer = _user(_("buyer"))
    currency = models.ForeignKey(
        "core.Currency", on_delete=models.PROTECT, related_name="+", verbose_name=_("currency")
    )
    notes = models.TextField(_("notes"), blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    awarded_at = models.DateTimeField(_("awarded"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-date", "-id"]
        verbose_name = _("request for quotation")
        verbose_name_plural = _("requests for quotation")
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="purchase_rfq_number")
        ]
        indexes = [models.Index(fields=["company", "state"], name="purchase_rfq_state")]

    def __str__(self) -> str:
        return self.number


class RfqLine(models.Model):
    rfq = models.ForeignKey(Rfq, on_delete=models.CASCADE, related_name="lines",
                            verbose_name=_("RFQ"))  # fmt: skip
    sequence = models.PositiveSmallIntegerField(_("sequence"), default=0)
    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(_("quantity"), **QTY)
    uom = models.ForeignKey(
        "core.UnitOfMeasure", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit")
    )
    need_date = models.DateField(_("needed by"))

    class Meta:
        ordering = ["sequence", "id"]
        verbose_name = _("RFQ line")
        verbose_name_plural = _("RFQ lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="purchase_rfqline_quantity")
        ]

    def __str__(self) -> str:
        return self.description


class RfqSupplier(models.Model):
    """A supplier invited to answer an RFQ, and how and when it answered."""

    class State(models.TextChoices):
        INVITED = "invited", _("Invited")
        SENT = "sent", _("Sent")
        ANSWERED = "answered", _("Answered")
        DECLINED = "declined", _("Declined")

    rfq = models.ForeignKey(Rfq, on_delete=models.CASCADE, related_name="suppliers",
                            verbose_name=_("RFQ"))  # fmt: skip
    supplier = models.ForeignKey(
        "party.Party", on_delete=models.PROTECT, related_name="+", verbose_name=_("supplier")
    )
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.INVITED
    )
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    reference = models.CharField(_("supplier's quotation reference"), max_length=80, blank=True)
    valid_until = models.DateField(_("quotation valid until"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("invited supplier")
        verbose_name_plural = _("invited suppliers")
        constraints = [
            models.UniqueConstraint(fields=["rfq", "supplier"], name="purchase_rfq_supplier_once")
        ]

    def __str__(self) -> str:
        return f"{self.rfq_id}: {self.supplier_id}"


class RfqBid(models.Model):
    """A supplier's answer for one RFQ line: price, lead time, quantity offered; and what of it
    was awarded."""

    invitation = models.ForeignKey(
        RfqSupplier, on_delete=models.CASCADE, related_name="bids", verbose_name=_("supplier")
    )
    line = models.ForeignKey(
        RfqLine, on_delete=models.CASCADE, related_name="bids", verbose_name=_("RFQ line")
    )
    unit_price = models.DecimalField(_("unit price"), **PRICE)
    quantity = models.DecimalField(_("quantity offered"), **QTY)
    lead_time_days = models.PositiveSmallIntegerField(_("lead time (days)"), default=0)
    awarded_quantity = models.DecimalField(_("awarded quantity"), default=ZERO, **QTY)
    order_line = models.ForeignKey(
        "PurchaseOrderLine",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("purchase order line"),
    )

    class Meta:
        ordering = ["line", "unit_price", "id"]
        verbose_name = _("bid")
        verbose_name_plural = _("bids")
        constraints = [
            models.UniqueConstraint(fields=["invitation", "line"], name="purchase_bid_once"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="purchase_bid_price"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="purchase_bid_quantity"),
            models.CheckConstraint(
                condition=Q(awarded_quantity__gte=0), name="purchase_bid_awarded"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line_id}@{self.invitation_id}: {self.unit_price}"


class PurchaseOrder(CompanyOwned):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        TO_APPROVE = "to_approve", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        SENT = "sent", _("Sent")
        CONFIRMED = "confirmed", _("Confirmed by the supplier")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    class Approval(models.TextChoices):
        NOT_NEEDED = "", _("Not needed")
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    number = models.CharField(_("number"), max_length=40)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    party = models.ForeignKey(
        "party.Party", on_delete=models.PROTECT, related_name="+", verbose_name=_("supplier")
    )
    contact = models.ForeignKey(
        "party.Contact",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("contact"),
    )
    date = models.DateField(_("order date"))
    currency = models.ForeignKey(
        "core.Currency", on_delete=models.PROTECT, related_name="+", verbose_name=_("currency")
    )
    payment_term = models.ForeignKey(
        "party.PaymentTerm",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("payment terms"),
    )
    warehouse = models.ForeignKey(
        "inventory.Warehouse",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("deliver to warehouse"),
    )
    buyer = _user(_("buyer"))
    rfq = models.ForeignKey(
        Rfq,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("RFQ"),
    )
    supplier_reference = models.CharField(_("supplier's reference"), max_length=80, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    amount_untaxed = models.DecimalField(_("untaxed amount"), default=ZERO, **AMOUNT)
    amount_tax = models.DecimalField(_("tax"), default=ZERO, **AMOUNT)
    amount_total = models.DecimalField(_("total"), default=ZERO, **AMOUNT)
    amount_company = models.DecimalField(
        _("untaxed amount in company currency"), default=ZERO, **AMOUNT
    )
    approval = models.CharField(
        _("approval"), max_length=10, choices=Approval.choices, blank=True, default=""
    )
    approval_comment = models.TextField(_("approval comment"), blank=True)
    approval_process = models.ForeignKey(
        "workflow.ProcessInstance",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approval process"),
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed by the supplier"), null=True, blank=True)
    cancel_reason = models.CharField(_("cancellation reason"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-date", "-id"]
        verbose_name = _("purchase order")
        verbose_name_plural = _("purchase orders")
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="purchase_order_number")
        ]
        indexes = [
            models.Index(fields=["company", "state"], name="purchase_order_state"),
            models.Index(fields=["company", "party", "state"], name="purchase_order_party"),
        ]

    def __str__(self) -> str:
        return self.number


class PurchaseOrderLine(models.Model):
    order = models.ForeignKey(
        PurchaseOrder, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order")
    )
    sequence = models.PositiveSmallIntegerField(_("sequence"), default=0)
    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(_("quantity"), **QTY)
    uom = models.ForeignKey(
        "core.UnitOfMeasure", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit")
    )
    unit_price = models.DecimalField(_("unit price"), **PRICE)
    discount = models.DecimalField(_("discount (%)"), default=ZERO, **PERCENT)
    taxes = models.ManyToManyField("finance.Tax", blank=True, related_name="+")
    amount_untaxed = models.DecimalField(_("net amount"), default=ZERO, **AMOUNT)
    amount_tax = models.DecimalField(_("tax"), default=ZERO, **AMOUNT)
    amount_total = models.DecimalField(_("amount"), default=ZERO, **AMOUNT)
    need_date = models.DateField(_("needed by"))
    promised_date = models.DateField(_("promised for"), null=True, blank=True)
    qty_received = models.DecimalField(_("received (accepted)"), default=ZERO, **QTY)
    qty_rejected = models.DecimalField(_("rejected"), default=ZERO, **QTY)
    qty_billed = models.DecimalField(_("billed"), default=ZERO, **QTY)
    last_received_at = models.DateTimeField(_("last received"), null=True, blank=True)
    closed = models.BooleanField(_("closed (no more receipts expected)"), default=False)

    class Meta:
        ordering = ["sequence", "id"]
        verbose_name = _("purchase order line")
        verbose_name_plural = _("purchase order lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="purchase_oline_quantity"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="purchase_oline_price"),
            models.CheckConstraint(
                condition=Q(discount__gte=0) & Q(discount__lte=100), name="purchase_oline_discount"
            ),
            models.CheckConstraint(
                condition=Q(qty_received__gte=0) & Q(qty_rejected__gte=0),
                name="purchase_oline_quantities",
            ),
        ]

    def __str__(self) -> str:
        return self.description

    @property
    def net_price(self) -> Decimal:
        """The unit price after the line's discount."""
        return self.unit_price * (1 - self.discount / 100)


class Inspection(CompanyOwned):
    """The quality inspection of a quantity received on an order line: what was accepted into
    stock and what was rejected and returned to the supplier."""

    order_line = models.ForeignKey(
        PurchaseOrderLine,
        on_delete=models.PROTECT,
        related_name="inspections",
        verbose_name=_("order line"),
    )
    picking = models.ForeignKey(
        "inventory.Picking",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("receipt"),
    )
    date = models.DateField(_("date"))
    quantity = models.DecimalField(_("inspected"), **QTY)
    accepted = models.DecimalField(_("accepted"), **QTY)
    rejected = models.DecimalField(_("rejected"), **QTY)
    reason = models.CharField(_("rejection reason"), max_length=300, blank=True)
    inspector = _user(_("inspector"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-date", "-id"]
        verbose_name = _("quality inspection")
        verbose_name_plural = _("quality inspections")
        constraints = [
            models.CheckConstraint(
                condition=Q(accepted__gte=0) & Q(rejected__gte=0) & Q(quantity__gt=0),
                name="purchase_inspection_quantities",
            )
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id}: {self.accepted}/{self.quantity}"


class BilledLine(models.Model):
    """A supplier invoice (or credit note) line made against an order line, with the quantity it
    bills in the order line's unit (negative on credit notes)."""

    order_line = models.ForeignKey(
        PurchaseOrderLine,
        on_delete=models.PROTECT,
        related_name="billed",
        verbose_name=_("order line"),
    )
    invoice_line = models.OneToOneField(
        "finance.InvoiceLine", on_delete=models.CASCADE, related_name="+"
    )
    quantity = models.DecimalField(_("quantity"), **QTY)

    class Meta:
        verbose_name = _("billed order line")
        verbose_name_plural = _("billed order lines")

    def __str__(self) -> str:
        return f"{self.order_line_id} → {self.invoice_line_id}: {self.quantity}"


class InvoiceMatch(CompanyOwned):
    """The 3-way match of a supplier invoice against its purchase orders and receipts."""

    class State(models.TextChoices):
        MATCHED = "matched", _("Matched")
        MISMATCH = "mismatch", _("Mismatch")
        ACCEPTED = "accepted", _("Variance accepted")

    invoice = models.OneToOneField(
        "finance.Invoice", on_delete=models.CASCADE, related_name="+", verbose_name=_("invoice")
    )
    state = models.CharField(_("match"), max_length=10, choices=State.choices)
    problems = models.JSONField(_("problems"), default=list, blank=True)
    checked_at = models.DateTimeField(_("checked"))
    process = models.ForeignKey(
        "workflow.ProcessInstance",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolution process"),
    )
    resolved_by = _user(_("resolved by"))
    resolution = models.TextField(_("resolution"), blank=True)

    class Meta(CompanyOwned.Meta):
        verbose_name = _("invoice match")
        verbose_name_plural = _("invoice matches")
        indexes = [models.Index(fields=["company", "state"], name="purchase_match_state")]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.state}"


class LandedCost(CompanyOwned):
    """Freight, duties and other costs of bringing received goods in, allocated to the receipt
    moves and added to their stock value."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        DONE = "done", _("Posted")
        CANCELLED = "cancelled", _("Cancelled")

    class Split(models.TextChoices):
        VALUE = "value", _("By value")
        QUANTITY = "quantity", _("By quantity")
        WEIGHT = "weight", _("By weight")
        EQUAL = "equal", _("Equally")

    number = models.CharField(_("number"), max_length=40)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    date = models.DateField(_("date"))
    description = models.CharField(_("description"), max_length=300)
    amount = models.DecimalField(_("amount"), **AMOUNT)
    split = models.CharField(_("split"), max_length=10, choices=Split.choices, default=Split.VALUE)
    pickings = models.ManyToManyField("inventory.Picking", related_name="+",
                                      verbose_name=_("receipts"))  # fmt: skip
    invoice = models.ForeignKey(
        "finance.Invoice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cost invoice"),
    )
    entry = models.ForeignKey(
        "finance.Entry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("journal entry"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-date", "-id"]
        verbose_name = _("landed cost")
        verbose_name_plural = _("landed costs")
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="purchase_landed_number"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="purchase_landed_amount"),
        ]

    def __str__(self) -> str:
        return self.number


class LandedCostLine(models.Model):
    """The share of a landed cost given to one receipt move."""

    landed_cost = models.ForeignKey(
        LandedCost, on_delete=models.CASCADE, related_name="lines", verbose_name=_("landed cost")
    )
    move = models.ForeignKey(
        "inventory.Move", on_delete=models.PROTECT, related_name="+", verbose_name=_("move")
    )
    amount = models.DecimalField(_("amount"), **AMOUNT)

    class Meta:
        ordering = ["id"]
        verbose_name = _("landed cost share")
        verbose_name_plural = _("landed cost shares")

    def __str__(self) -> str:
        return f"{self.move_id}: {self.amount}"
