"""The general ledger and the documents that post into it.

Ledger: accounts (a chart per company), journals, fiscal years and periods, entries and their
lines, reconciliation matches. Documents: taxes, invoices and credit notes, payments, bank
statements, dunning. Every amount is a `Decimal`; ledger amounts are in the company currency,
rounded to its minor unit at posting, and each line also carries its transaction-currency amount
and the rate used.

A posted entry is immutable. The services never update one; the database refuses it too
(triggers installed by migration 0002 on PostgreSQL and SQLite): no UPDATE or DELETE of a posted
entry or of a line of one, no line added to it, no entry posted unbalanced or into a closed
period, no closed period reopened. Each posted entry carries `hash`, a SHA-256 over its content
and the previous entry's hash in the same journal, so an edit made with the triggers dropped is
still found by `xietong ledger_verify`.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xietong.core.tenancy import CompanyOwned

AMOUNT = {"max_digits": 19, "decimal_places": 4}  # ledger and document amounts
PRICE = {"max_digits": 18, "decimal_places": 6}  # unit prices keep 6 decimals
RATE = {"max_digits": 20, "decimal_places": 10}  # units of company currency per 1 unit
QUANTITY = {"max_digits": 18, "decimal_places": 6}
ZERO = Decimal(0)


class AccountType(models.TextChoices):
    ASSET = "asset", _("Asset")
    LIABILITY = "liability", _("Liability")
    EQUITY = "equity", _("Equity")
    INCOME = "income", _("Income")
    EXPENSE = "expense", _("Expense")


class AccountSubtype(models.TextChoices):
    NONE = "", _("Other")
    RECEIVABLE = "receivable", _("Receivable")
    PAYABLE = "payable", _("Payable")
    BANK = "bank", _("Bank")
    CASH = "cash", _("Cash")
    STOCK = "stock", _("Stock")
    CURRENT_ASSET = "current_asset", _("Other current asset")
    FIXED_ASSET = "fixed_asset", _("Fixed asset")
    DEPRECIATION = "depreciation", _("Accumulated depreciation")
    TAX = "tax", _("Tax")
    CURRENT_LIABILITY = "current_liability", _("Other current liability")
    LONG_TERM_LIABILITY = "long_term_liability", _("Long-term liability")
    RETAINED_EARNINGS = "retained_earnings", _("Retained earnings")
    CURRENT_EARNINGS = "current_earnings", _("Profit for the year")
    COST_OF_SALES = "cost_of_sales", _("Cost of sales")
    NON_CASH_EXPENSE = "non_cash_expense", _("Depreciation and amortisation expense")


class CashFlowSection(models.TextChoices):
    """Where an account's change appears in the indirect cash-flow statement."""

    NONE = "", _("Not in the cash-flow statement")
    OPERATING = "operating", _("Operating activities")
    INVESTING = "investing", _("Investing activities")
    FINANCING = "financing", _("Financing activities")
    CASH = "cash", _("Cash and cash equivalents")


