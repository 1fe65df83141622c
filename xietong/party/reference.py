"""Countries and regions (ISO 3166 via pycountry), synced after every migrate."""


def countries_sync() -> None:
    """Create missing countries and regions (to be written)."""
