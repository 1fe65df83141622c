from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PurchaseConfig(AppConfig):
    name = "xietong.purchase"
    label = "purchase"
    verbose_name = _("Purchasing")

    def ready(self) -> None:
        from xietong.core import permissions, roles

        permissions.declare(
            ("purchase.view", _("See requisitions, RFQs, purchase orders and supplier matches")),
            ("purchase.request", _("Raise purchase requisitions")),
            ("purchase.order", _("Create RFQs and purchase orders, award and send them")),
            ("purchase.approve", _("Approve requisitions of others")),
            ("purchase.receive", _("Receive and inspect goods against purchase orders")),
            ("purchase.bill", _("Match supplier invoices and allocate landed costs")),
            ("purchase.configure", _("Change the purchase settings and supplier prices")),
        )
        staff = ("sales_rep", "sales_manager", "buyer", "planner", "warehouse_clerk",
                 "accountant", "service_agent", "service_manager", "hr_officer",
                 "executive")  # fmt: skip
        for role in staff:
            roles.grant(role, "purchase.request")
        for role in ("buyer", "planner", "warehouse_clerk", "accountant", "executive"):
            roles.grant(role, "purchase.view")
        roles.grant("buyer", "purchase.order", "purchase.approve", "purchase.configure",
                    "purchase.bill")  # fmt: skip
        roles.grant("executive", "purchase.approve")
        roles.grant("warehouse_clerk", "purchase.receive")
        roles.grant("accountant", "purchase.bill")

        from auditlog.registry import auditlog

        from xietong.purchase import models

        for model in (models.Requisition, models.Rfq, models.PurchaseOrder, models.LandedCost,
                      models.PurchaseSettings, models.SupplierPrice,
                      models.InvoiceMatch):  # fmt: skip
            if not auditlog.contains(model):
                fields = [
                    f.name for f in model._meta.concrete_fields if f.name not in {"id", "company"}
                ]
                auditlog.register(model, include_fields=fields)

        from xietong.party.services import timeline_kind_register
        from xietong.purchase import handlers, matching, rfqs

        timeline_kind_register("requisition", _("Requisition"), "clipboard-plus")
        timeline_kind_register("rfq", _("Request for quotation"), "question-square")
        timeline_kind_register("purchase", _("Purchase order"), "bag")
        timeline_kind_register("receipt", _("Receipt"), "box-arrow-in-down")
        timeline_kind_register("landed_cost", _("Landed cost"), "truck-flatbed")
        handlers.register()
        matching.register()
        rfqs.register()

        from xietong.purchase import navigation

        navigation.register()

        from xietong.product import changes  # the journal of products' planning data

        changes.journal_register(
            "purchase_requisitionline",
            postgres="SELECT q.company_id AS c, l.product_id AS p FROM {t} l "
            "JOIN purchase_requisition q ON q.id = l.requisition_id",
            sqlite="SELECT q.company_id AS c, {r}.product_id AS p FROM purchase_requisition q "
            "WHERE q.id = {r}.requisition_id",
        )
        changes.journal_register(
            "purchase_requisition",
            postgres="SELECT r.company_id AS c, l.product_id AS p FROM {t} r "
            "JOIN purchase_requisitionline l ON l.requisition_id = r.id",
            sqlite="SELECT {r}.company_id AS c, l.product_id AS p FROM purchase_requisitionline l "
            "WHERE l.requisition_id = {r}.id",
        )
