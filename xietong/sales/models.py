"""Lead to cash: quotations (with versions), sales orders, the link of order lines to invoice
lines, down payments and returns (RMAs).

A quotation is revised by a new row with the same number and the next version; the revised one
keeps its lines and turns `revised`, so the history of what the customer saw stays readable.
Accepting a quotation makes a sales order. An order line's delivered, invoiced and returned
quantities are kept on the line by the services (from the done delivery moves, the posted
invoice lines and the done return moves), so that lists and the invoicing policy read them in one
query; the invariant tests recompute them from the moves and invoices.

Each order line carries its invoicing policy (`SalesOrderLine.invoice_policy`, ordered or
delivered quantities), resolved when the line is written (`xietong.sales.policies`); the order's
own `invoice_policy` is the default its lines started from."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xietong.core.tenancy import CompanyOwned
from xietong.party.models import InvoicePolicy  # party's (customers carry one); importable here

ZERO = Decimal(0)
AMOUNT = {"max_digits": 19, "decimal_places": 4}
PRICE = {"max_digits": 18, "decimal_places": 6}
QTY = {"max_digits": 18, "decimal_places": 6}
PERCENT = {"max_digits": 7, "decimal_places": 4}


class SalesSettings(CompanyOwned):
    """A company's defaults for quotations and orders (created on first use)."""

    warehouse = models.ForeignKey(
        "inventory.Warehouse",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("shipping warehouse"),
    )
    quotation_validity_days = models.PositiveSmallIntegerField(
        _("quotations valid for (days)"), default=30
    )
    invoice_policy = models.CharField(
        _("invoicing policy"),
        max_length=10,
        choices=InvoicePolicy.choices,
        default=InvoicePolicy.DELIVERY,
    )
    max_discount_percent = models.DecimalField(
        _("discount without approval (%) for customers without a group"),
        default=Decimal(10),
        **PERCENT,
    )
    down_payment_account = models.ForeignKey(
        "finance.Account",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("down payment account"),
    )
    return_days = models.PositiveSmallIntegerField(_("returns accepted for (days)"), default=30)
    default_tax = models.ForeignKey(
        "finance.Tax",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("default sales tax"),
    )

    class Meta(CompanyOwned.Meta):
        verbose_name = _("sales settings")
        verbose_name_plural = _("sales settings")
        constraints = [
            models.UniqueConstraint(fields=["company"], name="sales_settings_one_per_company")
        ]


