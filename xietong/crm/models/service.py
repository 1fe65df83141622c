"""Customer service and support: tickets, SLA policies, knowledge base, satisfaction surveys."""

__all__: list[str] = []
