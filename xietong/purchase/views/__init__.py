"""Screens of the purchase app, one module per area: the buyer's workspace, requisitions and
sourcing, RFQs with the comparison and award, purchase orders with receiving, supplier-invoice
matches and the settings. Each view parses input, calls one service or selector and renders;
its permission is declared right on it (`@requires`)."""

from xietong.purchase.views import landed, matches, orders, requisitions, rfqs, setup, workspace

urlpatterns = [
    *workspace.urlpatterns,
    *requisitions.urlpatterns,
    *rfqs.urlpatterns,
    *orders.urlpatterns,
    *matches.urlpatterns,
    *landed.urlpatterns,
    *setup.urlpatterns,
]
