"""Screens of BOMs, routings, work centers and the configurator in the shell's navigation."""

from django.utils.translation import gettext_lazy as _

from xietong.core import menu


def register() -> None:
    """Add this module's screens to the menu (each with the permission it needs)."""
    # Importing the modules registers their models with the audit trail.
    from xietong.product import bom, configurator  # noqa: F401

    menu.add("manufacturing", _("Bills of materials"), "product:bom_list", "product.view", 20)
    menu.add("manufacturing", _("Routings"), "product:routing_list", "product.view", 30)
    menu.add("manufacturing", _("Work centers"), "product:work_center_list", "product.view", 40)
    menu.add("sales", _("Product configurator"), "product:configurator", "product.configure", 30)
    menu.add("sales", _("Configured items"), "product:configured_list", "product.configure", 35)
