"""Screens of this area in the shell's navigation (xietong.core.menu)."""

from django.utils.translation import gettext_lazy as _

from xietong.core import menu

FINANCE = (
    (_("Journal entries"), "finance:entry_list", "finance.view", 10),
    (_("Journal items"), "finance:line_list", "finance.view", 12),
    (_("Customer invoices"), "finance:customer_invoice_list", "finance.view", 20),
    (_("Supplier invoices"), "finance:supplier_invoice_list", "finance.view", 25),
    (_("Payments"), "finance:payment_list", "finance.view", 30),
    (_("Bank statements"), "finance:statement_list", "finance.view", 35),
    (_("Aging"), "finance:aging", "finance.view", 40),
    (_("Dunning"), "finance:dunning_list", "finance.view", 45),
    (_("Trial balance"), "finance:trial_balance", "finance.view", 50),
    (_("General ledger"), "finance:general_ledger", "finance.view", 52),
    (_("Balance sheet"), "finance:balance_sheet", "finance.view", 54),
    (_("Profit and loss"), "finance:profit_and_loss", "finance.view", 56),
    (_("Cash-flow statement"), "finance:cash_flow", "finance.view", 58),
    (_("Fiscal years and periods"), "finance:year_list", "finance.view", 70),
)
SETTINGS = (
    (_("Chart of accounts"), "finance:account_list", "finance.view", 80),
    (_("Journals"), "finance:journal_list", "finance.view", 81),
    (_("Taxes"), "finance:tax_list", "finance.view", 82),
    (_("Dunning levels"), "finance:dunning_level_list", "finance.view", 83),
    (_("Finance settings"), "finance:settings_edit", "finance.configure", 84),
)


def register() -> None:
    """Add this module's screens to the menu (each with the permission it needs)."""
    for area, items in (("finance", FINANCE), ("settings", SETTINGS)):
        for label, url_name, permission, order in items:
            menu.add(area, label, url_name, permission, order)
