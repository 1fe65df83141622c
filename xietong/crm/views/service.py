"""Screens of customer service: tickets, SLA policies, knowledge base."""

urlpatterns: list = []