class Account(CompanyOwned):
    """An account of the company's chart. Group accounts sum their children and take no
    postings; `currency`, when set, is the only transaction currency allowed on it."""

    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=160)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent account"),
    )
    type = models.CharField(_("type"), max_length=12, choices=AccountType.choices)
    subtype = models.CharField(
        _("subtype"), max_length=24, choices=AccountSubtype.choices, blank=True, default=""
    )
    cash_flow = models.CharField(
        _("cash-flow section"),
        max_length=12,
        choices=CashFlowSection.choices,
        blank=True,
        default="",
    )
    is_group = models.BooleanField(_("group account"), default=False)
    reconcile = models.BooleanField(_("reconcilable"), default=False)
    currency = models.ForeignKey(
        "core.Currency",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("account currency"),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["code"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="finance_account_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def debit_normal(self) -> bool:
        return self.type in (AccountType.ASSET, AccountType.EXPENSE)


class Journal(CompanyOwned):
    class Kind(models.TextChoices):
        SALES = "sales", _("Sales")
        PURCHASE = "purchase", _("Purchases")
        BANK = "bank", _("Bank")
        CASH = "cash", _("Cash")
        STOCK = "stock", _("Stock")
        GENERAL = "general", _("General")

    code = models.CharField(_("code"), max_length=10)
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("bank or cash account"),
    )
    currency = models.ForeignKey(
        "core.Currency",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("currency"),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["code"]
        verbose_name = _("journal")
        verbose_name_plural = _("journals")
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="finance_journal_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def sequence_code(self) -> str:
        """The gap-free numbering series of this journal's entries (core.numbering)."""
        return f"finance.journal.{self.code}"


class FiscalYear(CompanyOwned):
    class State(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    name = models.CharField(_("name"), max_length=40)
    start = models.DateField(_("start"))
    end = models.DateField(_("end"))
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.OPEN)
    closing_entry = models.ForeignKey(
        "Entry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closing entry"),
    )

    class Meta(CompanyOwned.Meta):
        ordering = ["start"]
        verbose_name = _("fiscal year")
        verbose_name_plural = _("fiscal years")
        constraints = [
            models.UniqueConstraint(fields=["company", "start"], name="finance_year_unique"),
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="finance_year_order"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Period(CompanyOwned):
    """A month (or other span) of a fiscal year. Closing it locks it for good: nothing more is
    posted with a date inside it, and the database refuses to reopen it."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    fiscal_year = models.ForeignKey(
        FiscalYear, on_delete=models.CASCADE, related_name="periods", verbose_name=_("fiscal year")
    )
    name = models.CharField(_("name"), max_length=40)
    start = models.DateField(_("start"))
    end = models.DateField(_("end"))
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.OPEN)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )

    class Meta(CompanyOwned.Meta):
        ordering = ["start"]
        verbose_name = _("period")
        verbose_name_plural = _("periods")
        constraints = [
            models.UniqueConstraint(fields=["company", "start"], name="finance_period_unique"),
            models.CheckConstraint(
                condition=Q(end__gte=models.F("start")), name="finance_period_order"
            ),
        ]
        indexes = [models.Index(fields=["company", "state", "start"], name="finance_period_lookup")]

    def __str__(self) -> str:
        return self.name


class AnalyticTag(CompanyOwned):
    """A reporting dimension on ledger lines (project, department, region…). Tags are not part
    of the entry hash and may be corrected on posted lines, as in most ledgers."""

    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=80)
    dimension = models.CharField(_("dimension"), max_length=40, blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["dimension", "code"]
        verbose_name = _("analytic tag")
        verbose_name_plural = _("analytic tags")
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="finance_tag_code_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Entry(CompanyOwned):
    """A journal entry. Created as a draft with its lines, then posted by `entry_post`: numbered
    (gap-free per journal and year), chained into the journal's hash chain and frozen."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        POSTED = "posted", _("Posted")

    journal = models.ForeignKey(
        Journal, on_delete=models.PROTECT, related_name="entries", verbose_name=_("journal")
    )
    number = models.CharField(_("number"), max_length=40, blank=True)
    date = models.DateField(_("date"))
    period = models.ForeignKey(
        Period,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="entries",
        verbose_name=_("period"),
    )
    ref = models.CharField(_("reference"), max_length=120, blank=True)
    narration = models.TextField(_("narration"), blank=True)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.DRAFT)
    reversal_of = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        verbose_name=_("reversal of"),
    )
    # The business document that produced the entry ("finance.invoice", 42), for drill-down.
    source_type = models.CharField(_("source document type"), max_length=60, blank=True)
    source_id = models.PositiveBigIntegerField(_("source document"), null=True, blank=True)
    auto_reverse_on = models.DateField(_("reverse automatically on"), null=True, blank=True)
    # The year-end entry that moves profit and loss to retained earnings; the income statement
    # leaves it out.
    closing = models.BooleanField(_("year-end closing"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("posted by"),
    )
    chain_index = models.PositiveBigIntegerField(_("position in the journal's chain"), null=True)
    previous_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(_("hash"), max_length=64, blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-date", "-id"]
        verbose_name = _("journal entry")
        verbose_name_plural = _("journal entries")
        constraints = [
            models.UniqueConstraint(
                fields=["journal", "chain_index"], name="finance_entry_chain_unique"
            ),
            models.UniqueConstraint(
                fields=["journal", "number"],
                condition=~Q(number=""),
                name="finance_entry_number_unique",
            ),
            models.CheckConstraint(
                condition=Q(state="draft") | (Q(chain_index__isnull=False) & ~Q(hash="")),
                name="finance_entry_posted_is_chained",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "journal", "-date", "-id"], name="finance_entry_list"),
            models.Index(fields=["source_type", "source_id"], name="finance_entry_source"),
        ]

    def __str__(self) -> str:
        return self.number or _("Draft entry %(id)s") % {"id": self.pk}


class Line(CompanyOwned):
    """One debit or credit of an entry, in company currency (`debit`/`credit`, one of them
    zero) and in the transaction currency (`amount_currency`, signed: + debit, − credit)."""

    entry = models.ForeignKey(
        Entry, on_delete=models.CASCADE, related_name="lines", verbose_name=_("entry")
    )
    sequence = models.PositiveSmallIntegerField(_("sequence"), default=0)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="lines", verbose_name=_("account")
    )
    date = models.DateField(_("date"))  # the entry's date, repeated for the reports' indexes
    label = models.CharField(_("label"), max_length=200, blank=True)
    debit = models.DecimalField(_("debit"), default=ZERO, **AMOUNT)
    credit = models.DecimalField(_("credit"), default=ZERO, **AMOUNT)
    currency = models.ForeignKey(
        "core.Currency", on_delete=models.PROTECT, related_name="+", verbose_name=_("currency")
    )
    amount_currency = models.DecimalField(_("amount in currency"), **AMOUNT)
    rate = models.DecimalField(_("exchange rate"), default=Decimal(1), **RATE)
    party = models.ForeignKey(
        "party.Party",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("party"),
    )
    product = models.ForeignKey(
        "product.Product",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("product"),
    )
    tax = models.ForeignKey(
        "Tax",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("tax"),
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)
    analytic_tags = models.ManyToManyField(
        AnalyticTag, blank=True, related_name="lines", verbose_name=_("analytic tags")
    )

    class Meta(CompanyOwned.Meta):
        ordering = ["entry_id", "sequence", "id"]
        verbose_name = _("journal line")
        verbose_name_plural = _("journal lines")
        constraints = [
            models.CheckConstraint(
                condition=Q(debit__gte=0) & Q(credit__gte=0) & (Q(debit=0) | Q(credit=0)),
                name="finance_line_one_side",
            ),
        ]
        indexes = [
            # trial balance and general ledger: one account's lines by date
            models.Index(fields=["company", "account", "date"], name="finance_line_account_date"),
            models.Index(fields=["company", "date"], name="finance_line_date"),
            # open items of a party (aging, statements, payment allocation)
            models.Index(fields=["company", "party", "account"], name="finance_line_party"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.debit} / {self.credit}"

    @property
    def balance(self) -> Decimal:
        return self.debit - self.credit


class Match(CompanyOwned):
    """A (partial) reconciliation: `amount` of a debit line settled by a credit line of the same
    reconcilable account and party. A line's residual is its balance less its matches; matches
    are not ledger entries and are undone by deleting them."""

    debit_line = models.ForeignKey(
        Line, on_delete=models.PROTECT, related_name="debit_matches", verbose_name=_("debit line")
    )
    credit_line = models.ForeignKey(
        Line, on_delete=models.PROTECT, related_name="credit_matches", verbose_name=_("credit line")
    )
    amount = models.DecimalField(_("amount"), **AMOUNT)  # company currency
    amount_currency = models.DecimalField(_("amount in currency"), **AMOUNT)
    exchange_entry = models.ForeignKey(
        Entry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("exchange difference entry"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta(CompanyOwned.Meta):
        ordering = ["id"]
        verbose_name = _("reconciliation")
        verbose_name_plural = _("reconciliations")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="finance_match_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.debit_line_id} ↔ {self.credit_line_id}: {self.amount}"


class FinanceSettings(CompanyOwned):
    """A company's accounting policies and default accounts and journals."""

    class TaxRounding(models.TextChoices):
        PER_LINE = "per_line", _("Round tax on each line")
        GLOBAL = "global", _("Round tax once per invoice")

    class RoundingMode(models.TextChoices):
        HALF_UP = "ROUND_HALF_UP", _("Half up")
        HALF_EVEN = "ROUND_HALF_EVEN", _("Half even (banker's)")
        UP = "ROUND_UP", _("Up (away from zero)")
        DOWN = "ROUND_DOWN", _("Down (towards zero)")

    chart = models.CharField(_("chart of accounts template"), max_length=20, blank=True)
    tax_rounding = models.CharField(
        _("tax rounding"), max_length=10, choices=TaxRounding.choices, default=TaxRounding.PER_LINE
    )
    rounding_mode = models.CharField(
        _("rounding mode"),
        max_length=16,
        choices=RoundingMode.choices,
        default=RoundingMode.HALF_UP,
    )
    receivable_account = models.ForeignKey(
        Account, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("receivable account"),
    )  # fmt: skip
    payable_account = models.ForeignKey(
        Account, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("payable account"),
    )  # fmt: skip
    income_account = models.ForeignKey(
        Account, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("sales income account"),
    )  # fmt: skip
    expense_account = models.ForeignKey(
        Account, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("purchase expense account"),
    )  # fmt: skip
    exchange_gain_account = models.ForeignKey(
        Account, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("exchange gain account"),
    )  # fmt: skip
    exchange_loss_account = models.ForeignKey(
        Account, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("exchange loss account"),
    )  # fmt: skip
    retained_earnings_account = models.ForeignKey(
        Account, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("retained earnings account"),
    )  # fmt: skip
    discount_account = models.ForeignKey(
        Account, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("cash discount account"),
    )  # fmt: skip
    sales_journal = models.ForeignKey(
        Journal, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("sales journal"),
    )  # fmt: skip
    purchase_journal = models.ForeignKey(
        Journal, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("purchase journal"),
    )  # fmt: skip
    general_journal = models.ForeignKey(
        Journal, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("general journal"),
    )  # fmt: skip
    dunning_fee = models.DecimalField(_("dunning fee"), default=ZERO, **AMOUNT)

    class Meta(CompanyOwned.Meta):
        verbose_name = _("finance settings")
        verbose_name_plural = _("finance settings")
        constraints = [
            models.UniqueConstraint(fields=["company"], name="finance_settings_one_per_company")
        ]

    def __str__(self) -> str:
        return str(self.company)


class Tax(CompanyOwned):
    """A percentage tax. `price_include`: the price already contains it. `compound`: computed on
    the base plus the taxes before it (by `sequence`)."""

    class Use(models.TextChoices):
        SALE = "sale", _("Sales")
        PURCHASE = "purchase", _("Purchases")

    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=80)
    use = models.CharField(_("used on"), max_length=10, choices=Use.choices)
    rate = models.DecimalField(_("rate (%)"), max_digits=8, decimal_places=4)
    price_include = models.BooleanField(_("included in price"), default=False)
    compound = models.BooleanField(_("compound"), default=False)
    sequence = models.PositiveSmallIntegerField(_("sequence"), default=10)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+", verbose_name=_("tax account")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["use", "sequence", "code"]
        verbose_name = _("tax")
        verbose_name_plural = _("taxes")
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="finance_tax_code_unique"),
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lte=1000), name="finance_tax_rate_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Invoice(CompanyOwned):
    """A customer or supplier invoice or credit note. Posting creates its entry (receivable or
    payable lines per installment, income/expense lines, tax lines); cancelling a posted one
    posts the reversal. `payment_state` follows the reconciliation of its open lines."""

    class Kind(models.TextChoices):
        CUSTOMER_INVOICE = "out_invoice", _("Customer invoice")
        CUSTOMER_CREDIT = "out_refund", _("Customer credit note")
        SUPPLIER_INVOICE = "in_invoice", _("Supplier invoice")
        SUPPLIER_CREDIT = "in_refund", _("Supplier credit note")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        POSTED = "posted", _("Posted")
        CANCELLED = "cancelled", _("Cancelled")

    class PaymentState(models.TextChoices):
        NOT_PAID = "not_paid", _("Not paid")
        PARTIAL = "partial", _("Partially paid")
        PAID = "paid", _("Paid")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    payment_state = models.CharField(
        _("payment"), max_length=10, choices=PaymentState.choices, default=PaymentState.NOT_PAID
    )
    number = models.CharField(_("number"), max_length=40, blank=True)
    party = models.ForeignKey(
        "party.Party", on_delete=models.PROTECT, related_name="+", verbose_name=_("party")
    )
    journal = models.ForeignKey(
        Journal, on_delete=models.PROTECT, related_name="+", verbose_name=_("journal")
    )
    date = models.DateField(_("invoice date"))
    currency = models.ForeignKey(
        "core.Currency", on_delete=models.PROTECT, related_name="+", verbose_name=_("currency")
    )
    rate = models.DecimalField(_("exchange rate"), null=True, blank=True, **RATE)
    payment_term = models.ForeignKey(
        "party.PaymentTerm",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("payment term"),
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)  # the last installment's
    reference = models.CharField(_("reference"), max_length=80, blank=True)
    origin = models.CharField(_("source document"), max_length=80, blank=True)
    source_type = models.CharField(max_length=60, blank=True)
    source_id = models.PositiveBigIntegerField(null=True, blank=True)
    credited_invoice = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_notes",
        verbose_name=_("credited invoice"),
    )
    language = models.CharField(_("language"), max_length=10, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    amount_untaxed = models.DecimalField(_("untaxed amount"), default=ZERO, **AMOUNT)
    amount_tax = models.DecimalField(_("tax"), default=ZERO, **AMOUNT)
    amount_total = models.DecimalField(_("total"), default=ZERO, **AMOUNT)
    amount_residual = models.DecimalField(_("amount due"), default=ZERO, **AMOUNT)
    entry = models.OneToOneField(
        Entry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoice",
        verbose_name=_("journal entry"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta(CompanyOwned.Meta):
        ordering = ["-date", "-id"]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "journal", "number"],
                condition=~Q(number=""),
                name="finance_invoice_number_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "kind", "-date", "-id"], name="finance_invoice_list"),
            models.Index(fields=["company", "party", "state"], name="finance_invoice_party"),
            models.Index(fields=["source_type", "source_id"], name="finance_invoice_source"),
        ]

    def __str__(self) -> str:
        return self.number or _("Draft invoice %(id)s") % {"id": self.pk}

    @property
    def is_customer(self) -> bool:
        return self.kind in (self.Kind.CUSTOMER_INVOICE, self.Kind.CUSTOMER_CREDIT)

    @property
    def is_credit_note(self) -> bool:
        return self.kind in (self.Kind.CUSTOMER_CREDIT, self.Kind.SUPPLIER_CREDIT)


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="lines", verbose_name=_("invoice")
    )
    sequence = models.PositiveSmallIntegerField(_("sequence"), default=0)
    product = models.ForeignKey(
        "product.Product",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("product"),
    )
    description = models.CharField(_("description"), max_length=300)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+", verbose_name=_("account")
    )
    quantity = models.DecimalField(_("quantity"), default=Decimal(1), **QUANTITY)
    uom = models.ForeignKey(
        "core.UnitOfMeasure",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("unit"),
    )
    unit_price = models.DecimalField(_("unit price"), **PRICE)
    discount = models.DecimalField(_("discount (%)"), max_digits=7, decimal_places=4, default=ZERO)
    taxes = models.ManyToManyField(Tax, blank=True, related_name="+", verbose_name=_("taxes"))
    amount_untaxed = models.DecimalField(_("net amount"), default=ZERO, **AMOUNT)
    amount_tax = models.DecimalField(_("tax"), default=ZERO, **AMOUNT)
    amount_total = models.DecimalField(_("amount"), default=ZERO, **AMOUNT)
    analytic_tags = models.ManyToManyField(
        AnalyticTag, blank=True, related_name="+", verbose_name=_("analytic tags")
    )

    class Meta:
        ordering = ["invoice_id", "sequence", "id"]
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        constraints = [
            models.CheckConstraint(
                condition=Q(discount__gte=0) & Q(discount__lte=100),
                name="finance_invoice_line_discount",
            ),
        ]

    def __str__(self) -> str:
        return self.description


