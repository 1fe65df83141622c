from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "xietong.api"
    label = "api"
    verbose_name = _("REST API")

    def ready(self) -> None:
        from xietong.api.checks import operations_declare_permissions

        checks.register(operations_declare_permissions, "urls")
