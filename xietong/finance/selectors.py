"""The finance app's public reads: reports, open items, aging, statements, documents, PDFs.

Other apps read the ledger only through these (and `services`), never through the models.
"""

from xietong.finance.banking import statement_lines_open, statement_suggestions
from xietong.finance.chain import chain_verify
from xietong.finance.invoicing import invoice_detail, invoice_list, invoice_pdf
from xietong.finance.payments import party_credit
from xietong.finance.periods import period_for
from xietong.finance.receivables import (
    aging,
    customer_statement,
    customer_statement_pdf,
    dunning_pdf,
    open_items_as_of,
)
from xietong.finance.reconcile import open_items, residuals
from xietong.finance.reports import (
    balance_sheet,
    cash_flow,
    drilldown_lines,
    general_ledger,
    profit_and_loss,
    trial_balance,
)

__all__ = [
    "aging",
    "balance_sheet",
    "cash_flow",
    "chain_verify",
    "customer_statement",
    "customer_statement_pdf",
    "drilldown_lines",
    "dunning_pdf",
    "general_ledger",
    "invoice_detail",
    "invoice_list",
    "invoice_pdf",
    "open_items",
    "open_items_as_of",
    "party_credit",
    "period_for",
    "profit_and_loss",
    "residuals",
    "statement_lines_open",
    "statement_suggestions",
    "trial_balance",
]
