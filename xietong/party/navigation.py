"""Screens of this area in the shell's navigation (xietong.core.menu)."""

from django.utils.translation import gettext_lazy as _

from xietong.core import menu


def register() -> None:
    """Add this module's screens to the menu (each with the permission it needs)."""
    menu.add("crm", _("Customers"), "party:customer_list", "party.view", 10)
    menu.add("purchase", _("Suppliers"), "party:supplier_list", "party.view", 10)
    menu.add("settings", _("Customer groups"), "party:group_list", "party.view", 70)
    menu.add("settings", _("Payment terms"), "party:term_list", "party.view", 75)
