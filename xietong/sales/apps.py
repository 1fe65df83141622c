from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "xietong.sales"
    label = "sales"
    verbose_name = _("Sales")

    def ready(self) -> None:
        from xietong.core import permissions, roles

        permissions.declare(
            ("sales.view", _("See quotations, sales orders and returns")),
            ("sales.quote", _("Create and send quotations")),
            ("sales.order", _("Confirm, change and cancel sales orders")),
            ("sales.approve", _("Approve discounts and credit limit overrides")),
            ("sales.return", _("Authorise returns")),
            ("sales.configure", _("Change the sales settings")),
        )
        for role in ("sales_rep", "sales_manager", "accountant", "executive", "warehouse_clerk"):
            roles.grant(role, "sales.view")
        roles.grant("sales_rep", "sales.quote", "sales.order", "sales.return")
        roles.grant(
            "sales_manager", "sales.quote", "sales.order", "sales.approve", "sales.return",
            "sales.configure",
        )  # fmt: skip

        from auditlog.registry import auditlog

        from xietong.core import events
        from xietong.finance.invoicing import on_invoice_change
        from xietong.inventory import stock
        from xietong.party.services import timeline_kind_register
        from xietong.sales import billing, handlers, models
        from xietong.workflow.events import InstanceEnded

        for model in (models.Quotation, models.SalesOrder, models.ReturnOrder,
                      models.SalesSettings):  # fmt: skip
            if not auditlog.contains(model):
                fields = [
                    f.name for f in model._meta.concrete_fields if f.name not in {"id", "company"}
                ]
                auditlog.register(model, include_fields=fields)
        events.subscribe(InstanceEnded, handlers.instance_ended)
        stock.on_moves_done(handlers.moves_done)
        on_invoice_change(billing.invoice_changed)
        timeline_kind_register("quotation", _("Quotation"), "file-earmark-text")
        timeline_kind_register("delivery", _("Delivery"), "truck")
        timeline_kind_register("return", _("Return"), "arrow-return-left")

        from xietong.sales import navigation

        navigation.register()
