from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ManufacturingConfig(AppConfig):
    name = "xietong.manufacturing"
    label = "manufacturing"
    verbose_name = _("Manufacturing")
