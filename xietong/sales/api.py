"""REST endpoints of sales (being built)."""

from ninja import Router

router = Router(tags=["sales"])
