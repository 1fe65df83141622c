"""Marketing: segments, campaigns with promotions, e-mail campaigns and their tracking."""

__all__: list[str] = []
