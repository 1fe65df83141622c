"""The pickings screens' part of the inventory permission matrix (joined in matrix.py)."""

# URL name -> key of the record (in inventory_records) its pk comes from.
URL_RECORDS: dict[str, str] = {
    "inventory:picking_detail": "inv_receipt",
    "inventory:picking_confirm": "inv_receipt",
    "inventory:picking_assign": "inv_delivery",
    "inventory:picking_cancel": "inv_delivery",
    "inventory:picking_validate": "inv_receipt",
    "inventory:picking_scan": "inv_delivery",
    "inventory:picking_pdf": "inv_delivery",
}
# Views that only accept POST.
POST_ONLY: set[str] = {
    "inventory:picking_confirm",
    "inventory:picking_assign",
    "inventory:picking_cancel",
}
