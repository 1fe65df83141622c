"""Screens of this area in the shell's navigation (xietong.core.menu)."""

from django.utils.translation import gettext_lazy as _


def register() -> None:
    """Add this module's screens to the menu (each with the permission it needs)."""
    from xietong.core import menu

    menu.add("inventory", _("Products"), "product:product_list", "product.view", 10)
    menu.add("inventory", _("Product categories"), "product:category_list", "product.view", 12)
    menu.add("inventory", _("Attributes"), "product:attribute_list", "product.view", 14)
    menu.add("sales", _("Price lists"), "product:price_list_list", "product.view", 60)
