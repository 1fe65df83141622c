from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_reference_data(sender, **kwargs):  # type: ignore[no-untyped-def]
    from xietong.party.reference import countries_sync

    countries_sync()


class PartyConfig(AppConfig):
    name = "xietong.party"
    label = "party"
    verbose_name = _("Parties")

    def ready(self) -> None:
        from xietong.core import permissions, roles

        permissions.declare(
            ("party.view", _("See customers, suppliers and their contacts")),
            ("party.change", _("Create and edit customers, suppliers, contacts and addresses")),
            ("party.credit", _("Set credit limits and payment terms")),
            ("party.merge", _("Merge duplicate parties")),
            ("party.import", _("Import and export parties")),
        )
        for role in (
            "sales_rep",
            "sales_manager",
            "buyer",
            "planner",
            "warehouse_clerk",
            "accountant",
            "service_agent",
            "service_manager",
            "executive",
        ):
            roles.grant(role, "party.view")
        for role in ("sales_rep", "sales_manager", "buyer", "service_agent", "service_manager"):
            roles.grant(role, "party.change")
        roles.grant("sales_manager", "party.credit", "party.merge", "party.import")
        roles.grant("accountant", "party.credit")

        from xietong.party import (  # noqa: F401  (registers screens, audit, import specs)
            imports,
            navigation,
            services,
        )

        navigation.register()
        post_migrate.connect(_sync_reference_data, sender=self)
