"""REST endpoints of marketing: segments, campaigns, e-mail campaigns."""

from ninja import Router

router = Router(tags=["crm marketing"])
