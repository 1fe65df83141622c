"""The setup screens' part of the inventory permission matrix (joined in matrix.py)."""

# URL name -> key of the record (in the web tests' `records`) its pk comes from; the category
# valuation is edited by product category (`category` of the catalogue records).
URL_RECORDS: dict[str, str] = {
    "inventory:warehouse_detail": "inv_warehouse",
    "inventory:warehouse_edit": "inv_warehouse",
    "inventory:location_edit": "inv_location",
    "inventory:category_valuation_edit": "category",
}
# Views that only accept POST.
POST_ONLY: set[str] = set()
