from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkflowConfig(AppConfig):
    name = "xietong.workflow"
    label = "workflow"
    verbose_name = _("Workflow")

    def ready(self) -> None:
        from xietong.core import jobs, permissions, roles

        permissions.declare(
            ("workflow.view", _("See process definitions and instances")),
            ("workflow.task", _("Work on one's workflow tasks")),
            ("workflow.manage", _("Deploy process definitions")),
            ("workflow.dispatch", _("Delegate and reassign the company's workflow tasks")),
        )
        for role in roles.DEFAULT_ROLES:
            if role not in roles.PORTAL_ROLES and role != "admin":
                roles.grant(role, "workflow.task")
        # The managerial roles distribute work; the administrator has every permission anyway.
        for role in ("sales_manager", "executive"):
            roles.grant(role, "workflow.dispatch", "workflow.view")

        from xietong.workflow import navigation, services

        navigation.register()  # menu entries (after the permissions they name) and the inbox

        jobs.register_periodic("workflow.timers", services.timers_run)
        jobs.register_periodic("workflow.sla", services.sla_run)
