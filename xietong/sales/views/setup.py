"""The sales settings of the company."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _

from xietong.core.permissions import requires
from xietong.core.ui.records import edit_response
from xietong.sales.common import sales_settings
from xietong.sales.configuration import sales_settings_update
from xietong.sales.forms import SettingsForm


@requires("sales.configure")
def settings_edit(request: HttpRequest) -> HttpResponse:
    current = sales_settings(request.company)
    initial = {
        "warehouse": current.warehouse_id,
        "quotation_validity_days": current.quotation_validity_days,
        "invoice_policy": current.invoice_policy,
        "max_discount_percent": current.max_discount_percent,
        "down_payment_account": current.down_payment_account_id,
        "return_days": current.return_days,
        "default_tax": current.default_tax_id,
    }
    return edit_response(
        request,
        form=SettingsForm(request.POST or None, initial=initial),
        save=lambda data: sales_settings_update(
            company=request.company, actor=request.user, **data
        ),
        success=_("Sales settings saved."),
        done_url=reverse("sales:settings_edit"),
        title=_("Sales settings"),
        cancel_url=reverse("sales:workspace"),
    )


urlpatterns = [path("settings/", settings_edit, name="settings_edit")]
