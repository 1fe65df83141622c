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
        )
        roles.grant("sales_rep", "analytics.access")
        for role in ("sales_rep", "sales_manager", "executive"):
            roles.grant(role, "analytics.view")
        for role in ("sales_manager", "executive"):
            roles.grant(role, "analytics.manage")

        from auditlog.registry import auditlog

        from xietong.analytics import models, tasks

        if not auditlog.contains(models.SavedPivot):
            auditlog.register(models.SavedPivot, include_fields=["name", "owner", "shared",
                                                                 "definition"])  # fmt: skip
        tasks.register()

        from xietong.core import menu

        menu.add("analytics", _("Pivot"), "analytics:pivot", "analytics.view", 10)

        from xietong.analytics import views_customers, views_dashboards, views_forecast

        views_customers.register()
        views_forecast.register()
        views_dashboards.register()
