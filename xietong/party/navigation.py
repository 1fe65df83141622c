"""Screens of this area in the shell's navigation (xietong.core.menu)."""


def register() -> None:
    """Add this module's screens to the menu (each with the permission it needs)."""
