from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProductConfig(AppConfig):
    name = "xietong.product"
    label = "product"
    verbose_name = _("Products")

    def ready(self) -> None:
        from xietong.core import dbguards, permissions, roles

        permissions.declare(
            ("product.view", _("See products, variants, prices and BOMs")),
            ("product.change", _("Create and edit products, categories and variants")),
            ("product.price", _("Edit price lists")),
            ("product.cost", _("Edit costs and run cost roll-ups")),
            ("product.bom", _("Edit BOMs, routings and work centers")),
            ("product.configure", _("Configure products for quotations")),
            ("product.import", _("Import and export products, prices, BOMs and routings")),
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
            roles.grant(role, "product.view")
        roles.grant("sales_rep", "product.configure")
        roles.grant("sales_manager", "product.configure", "product.price")
        roles.grant("planner", "product.change", "product.bom", "product.cost", "product.import")
        roles.grant("accountant", "product.cost", "product.price")
        roles.grant("buyer", "product.change")

        from xietong.product import (  # noqa: F401
            imports,
            imports_bom,
            navigation,
            navigation_bom,
            services,
        )

        # (importing services registers the product models with the audit trail)

        navigation.register()
        navigation_bom.register()

        # the journal of products whose planning data changed (MRP's net change reads it)
        from django.db.models.signals import post_migrate

        from xietong.product import changes

        changes.journal_register("product_product", **changes.direct("product_product", "id"))
        changes.journal_register("product_bom", **changes.everything("product_bom"))
        changes.journal_register("product_bomline", **changes.everything("product_bomline", None))
        changes.journal_register(
            "core_unitofmeasure", **changes.everything("core_unitofmeasure", None)
        )
        post_migrate.connect(changes.journal_install, sender=self,
                             dispatch_uid="product.changes.journal_install")  # fmt: skip
        dbguards.register(changes.journal_install, changes.journal_remove)  # lifted by flush
        from xietong.core import jobs

        jobs.register_periodic("product.journal_prune", changes.journal_prune_periodic)