class InvoiceTax(models.Model):
    """One tax of an invoice summed over its lines: base and amount, in invoice currency."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="tax_lines")
    tax = models.ForeignKey(Tax, on_delete=models.PROTECT, related_name="+")
    base = models.DecimalField(_("base"), **AMOUNT)
    amount = models.DecimalField(_("amount"), **AMOUNT)

    class Meta:
        ordering = ["invoice_id", "tax__sequence", "id"]
        verbose_name = _("invoice tax")
        verbose_name_plural = _("invoice taxes")

    def __str__(self) -> str:
        return f"{self.tax_id}: {self.amount}"


class Installment(models.Model):
    """When the invoice falls due: one row per payment-term installment, fixed at posting."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="installments")
    sequence = models.PositiveSmallIntegerField(_("sequence"))
    due_date = models.DateField(_("due date"))
    amount = models.DecimalField(_("amount"), **AMOUNT)
    discount = models.DecimalField(_("early-payment discount"), default=ZERO, **AMOUNT)
    discount_date = models.DateField(_("discount until"), null=True, blank=True)

    class Meta:
        ordering = ["invoice_id", "sequence"]
        verbose_name = _("installment")
        verbose_name_plural = _("installments")

    def __str__(self) -> str:
        return f"{self.due_date}: {self.amount}"


