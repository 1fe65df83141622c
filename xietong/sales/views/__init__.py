"""Screens of the sales app, one module per area: the rep's workspace, quotations with the
quick-quote editor, sales orders, returns and the settings. Each view parses input, calls one
service or selector and renders; its permission is declared right on it (`@requires`)."""

from xietong.sales.views import orders, quotations, returns, setup, workspace

urlpatterns = [
    *workspace.urlpatterns,
    *quotations.urlpatterns,
    *orders.urlpatterns,
    *returns.urlpatterns,
    *setup.urlpatterns,
]
