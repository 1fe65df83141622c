"""Reusable screen patterns of the web shell: lists (`listing`) and records (`records`)."""
