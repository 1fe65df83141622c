from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class InventoryConfig(AppConfig):
    name = "xietong.inventory"
    label = "inventory"
    verbose_name = _("Inventory")

    def ready(self) -> None:
        from xietong.core import dbguards, permissions, roles

        permissions.declare(
            ("inventory.view", _("See stock on hand, moves and pickings")),
            ("inventory.move", _("Receive, transfer, pick, pack and ship stock")),
            ("inventory.count", _("Count stock and post inventory adjustments")),
            ("inventory.configure", _("Set up warehouses, locations and replenishment rules")),
            ("inventory.valuation", _("See stock values and valuation layers")),
        )
        for role in (
            "warehouse_clerk",
            "planner",
            "buyer",
            "sales_rep",
            "sales_manager",
            "accountant",
            "executive",
        ):
            roles.grant(role, "inventory.view")
        roles.grant("warehouse_clerk", "inventory.move", "inventory.count")
        roles.grant("planner", "inventory.configure")
        roles.grant("accountant", "inventory.valuation")
        roles.grant("executive", "inventory.valuation")

        from auditlog.registry import auditlog

        from xietong.inventory import guards, models, navigation, valuation  # noqa: F401 (its job)

        for model in (models.Warehouse, models.Location, models.Lot, models.Picking,
                      models.InventoryCount, models.ReplenishmentRule,
                      models.CategoryValuation):  # fmt: skip
            if not auditlog.contains(model):
                fields = [f.name for f in model._meta.concrete_fields
                          if f.name not in {"id", "company"}]  # fmt: skip
                auditlog.register(model, include_fields=fields)
        post_migrate.connect(guards.install_after_migrate, sender=self)
        dbguards.register(guards.guards_install, guards.guards_remove)
        navigation.register()
        from xietong.product import changes  # the journal of products' planning data

        changes.journal_register("inventory_move", **changes.direct("inventory_move"))
        changes.journal_register("inventory_quant", **changes.direct("inventory_quant"))
        changes.journal_register("inventory_location", **changes.everything("inventory_location"))
