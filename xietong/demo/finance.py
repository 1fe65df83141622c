"""Demo step for finance: the books of the last six months, through the real services.

- The main company (CNY) gets the PRC chart (企业会计准则) in Chinese, the partner (HKD) the
  IFRS chart in English.
- An opening entry (bank, fixed assets, stock, capital, a bank loan) on the first day of the
  period shown.
- Every month: customer invoices for bikes with 13% output VAT (export customers in EUR/USD,
  zero-rated), supplier invoices for parts with 13% input VAT, rent, salaries, depreciation.
- Customers pay most invoices 20–60 days later, some partly, some not at all (so the aging
  report and the dunning run have something to show); suppliers are paid the same way.
  Foreign-currency receipts realise exchange differences.
- The revaluation of the last month-end; a bank statement (CSV) with receipts waiting to be
  matched; a dunning run as of today. Months older than two are closed by `close_periods`, a
  step run after the sales history.

Deterministic (ctx.rng, rows in code order).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils import timezone

from xietong.core.models import ExchangeRate
from xietong.core.tenancy import company_scope
from xietong.demo.context import DemoContext
from xietong.finance import banking, invoicing, payments, periods, receivables
from xietong.finance.charts import chart_load
from xietong.finance.models import Account, Invoice, Journal, Period, Tax
from xietong.finance.posting import EntrySpec, LineSpec, entry_post
from xietong.party.models import Party
from xietong.product.models import Product

CENT = Decimal("0.01")
# invoices per month: customer, supplier
VOLUME = {"small": (10, 5), "medium": (45, 18), "large": (200, 70)}
MONTHS = 6


def _month_start(date: dt.date, back: int) -> dt.date:
    month = date.month - 1 - back
    return dt.date(date.year + month // 12, month % 12 + 1, 1)


def _month_end(first: dt.date) -> dt.date:
    return _month_start(first, -1) - dt.timedelta(days=1)


def run(ctx: DemoContext) -> None:
    main, partner = ctx.companies["main"], ctx.companies["partner"]
    admin, accountant = ctx.users["admin"], ctx.users["accountant"]
    chart_load(company=main, template="cn", language="zh-hans", actor=admin)
    chart_load(company=partner, template="ifrs", language="en", actor=admin)
    with company_scope(main):
        Books(ctx, main, accountant).run()


def close_periods(ctx: DemoContext) -> None:
    """A later step (after the sales history, which posts into the past two years): close the
    main company's periods that ended before the month two months ago."""
    main, accountant = ctx.companies["main"], ctx.users["accountant"]
    before = _month_start(timezone.localdate(), 2)
    with company_scope(main):
        for period in Period.unscoped.filter(
            company=main, end__lt=before, state=Period.State.OPEN
        ).order_by("start"):
            periods.period_close(period=period, actor=accountant)


