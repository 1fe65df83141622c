"""REST endpoints of customer service: tickets, knowledge base."""

from ninja import Router

router = Router(tags=["crm service"])
