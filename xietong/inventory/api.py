"""REST endpoints of inventory (being built)."""

from ninja import Router

router = Router(tags=["inventory"])
