"""Screens of this area in the shell's navigation (xietong.core.menu)."""

from django.utils.translation import gettext_lazy as _

from xietong.core import menu

INVENTORY = (
    (_("Stock on hand"), "inventory:stock_list", "inventory.view", 10),
    (_("Pickings"), "inventory:picking_list", "inventory.view", 20),
    (_("Stock moves"), "inventory:move_list", "inventory.view", 30),
    (_("Lots and serial numbers"), "inventory:lot_list", "inventory.view", 40),
    (_("Inventory counts"), "inventory:count_list", "inventory.view", 50),
    (_("Replenishment"), "inventory:replenishment", "inventory.view", 60),
    (_("Stock value"), "inventory:valuation", "inventory.valuation", 70),
)
SETTINGS = (
    (_("Warehouses"), "inventory:warehouse_list", "inventory.view", 90),
    (_("Locations"), "inventory:location_list", "inventory.view", 91),
    (_("Replenishment rules"), "inventory:rule_list", "inventory.view", 92),
    (_("Inventory valuation"), "inventory:category_valuation_list", "inventory.view", 93),
)


def register() -> None:
    """Add this module's screens to the menu (each with the permission it needs)."""
    for area, items in (("inventory", INVENTORY), ("settings", SETTINGS)):
        for label, url_name, permission, order in items:
            menu.add(area, label, url_name, permission, order)
