"""Writes of parties (to be written)."""
