"""Screens of marketing: segments, campaigns, promotions and e-mail campaigns."""

urlpatterns: list = []
