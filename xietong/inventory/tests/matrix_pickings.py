"""The pickings screens' part of the inventory permission matrix (joined in matrix.py)."""

# URL name -> key of the record (in inventory_records) its pk comes from.
URL_RECORDS: dict[str, str] = {}
# Views that only accept POST.
POST_ONLY: set[str] = set()
