from django.urls import include, path

from xietong.web.urls import root_urlpatterns

urlpatterns = [
    *root_urlpatterns,
    path("", include("xietong.web.urls")),
    path("", include("xietong.core.urls")),
    path("parties/", include("xietong.party.urls")),
    path("products/", include("xietong.product.urls")),
    path("workflow/", include("xietong.workflow.urls")),
    path("finance/", include("xietong.finance.urls")),
    path("inventory/", include("xietong.inventory.urls")),
    path("sales/", include("xietong.sales.urls")),
    path("purchase/", include("xietong.purchase.urls")),
    path("manufacturing/", include("xietong.manufacturing.urls")),
    path("crm/", include("xietong.crm.urls")),
    path("analytics/", include("xietong.analytics.urls")),
    path("api/v1/", include("xietong.api.urls")),
]
handler403 = "xietong.web.errors.forbidden"
handler404 = "xietong.web.errors.not_found"
