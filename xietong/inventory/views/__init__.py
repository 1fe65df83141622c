"""Screens of the inventory app, one module per area: stock (on hand, moves, lots and their
traceability, stock value), pickings (with the barcode scan screen), counts and replenishment,
and setup (warehouses, locations, category valuation). Each view parses input, calls one service
or selector and renders; its permission is declared right on it (`@requires`)."""

from xietong.inventory.views import counts, pickings, setup, stock

urlpatterns = [
    *stock.urlpatterns,
    *pickings.urlpatterns,
    *counts.urlpatterns,
    *setup.urlpatterns,
]
