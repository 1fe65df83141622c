"""Screens of the sales area in the shell's navigation (xietong.core.menu)."""

from django.utils.translation import gettext_lazy as _

from xietong.core import menu

SALES = (
    (_("My sales"), "sales:workspace", "sales.view", 10),
    (_("Quick quote"), "sales:quotation_create", "sales.quote", 15),
    (_("Quotations"), "sales:quotation_list", "sales.view", 20),
    (_("Sales orders"), "sales:order_list", "sales.view", 30),
    (_("Returns"), "sales:return_list", "sales.view", 40),
)
SETTINGS = ((_("Sales settings"), "sales:settings_edit", "sales.configure", 90),)


def register() -> None:
    """Add this module's screens to the menu (each with the permission it needs)."""
    for area, items in (("sales", SALES), ("settings", SETTINGS)):
        for label, url_name, permission, order in items:
            menu.add(area, label, url_name, permission, order)
