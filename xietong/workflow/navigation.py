"""Screens of the workflow area in the shell's navigation (xietong.core.menu), and the task
inbox as a provider of the home page's "my tasks" (xietong.core.inbox)."""

from django.utils.translation import gettext_lazy as _


def register() -> None:
    """Add this module's screens to the menu (each with the permission it needs) and register
    the inbox provider; safe to call more than once."""
    from xietong.core import inbox as core_inbox
    from xietong.core import menu
    from xietong.workflow import inbox

    menu.add("workflow", _("Task inbox"), "workflow:inbox", "workflow.task", 10)
    menu.add("workflow", _("Process instances"), "workflow:instance_list", "workflow.view", 20)
    menu.add("workflow", _("Process definitions"), "workflow:definition_list", "workflow.view", 30)
    menu.add("workflow", _("Workload"), "workflow:monitor", inbox.DISPATCH, 40)
    core_inbox.register(inbox.work_items)
