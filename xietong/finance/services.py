"""The finance app's public write services: what other apps (sales, purchasing, inventory,
manufacturing, HR) and the screens call. Each lives in a purpose-named module; see its
docstring for what it locks, raises and writes.

- posting: `entry_post` with an `EntrySpec` of `LineSpec`s is the one way into the ledger;
  `entry_reverse` corrects a posted entry.
- periods: fiscal years, period and year-end close, currency revaluation.
- reconcile: matching receivable/payable lines (realised exchange differences included).
- invoicing, payments, banking, receivables (dunning): the documents.
- charts: loading a shipped chart of accounts with its journals, taxes and policies.
"""

from xietong.finance.banking import statement_import, statement_line_reconcile, statement_line_undo
from xietong.finance.charts import chart_load
from xietong.finance.configuration import (
    account_save,
    dunning_level_save,
    journal_save,
    settings_save,
    tax_save,
)
from xietong.finance.invoicing import (
    invoice_cancel,
    invoice_create,
    invoice_credit,
    invoice_delete,
    invoice_post,
    invoice_update,
)
from xietong.finance.payments import (
    credit_apply,
    payment_allocate,
    payment_cancel,
    payment_create,
    payment_post,
)
from xietong.finance.periods import (
    currency_revaluate,
    fiscal_year_close,
    fiscal_year_create,
    period_close,
)
from xietong.finance.posting import (
    EntrySpec,
    LineSpec,
    PostingError,
    entry_create,
    entry_draft_delete,
    entry_draft_post,
    entry_draft_update,
    entry_post,
    entry_reverse,
)
from xietong.finance.receivables import dunning_run
from xietong.finance.reconcile import lines_match, match_undo


def _register_audit() -> None:
    """Register the finance models with django-auditlog (once): who changed an account, a tax,
    a period, or moved an entry, invoice or payment from one state to the next. Lines are
    covered by their document's entry and by the ledger's immutability."""
    from auditlog.registry import auditlog

    from xietong.finance import models

    for model in (
        models.Account,
        models.Journal,
        models.Tax,
        models.FinanceSettings,
        models.FiscalYear,
        models.Period,
        models.Entry,
        models.Invoice,
        models.Payment,
        models.BankStatement,
        models.DunningLevel,
    ):
        if not auditlog.contains(model):
            fields = [
                f.name for f in model._meta.concrete_fields if f.name not in {"id", "company"}
            ]
            auditlog.register(model, include_fields=fields)


_register_audit()

__all__ = [
    "account_save",
    "dunning_level_save",
    "journal_save",
    "settings_save",
    "tax_save",
    "EntrySpec",
    "LineSpec",
    "PostingError",
    "chart_load",
    "credit_apply",
    "currency_revaluate",
    "dunning_run",
    "entry_create",
    "entry_draft_delete",
    "entry_draft_post",
    "entry_draft_update",
    "entry_post",
    "entry_reverse",
    "fiscal_year_close",
    "fiscal_year_create",
    "invoice_cancel",
    "invoice_create",
    "invoice_credit",
    "invoice_delete",
    "invoice_post",
    "invoice_update",
    "lines_match",
    "match_undo",
    "payment_allocate",
    "payment_cancel",
    "payment_create",
    "payment_post",
    "period_close",
    "statement_import",
    "statement_line_reconcile",
    "statement_line_undo",
]
