from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProductConfig(AppConfig):
    name = "xietong.product"
    label = "product"
    verbose_name = _("Products")

    def ready(self) -> None:
        from xietong.core import permissions, roles

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
