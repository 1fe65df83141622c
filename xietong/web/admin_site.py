"""Django admin, for superusers only (everyone else uses the shell's screens)."""

from django.contrib import admin
from django.http import HttpRequest


class SuperuserAdminSite(admin.AdminSite):
    site_header = "xietong"

    def has_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)


site = SuperuserAdminSite(name="admin")


class UnscopedAdmin(admin.ModelAdmin):
    """Superusers see every company's rows (the audited system path)."""

    def get_queryset(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        manager = getattr(self.model, "unscoped", self.model._default_manager)
        return manager.all()


def _register() -> None:
    from xietong.core import models

    for model in (
        models.Company,
        models.User,
        models.Role,
        models.Membership,
        models.Currency,
        models.UnitCategory,
        models.UnitOfMeasure,
        models.ExchangeRate,
        models.Sequence,
        models.ApiToken,
        models.Job,
    ):
        site.register(model, UnscopedAdmin)


_register()
