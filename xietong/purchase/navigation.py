"""Screens of the purchasing area in the shell's navigation (xietong.core.menu)."""

from django.utils.translation import gettext_lazy as _

from xietong.core import menu

PURCHASE = (
    (_("Buyer workspace"), "purchase:workspace", "purchase.view", 10),
    (_("Requisitions"), "purchase:requisition_list", "purchase.request", 20),
    (_("Requests for quotation"), "purchase:rfq_list", "purchase.view", 30),
    (_("Purchase orders"), "purchase:order_list", "purchase.view", 40),
    (_("Invoice matching"), "purchase:match_list", "purchase.bill", 50),
    (_("Landed costs"), "purchase:landed_list", "purchase.bill", 52),
    (_("Supplier payment run"), "purchase:payment_run", "finance.payment", 54),
    (_("Supplier prices"), "purchase:supplier_price_list", "purchase.view", 60),
)
SETTINGS = ((_("Purchase settings"), "purchase:settings_edit", "purchase.configure", 91),)


def register() -> None:
    """Add this module's screens to the menu (each with the permission it needs)."""
    for area, items in (("purchase", PURCHASE), ("settings", SETTINGS)):
        for label, url_name, permission, order in items:
            menu.add(area, label, url_name, permission, order)
