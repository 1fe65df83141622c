from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "xietong.crm"
    label = "crm"
    verbose_name = _("CRM")

    def ready(self) -> None:
        from xietong.core import permissions, roles

        permissions.declare(
            ("crm.view", _("See leads, opportunities and the pipeline of one's sales teams")),
            (
                "crm.sell",
                _("Work leads and opportunities: qualify, move, win, lose, log activities"),
            ),
            ("crm.manage", _("Manage sales teams, stages and lost reasons; see every team")),
        )
        for role in ("sales_rep", "sales_manager", "executive"):
            roles.grant(role, "crm.view")
        for role in ("sales_rep", "sales_manager"):
            roles.grant(role, "crm.sell")
        for role in ("sales_manager", "executive"):
            roles.grant(role, "crm.manage")

        from auditlog.registry import auditlog

        from xietong.crm import models

        for model in (models.SalesTeam, models.PipelineStage, models.LostReason, models.Lead,
                      models.Opportunity, models.Activity, models.SalesTarget,
                      models.Territory, models.LeadMailbox):  # fmt: skip
            if not auditlog.contains(model):
                fields = [
                    f.name for f in model._meta.concrete_fields if f.name not in {"id", "company"}
                ]
                auditlog.register(model, include_fields=fields)

        from xietong.party.services import timeline_kind_register

        timeline_kind_register("crm.lead", _("Lead"), "person-plus")
        timeline_kind_register("crm.opportunity", _("Opportunity"), "bullseye")

        from xietong.crm import navigation

        navigation.register()

        from xietong.crm import campaigns, customer, tickets

        campaigns.register()
        tickets.register()
        customer.register()
