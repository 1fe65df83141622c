from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ManufacturingConfig(AppConfig):
    name = "xietong.manufacturing"
    label = "manufacturing"
    verbose_name = _("Manufacturing")

    def ready(self) -> None:
        from xietong.core import permissions, roles

        permissions.declare(
            ("manufacturing.view", _("See forecasts, plans and production orders")),
            ("manufacturing.plan", _("Enter forecasts, run MRP and firm planned orders")),
            ("manufacturing.produce", _("Release production orders and report production")),
            ("manufacturing.configure", _("Change the planning settings")),
        )
        for role in ("planner", "buyer", "warehouse_clerk", "sales_manager", "executive",
                     "accountant"):  # fmt: skip
            roles.grant(role, "manufacturing.view")
        roles.grant("planner", "manufacturing.plan", "manufacturing.produce",
                    "manufacturing.configure")  # fmt: skip
        roles.grant("warehouse_clerk", "manufacturing.produce")

        from auditlog.registry import auditlog

        from xietong.manufacturing import models

        for model in (models.PlanningSettings, models.Forecast, models.MpsEntry,
                      models.Scenario, models.ProductionOrder, models.ProductionReport):  # fmt: skip
            if not auditlog.contains(model):
                fields = [
                    f.name for f in model._meta.concrete_fields if f.name not in {"id", "company"}
                ]
                auditlog.register(model, include_fields=fields)

        from xietong.manufacturing import capacity, planning

        planning.register()
        capacity.register()

        from xietong.manufacturing import navigation

        navigation.register()

        from xietong.product import changes  # the journal of products' planning data

        changes.journal_register(
            "manufacturing_forecast", **changes.direct("manufacturing_forecast")
        )
        changes.journal_register(
            "manufacturing_mpsentry", **changes.direct("manufacturing_mpsentry")
        )