class Payment(CompanyOwned):
    """Money received from a customer or paid to a supplier through a bank or cash journal.
    Posting puts the amount on the party's receivable/payable; allocation reconciles it with
    invoices, and what is left stays open as the party's credit."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Received")
        OUTBOUND = "outbound", _("Paid")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        POSTED = "posted", _("Posted")
        CANCELLED = "cancelled", _("Cancelled")

    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    # A refund goes the other way on the same account: money paid back to a customer (on the
    # receivable, settling customer credit notes) or received back from a supplier (payable).
    refund = models.BooleanField(_("refund"), default=False)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    number = models.CharField(_("number"), max_length=40, blank=True)
    party = models.ForeignKey(
        "party.Party", on_delete=models.PROTECT, related_name="+", verbose_name=_("party")
    )
    journal = models.ForeignKey(
        Journal, on_delete=models.PROTECT, related_name="+", verbose_name=_("journal")
    )
    date = models.DateField(_("date"))
    amount = models.DecimalField(_("amount"), **AMOUNT)
    currency = models.ForeignKey(
        "core.Currency", on_delete=models.PROTECT, related_name="+", verbose_name=_("currency")
    )
    rate = models.DecimalField(_("exchange rate"), null=True, blank=True, **RATE)
    reference = models.CharField(_("reference"), max_length=120, blank=True)
    memo = models.CharField(_("memo"), max_length=200, blank=True)
    entry = models.OneToOneField(
        Entry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment",
        verbose_name=_("journal entry"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta(CompanyOwned.Meta):
        ordering = ["-date", "-id"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="finance_payment_positive"),
        ]
        indexes = [
            models.Index(fields=["company", "-date", "-id"], name="finance_payment_list"),
        ]

    def __str__(self) -> str:
        return self.number or _("Draft payment %(id)s") % {"id": self.pk}

    @property
    def customer_side(self) -> bool:
        """Booked on the receivable (from or, as a refund, to a customer), else the payable."""
        return (self.direction == self.Direction.INBOUND) != self.refund


class BankStatement(CompanyOwned):
    journal = models.ForeignKey(
        Journal, on_delete=models.PROTECT, related_name="+", verbose_name=_("journal")
    )
    name = models.CharField(_("name"), max_length=80)
    date = models.DateField(_("date"))
    balance_start = models.DecimalField(_("opening balance"), default=ZERO, **AMOUNT)
    balance_end = models.DecimalField(_("closing balance"), default=ZERO, **AMOUNT)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-date", "-id"]
        verbose_name = _("bank statement")
        verbose_name_plural = _("bank statements")

    def __str__(self) -> str:
        return self.name


class StatementLine(CompanyOwned):
    """One transaction of a bank statement; matched to a payment (existing or created from
    it) once the accountant accepts a suggestion."""

    statement = models.ForeignKey(
        BankStatement, on_delete=models.CASCADE, related_name="lines", verbose_name=_("statement")
    )
    sequence = models.PositiveIntegerField(_("sequence"), default=0)
    date = models.DateField(_("date"))
    amount = models.DecimalField(_("amount"), **AMOUNT)  # + money in, − money out
    counterparty = models.CharField(_("counterparty"), max_length=200, blank=True)
    account_number = models.CharField(_("counterparty account"), max_length=60, blank=True)
    reference = models.CharField(_("reference"), max_length=200, blank=True)
    party = models.ForeignKey(
        "party.Party",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("party"),
    )
    payment = models.ForeignKey(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="statement_lines",
        verbose_name=_("payment"),
    )
    # Bank charges, interest and the like, booked straight to an account without a payment.
    entry = models.ForeignKey(
        Entry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("journal entry"),
    )

    class Meta(CompanyOwned.Meta):
        ordering = ["statement_id", "sequence", "id"]
        verbose_name = _("statement line")
        verbose_name_plural = _("statement lines")

    def __str__(self) -> str:
        return f"{self.date} {self.amount}"


class DunningLevel(CompanyOwned):
    """Reminder level `level`, sent when an invoice is `days_overdue` past due."""

    level = models.PositiveSmallIntegerField(_("level"))
    name = models.CharField(_("name"), max_length=80)
    days_overdue = models.PositiveSmallIntegerField(_("days overdue"))
    fee = models.DecimalField(_("fee"), default=ZERO, **AMOUNT)
    letter = models.TextField(_("letter text"), blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["level"]
        verbose_name = _("dunning level")
        verbose_name_plural = _("dunning levels")
        constraints = [
            models.UniqueConstraint(fields=["company", "level"], name="finance_dunning_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Dunning(CompanyOwned):
    """A reminder sent to a customer about their overdue invoices at one level."""

    party = models.ForeignKey(
        "party.Party", on_delete=models.PROTECT, related_name="+", verbose_name=_("party")
    )
    level = models.ForeignKey(
        DunningLevel, on_delete=models.PROTECT, related_name="+", verbose_name=_("level")
    )
    date = models.DateField(_("date"))
    invoices = models.ManyToManyField(Invoice, related_name="dunnings", verbose_name=_("invoices"))
    amount_due = models.DecimalField(_("amount due"), **AMOUNT)
    currency = models.ForeignKey("core.Currency", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta(CompanyOwned.Meta):
        ordering = ["-date", "-id"]
        verbose_name = _("dunning letter")
        verbose_name_plural = _("dunning letters")

    def __str__(self) -> str:
        return f"{self.party_id} {self.level_id} {self.date}"