class Document(CompanyOwned):
    """What quotations and orders share: customer, currency, addresses, terms, totals."""

    number = models.CharField(_("number"), max_length=40)
    party = models.ForeignKey(
        "party.Party", on_delete=models.PROTECT, related_name="+", verbose_name=_("customer")
    )
    contact = models.ForeignKey(
        "party.Contact",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("contact"),
    )
    shipping_address = models.ForeignKey(
        "party.Address",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("shipping address"),
    )
    date = models.DateField(_("date"))
    currency = models.ForeignKey(
        "core.Currency", on_delete=models.PROTECT, related_name="+", verbose_name=_("currency")
    )
    price_list = models.ForeignKey(
        "product.PriceList",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("price list"),
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
        verbose_name=_("warehouse"),
    )
    salesperson = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("salesperson"),
    )
    customer_reference = models.CharField(_("customer reference"), max_length=80, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    coupon_code = models.CharField(_("coupon code"), max_length=40, blank=True)
    amount_untaxed = models.DecimalField(_("untaxed amount"), default=ZERO, **AMOUNT)
    amount_tax = models.DecimalField(_("tax"), default=ZERO, **AMOUNT)
    amount_total = models.DecimalField(_("total"), default=ZERO, **AMOUNT)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        abstract = True


class DocumentLine(models.Model):
    """What quotation and order lines share."""

    sequence = models.PositiveSmallIntegerField(_("sequence"), default=0)
    product = models.ForeignKey(
        "product.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    configured_item = models.ForeignKey(
        "product.ConfiguredItem",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("configuration"),
    )
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(_("quantity"), **QTY)
    uom = models.ForeignKey(
        "core.UnitOfMeasure", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit")
    )
    list_price = models.DecimalField(_("price before discount"), default=ZERO, **PRICE)
    unit_price = models.DecimalField(_("unit price"), **PRICE)
    discount = models.DecimalField(_("discount (%)"), default=ZERO, **PERCENT)
    taxes = models.ManyToManyField("finance.Tax", blank=True, related_name="+")
    amount_untaxed = models.DecimalField(_("net amount"), default=ZERO, **AMOUNT)
    amount_tax = models.DecimalField(_("tax"), default=ZERO, **AMOUNT)
    amount_total = models.DecimalField(_("amount"), default=ZERO, **AMOUNT)
    promise_date = models.DateField(_("promised for"), null=True, blank=True)
    promise_note = models.CharField(_("promise"), max_length=200, blank=True)

    class Meta:
        abstract = True
        ordering = ["sequence", "id"]

    def __str__(self) -> str:
        return self.description


class Quotation(Document):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        TO_APPROVE = "to_approve", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        SENT = "sent", _("Sent")
        ACCEPTED = "accepted", _("Accepted")
        LOST = "lost", _("Declined by the customer")
        REVISED = "revised", _("Revised")
        CANCELLED = "cancelled", _("Cancelled")

    class Approval(models.TextChoices):
        NOT_NEEDED = "", _("Not needed")
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    version = models.PositiveSmallIntegerField(_("version"), default=1)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.DRAFT)
    valid_until = models.DateField(_("valid until"))
    approval = models.CharField(
        _("discount approval"), max_length=10, choices=Approval.choices, blank=True, default=""
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
    max_discount = models.DecimalField(_("largest discount (%)"), default=ZERO, **PERCENT)
    previous = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="next_version",
        verbose_name=_("revises"),
    )
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    lost_reason = models.CharField(_("reason"), max_length=200, blank=True)
    # the crm.Opportunity it was made for (crm is above sales: a plain id, set by crm)
    opportunity_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta(Document.Meta):
        ordering = ["-date", "-id"]
        verbose_name = _("quotation")
        verbose_name_plural = _("quotations")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "number", "version"], name="sales_quotation_number_version"
            )
        ]
        indexes = [
            models.Index(fields=["company", "state"], name="sales_quotation_state"),
            models.Index(fields=["opportunity_id"], name="sales_quotation_opportunity"),
        ]

    def __str__(self) -> str:
        return f"{self.number} v{self.version}" if self.version > 1 else self.number


class QuotationLine(DocumentLine):
    quotation = models.ForeignKey(
        Quotation, on_delete=models.CASCADE, related_name="lines", verbose_name=_("quotation")
    )

    class Meta(DocumentLine.Meta):
        verbose_name = _("quotation line")
        verbose_name_plural = _("quotation lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="sales_qline_quantity"),
            models.CheckConstraint(
                condition=Q(discount__gte=0) & Q(discount__lte=100), name="sales_qline_discount"
            ),
        ]


class SalesOrder(Document):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        HELD = "held", _("On credit hold")
        CONFIRMED = "confirmed", _("Confirmed")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    quotation = models.ForeignKey(
        Quotation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("quotation"),
    )
    invoice_policy = models.CharField(
        _("invoicing policy"), max_length=10, choices=InvoicePolicy.choices
    )
    requested_date = models.DateField(_("requested delivery date"), null=True, blank=True)
    hold_reason = models.CharField(_("hold reason"), max_length=300, blank=True)
    credit_process = models.ForeignKey(
        "workflow.ProcessInstance",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("credit override process"),
    )
    credit_approved = models.BooleanField(_("credit limit overridden"), default=False)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    cancel_reason = models.CharField(_("cancellation reason"), max_length=300, blank=True)

    class Meta(Document.Meta):
        ordering = ["-date", "-id"]
        verbose_name = _("sales order")
        verbose_name_plural = _("sales orders")
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="sales_order_number")
        ]
        indexes = [
            models.Index(fields=["company", "state"], name="sales_order_state"),
            models.Index(fields=["company", "party", "state"], name="sales_order_party_state"),
        ]

    def __str__(self) -> str:
        return self.number


