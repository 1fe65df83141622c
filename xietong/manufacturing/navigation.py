"""Screens of manufacturing in the shell's navigation (xietong.core.menu)."""

from django.utils.translation import gettext_lazy as _

from xietong.core import menu

MANUFACTURING = (
    (_("Production planning"), "manufacturing:workspace", "manufacturing.view", 10),
    (_("Forecasts"), "manufacturing:forecast_list", "manufacturing.view", 20),
    (_("Master production schedule"), "manufacturing:mps", "manufacturing.view", 25),
    (_("Production orders"), "manufacturing:order_list", "manufacturing.view", 30),
    (_("Capacity"), "manufacturing:capacity", "manufacturing.view", 40),
    (_("Production schedule"), "manufacturing:schedule", "manufacturing.view", 50),
    (_("Shop floor"), "manufacturing:shop_floor", "manufacturing.view", 60),
    (_("Work in progress"), "manufacturing:wip", "manufacturing.view", 65),
    (_("What-if scenarios"), "manufacturing:scenario_list", "manufacturing.view", 70),
)
SETTINGS = ((_("Planning settings"), "manufacturing:settings_edit", "manufacturing.configure", 92),)


def register() -> None:
    """Add this module's screens to the menu (each with the permission it needs)."""
    for area, items in (("manufacturing", MANUFACTURING), ("settings", SETTINGS)):
        for label, url_name, permission, order in items:
            menu.add(area, label, url_name, permission, order)
