"""The counts screens' part of the inventory permission matrix (joined in matrix.py)."""

# URL name -> key of the record (in inventory_records) its pk comes from.
URL_RECORDS: dict[str, str] = {
    "inventory:count_detail": "inv_count",
    "inventory:count_set": "inv_count",
    "inventory:count_line_add": "inv_count",
    "inventory:count_done": "inv_count",
    "inventory:count_cancel": "inv_count",
    "inventory:count_pdf": "inv_count",
    "inventory:rule_edit": "inv_rule",
}
# Views that only accept POST.
POST_ONLY: set[str] = {
    "inventory:count_set",
    "inventory:count_line_add",
    "inventory:count_done",
    "inventory:count_cancel",
}
