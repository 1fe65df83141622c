"""REST endpoints of analytics: customers (mounted under the analytics router)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["analytics"])
