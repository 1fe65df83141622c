"""Screens of the finance app, one module per area. Each view parses input, calls one service or
selector and renders; its permission is declared right on it (`@requires`)."""

from xietong.finance.views import invoices, ledger, payments, reports, setup

urlpatterns = [
    *ledger.urlpatterns,
    *invoices.urlpatterns,
    *payments.urlpatterns,
    *reports.urlpatterns,
    *setup.urlpatterns,
]
