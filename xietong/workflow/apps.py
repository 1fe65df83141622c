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
        )
        for role in roles.DEFAULT_ROLES:
            if role not in roles.PORTAL_ROLES and role != "admin":
                roles.grant(role, "workflow.task")

        from xietong.workflow import services

        jobs.register_periodic("workflow.timers", services.timers_run)
