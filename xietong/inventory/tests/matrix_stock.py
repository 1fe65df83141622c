"""The stock screens' part of the inventory permission matrix (joined in matrix.py)."""

# URL name -> key of the record (in inventory_records) its pk comes from.
URL_RECORDS: dict[str, str] = {
    "inventory:product_stock": "inv_product",
    "inventory:move_detail": "inv_move",
    "inventory:lot_detail": "inv_lot",
}
# Views that only accept POST.
POST_ONLY: set[str] = set()
