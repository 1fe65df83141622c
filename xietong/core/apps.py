from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_reference_data(sender, **kwargs):  # type: ignore[no-untyped-def]
    from xietong.core.services import (
        currencies_sync_defaults,
        roles_sync_defaults,
        units_sync_defaults,
    )

    currencies_sync_defaults()
    roles_sync_defaults()
    units_sync_defaults()


class CoreConfig(AppConfig):
    name = "xietong.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from xietong.core import jobs, maintenance, models, services  # noqa: F401  (registers job kinds)

        jobs.register_periodic("core.sqlite_statistics", maintenance.sqlite_statistics)

        for model in (
            models.Company,
            models.ExchangeRate,
            models.Sequence,
            models.UnitOfMeasure,
            models.Role,
            models.ApiToken,
        ):
            auditlog.register(model)
        auditlog.register(models.Membership, m2m_fields={"roles"})
        auditlog.register(
            models.User,
            include_fields=[
                "username",
                "email",
                "first_name",
                "last_name",
                "is_active",
                "active_company",
                "language",
            ],
        )
        post_migrate.connect(_sync_reference_data, sender=self)
        self._register_menu()

    def _register_menu(self) -> None:
        from xietong.core import menu

        menu.add("finance", _("Exchange rates"), "core:rate_list", "core.exchangerate.view", 90)
        menu.add("settings", _("Units of measure"), "core:unit_list", "core.uom.view", 35)
        menu.add("settings", _("Company"), "core:company", "core.company.change", 10)
        menu.add("settings", _("Users"), "core:user_list", "core.user.view", 20)
        menu.add("settings", _("Roles"), "core:role_list", "core.user.view", 30)
        menu.add(
            "settings", _("Document sequences"), "core:sequence_list", "core.sequence.view", 40
        )
        menu.add("settings", _("Audit trail"), "core:audit_list", "core.audit.view", 50)
        menu.add("settings", _("Background jobs"), "core:job_list", "core.dashboard", 60)
