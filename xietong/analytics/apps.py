from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "xietong.analytics"
    label = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from xietong.core import permissions, roles

        permissions.declare(
            ("analytics.view", _("Use the pivot (OLAP) screen on one's own customers")),
            (
                "analytics.manage",
                _("See every customer in the pivots, share views and refresh the warehouse"),
            ),
            ("analytics.dashboard", _("See the role dashboards")),
        )
        roles.grant("sales_rep", "analytics.access")
        for role in ("sales_rep", "sales_manager", "executive"):
            roles.grant(role, "analytics.view")
        for role in ("sales_manager", "executive"):
            roles.grant(role, "analytics.manage")
        # The role dashboards. Planners, buyers and accountants read facts without a customer
        # (stock, purchases, production, ledger), which the rep scope leaves out: they see
        # every customer, like a manager, and drill down into the pivot.
        for role in ("planner", "buyer", "accountant", "service_manager"):
            roles.grant(role, "analytics.access", "analytics.view", "analytics.manage")
        for role in ("executive", "sales_manager", "planner", "buyer", "service_manager",
                     "accountant"):  # fmt: skip
            roles.grant(role, "analytics.dashboard")

        from auditlog.registry import auditlog

        from xietong.analytics import models, tasks

        if not auditlog.contains(models.SavedPivot):
            auditlog.register(models.SavedPivot, include_fields=["name", "owner", "shared",
                                                                 "definition"])  # fmt: skip
        if not auditlog.contains(models.DashboardPin):
            auditlog.register(models.DashboardPin, include_fields=["user", "view", "position",
                                                                   "display"])  # fmt: skip
        tasks.register()

        from xietong.core import menu

        menu.add("analytics", _("Pivot"), "analytics:pivot", "analytics.view", 10)

        from xietong.analytics import views_customers, views_dashboards, views_forecast

        views_customers.register()
        views_forecast.register()
        views_dashboards.register()