class Books:
    def __init__(self, ctx: DemoContext, company: Any, actor: Any) -> None:
        self.ctx, self.company, self.actor = ctx, company, actor
        self.rng = ctx.rng
        self.today = timezone.localdate()
        self.start = _month_start(self.today, MONTHS - 1)
        self.accounts = {a.code: a for a in Account.unscoped.filter(company=company)}
        self.journals = {j.code: j for j in Journal.unscoped.filter(company=company)}
        self.taxes = {t.code: t for t in Tax.unscoped.filter(company=company)}
        self.customers = list(
            Party.unscoped.filter(company=company, is_customer=True, active=True).order_by("code")
        )
        self.suppliers = list(
            Party.unscoped.filter(company=company, is_supplier=True, active=True).order_by("code")
        )
        products = Product.unscoped.filter(company=company, active=True).order_by("sku")
        self.bikes = [p for p in products if p.supply == Product.Supply.MAKE and p.list_price > 0]
        self.parts = [p for p in products if p.supply == Product.Supply.BUY]
        self.invoices: list[Invoice] = []
        # foreign customers pay in their currency when the company keeps its rates, else CNY
        self.rated = set(
            ExchangeRate.unscoped.filter(company=company).values_list("currency_id", flat=True)
        ) - {company.base_currency_id}
        self.bills: list[Invoice] = []

    def _currency_banks(self) -> None:
        """A foreign-currency bank account and journal (外币户) per currency the company quotes."""
        parent = self.accounts["1002"]
        for n, currency in enumerate(sorted(self.rated), start=2):
            account = Account.unscoped.create(
                company=self.company,
                code=f"1002{n:02d}",
                name=f"外币存款账户 {currency}",
                parent=parent,
                type=parent.type,
                subtype=parent.subtype,
                cash_flow=parent.cash_flow,
                currency_id=currency,
            )
            self.journals[currency] = Journal.unscoped.create(
                company=self.company,
                code=f"B{currency}",
                name=f"银行日记账 {currency}",
                kind=Journal.Kind.BANK,
                account=account,
                currency_id=currency,
            )

    def _day(self, first: dt.date) -> dt.date:
        last = min(_month_end(first), self.today)
        return first + dt.timedelta(days=self.rng.randrange((last - first).days + 1))

    def _entry(self, date: dt.date, ref: str, *lines: tuple[str, Decimal, Decimal]) -> None:
        entry_post(
            company=self.company,
            spec=EntrySpec(
                journal=self.journals["GEN"],
                date=date,
                ref=ref,
                lines=[
                    LineSpec(account=self.accounts[code], debit=debit, credit=credit)
                    for code, debit, credit in lines
                ],
            ),
            actor=self.actor,
        )

    def run(self) -> None:
        D = Decimal
        self._currency_banks()
        self._entry(
            self.start,
            "期初余额 Opening balances",
            ("100201", D("9200000"), D(0)),
            ("160101", D("2400000"), D(0)),
            ("160102", D("1200000"), D(0)),
            ("4001", D(0), D("10000000")),
            ("2001", D(0), D("2800000")),
        )
        per_month_sales, per_month_bills = VOLUME[self.ctx.size]
        for back in range(MONTHS - 1, -1, -1):
            first = _month_start(self.today, back)
            for _ in range(per_month_sales):
                self._customer_invoice(self._day(first))
            for _ in range(per_month_bills):
                self._supplier_invoice(self._day(first))
            self._month_costs(first)
        self._settle()
        last_month_end = _month_start(self.today, 0) - dt.timedelta(days=1)
        periods.currency_revaluate(company=self.company, date=last_month_end, actor=self.actor)
        self._bank_statement()
        letters = receivables.dunning_run(company=self.company, actor=self.actor, date=self.today)
        self.ctx.log.append(
            f"finance: {len(self.invoices)} customer and {len(self.bills)} supplier invoices, "
            f"{len(letters)} dunning letters"
        )

    def _customer_invoice(self, date: dt.date) -> None:
        customer = self.rng.choice(self.customers)
        export = customer.currency_id in self.rated
        lines = []
        for bike in self.rng.sample(self.bikes, self.rng.randint(1, 3)):
            price = bike.list_price * D_RATE(self.rng, "0.85", "1.00")
            if export:
                price = price / Decimal("7.8")
            lines.append(
                {
                    "product": bike,
                    "quantity": Decimal(self.rng.choice([2, 4, 5, 10, 12, 20, 30])),
                    "unit_price": price.quantize(CENT, ROUND_HALF_UP),
                    "discount": Decimal(self.rng.choice([0, 0, 0, 2, 5])),
                    "taxes": [self.taxes["VAT0-S" if export else "VAT13-S"]],
                }
            )
        invoice = invoicing.invoice_create(
            company=self.company,
            actor=self.actor,
            kind=Invoice.Kind.CUSTOMER_INVOICE,
            party=customer,
            date=date,
            currency=customer.currency_id if export else self.company.base_currency_id,
            lines=lines,
            origin=f"SO-{date:%y%m}-{self.rng.randrange(1000, 9999)}",
        )
        self.invoices.append(invoicing.invoice_post(invoice=invoice, actor=self.actor))

    def _supplier_invoice(self, date: dt.date) -> None:
        supplier = self.rng.choice(self.suppliers)
        lines = [
            {
                "product": part,
                "account": self.accounts["1403"],
                "quantity": Decimal(self.rng.choice([50, 100, 200, 500])),
                "unit_price": max(part.standard_cost, Decimal("1.00")).quantize(CENT),
                "taxes": [self.taxes["VAT13-P"]],
            }
            for part in self.rng.sample(self.parts, self.rng.randint(1, 4))
        ]
        bill = invoicing.invoice_create(
            company=self.company,
            actor=self.actor,
            kind=Invoice.Kind.SUPPLIER_INVOICE,
            party=supplier,
            date=date,
            currency=self.company.base_currency_id,
            lines=lines,
            reference=f"FP{self.rng.randrange(10**7, 10**8)}",
        )
        self.bills.append(invoicing.invoice_post(invoice=bill, actor=self.actor))

    def _month_costs(self, first: dt.date) -> None:
        D = Decimal
        end = min(_month_end(first), self.today)
        self._entry(first, "房租 Rent", ("660208", D("45000"), D(0)), ("100201", D(0), D("45000")))
        if end == _month_end(first):
            self._entry(
                end,
                "计提工资 Payroll",
                ("5101", D("180000"), D(0)),
                ("660101", D("96000"), D(0)),
                ("660201", D("74000"), D(0)),
                ("221101", D(0), D("350000")),
            )
            self._entry(
                end,
                "计提折旧 Depreciation",
                ("660205", D("30000"), D(0)),
                ("1602", D(0), D("30000")),
            )
            payday = min(end + dt.timedelta(days=10), self.today)
            self._entry(payday, "发放工资 Salaries paid", ("221101", D("350000"), D(0)),
                        ("100201", D(0), D("350000")))  # fmt: skip

    def _settle(self) -> None:
        """Customers and suppliers pay what is due 20–60 days after the invoice date."""
        for invoice, direction in [(i, "inbound") for i in self.invoices] + [
            (b, "outbound") for b in self.bills
        ]:
            paid_on = invoice.date + dt.timedelta(days=self.rng.randint(20, 60))
            roll = self.rng.random()
            if paid_on > self.today or roll < 0.08:
                continue  # not yet paid, or late: the aging report and dunning show these
            amount = invoice.amount_total
            if roll < 0.18:
                amount = (amount * Decimal("0.5")).quantize(CENT)
            payment = payments.payment_create(
                company=self.company,
                actor=self.actor,
                direction=direction,
                party=invoice.party,
                journal=self.journals.get(invoice.currency_id, self.journals["BNK"]),
                date=paid_on,
                amount=amount,
                currency=invoice.currency_id,
                reference=invoice.number,
            )
            payments.payment_post(payment=payment, actor=self.actor, allocations=[invoice])

    def _bank_statement(self) -> None:
        """This week's bank statement: receipts for open invoices, waiting to be matched."""
        open_invoices = list(
            Invoice.unscoped.filter(
                company=self.company,
                kind=Invoice.Kind.CUSTOMER_INVOICE,
                state=Invoice.State.POSTED,
                currency_id="CNY",
            )
            .exclude(payment_state=Invoice.PaymentState.PAID)
            .select_related("party")
            .order_by("date")[:6]
        )
        rows = ["date,amount,counterparty,reference"]
        for n, invoice in enumerate(open_invoices):
            day = self.today - dt.timedelta(days=n % 3)
            rows.append(f"{day.isoformat()},{invoice.amount_residual:.2f},{invoice.party.name},"
                        f"货款 {invoice.number}")  # fmt: skip
        rows.append(f"{self.today.isoformat()},-1280.00,中国工商银行,手续费 Bank charges")
        if len(rows) > 2:
            banking.statement_import(
                company=self.company,
                actor=self.actor,
                journal=self.journals["BNK"],
                file="\n".join(rows).encode(),
                name=f"工行对账单 {self.today:%Y-%m-%d}",
            )


def D_RATE(rng: Any, low: str, high: str) -> Decimal:  # noqa: N802
    """A random factor between `low` and `high`, to two decimals."""
    lo, hi = int(Decimal(low) * 100), int(Decimal(high) * 100)
    return Decimal(rng.randint(lo, hi)) / 100