class SalesOrderLine(DocumentLine):
    order = models.ForeignKey(
        SalesOrder, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order")
    )
    qty_delivered = models.DecimalField(_("delivered"), default=ZERO, **QTY)
    qty_invoiced = models.DecimalField(_("invoiced"), default=ZERO, **QTY)
    qty_returned = models.DecimalField(_("returned"), default=ZERO, **QTY)
    invoice_policy = models.CharField(  # resolved when written: `xietong.sales.policies`
        _("invoicing policy"),
        max_length=10,
        choices=InvoicePolicy.choices,
        default=InvoicePolicy.DELIVERY,
    )

    class Meta(DocumentLine.Meta):
        verbose_name = _("sales order line")
        verbose_name_plural = _("sales order lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="sales_oline_quantity"),
            models.CheckConstraint(
                condition=Q(discount__gte=0) & Q(discount__lte=100), name="sales_oline_discount"
            ),
            models.CheckConstraint(
                condition=Q(qty_delivered__gte=0) & Q(qty_returned__gte=0),
                name="sales_oline_quantities",
            ),
        ]


class InvoicedLine(models.Model):
    """An invoice (or credit note) line made from an order line, with the quantity it bills in
    the order line's unit (negative on credit notes)."""

    order_line = models.ForeignKey(
        SalesOrderLine,
        on_delete=models.PROTECT,
        related_name="invoiced",
        verbose_name=_("order line"),
    )
    invoice_line = models.OneToOneField(
        "finance.InvoiceLine", on_delete=models.CASCADE, related_name="+"
    )
    quantity = models.DecimalField(_("quantity"), **QTY)

    class Meta:
        verbose_name = _("invoiced order line")
        verbose_name_plural = _("invoiced order lines")

    def __str__(self) -> str:
        return f"{self.order_line_id} → {self.invoice_line_id}: {self.quantity}"


class DownPayment(CompanyOwned):
    """An advance invoiced on an order before delivery, deducted from the order's later
    invoices."""

    order = models.ForeignKey(
        SalesOrder, on_delete=models.PROTECT, related_name="down_payments", verbose_name=_("order")
    )
    invoice = models.ForeignKey(
        "finance.Invoice", on_delete=models.CASCADE, related_name="+", verbose_name=_("invoice")
    )
    amount = models.DecimalField(_("amount without tax"), **AMOUNT)
    deducted_by = models.ForeignKey(
        "finance.Invoice",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("deducted on"),
    )

    class Meta(CompanyOwned.Meta):
        verbose_name = _("down payment")
        verbose_name_plural = _("down payments")


class ReturnOrder(CompanyOwned):
    """A return authorisation (RMA) against a delivered order: the goods come back into stock or
    go to scrap, a credit note and, when the invoice was paid, a refund follow."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        AUTHORISED = "authorised", _("Authorised")
        RECEIVED = "received", _("Received")
        DONE = "done", _("Credited")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(_("number"), max_length=40)
    order = models.ForeignKey(
        SalesOrder, on_delete=models.PROTECT, related_name="returns", verbose_name=_("order")
    )
    party = models.ForeignKey(
        "party.Party", on_delete=models.PROTECT, related_name="+", verbose_name=_("customer")
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    date = models.DateField(_("date"))
    reason = models.CharField(_("reason"), max_length=300)
    picking = models.ForeignKey(
        "inventory.Picking",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("return receipt"),
    )
    credit_note = models.ForeignKey(
        "finance.Invoice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("credit note"),
    )
    refund = models.ForeignKey(
        "finance.Payment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("refund"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-date", "-id"]
        verbose_name = _("return")
        verbose_name_plural = _("returns")
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="sales_return_number")
        ]

    def __str__(self) -> str:
        return self.number


class ReturnLine(models.Model):
    class Disposition(models.TextChoices):
        RESTOCK = "restock", _("Back into stock")
        SCRAP = "scrap", _("Scrap")

    rma = models.ForeignKey(
        ReturnOrder, on_delete=models.CASCADE, related_name="lines", verbose_name=_("return")
    )
    order_line = models.ForeignKey(
        SalesOrderLine, on_delete=models.PROTECT, related_name="+", verbose_name=_("order line")
    )
    quantity = models.DecimalField(_("quantity"), **QTY)
    disposition = models.CharField(
        _("disposition"), max_length=10, choices=Disposition.choices, default=Disposition.RESTOCK
    )
    lot = models.ForeignKey(
        "inventory.Lot",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("lot/serial"),
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("return line")
        verbose_name_plural = _("return lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="sales_return_line_quantity")
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id}: {self.quantity}"
