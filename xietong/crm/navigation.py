"""Screens of the sales pipeline in the shell's navigation (xietong.core.menu), area "crm"."""

from django.utils.translation import gettext_lazy as _

from xietong.core import menu

CRM = (
    (_("Pipeline"), "crm:pipeline", "crm.view", 20),
    (_("Leads"), "crm:lead_list", "crm.view", 30),
    (_("Opportunities"), "crm:opportunity_list", "crm.view", 40),
    (_("Pipeline forecast"), "crm:forecast", "crm.view", 50),
)

SETTINGS = ((_("Sales teams"), "crm:team_list", "crm.manage", 80),)


def register() -> None:
    """Add this module's screens to the menu (each with the permission it needs)."""
    for area, items in (("crm", CRM), ("settings", SETTINGS)):
        for label, url_name, permission, order in items:
            menu.add(area, label, url_name, permission, order)
