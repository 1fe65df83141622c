"""What the analytics app keeps in the operational database: saved pivot views. The warehouse
itself lives in DuckDB (`warehouse.py`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from xietong.core.tenancy import CompanyOwned


class SavedPivot(CompanyOwned):
    """A named pivot definition (measures, rows, columns, filters, sort, chart) of its owner;
    shared, every user of the company with analytics may open it."""

    name = models.CharField(_("name"), max_length=120)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
        verbose_name=_("owner"),
    )  # fmt: skip
    shared = models.BooleanField(_("shared"), default=False)
    definition = models.JSONField(_("definition"), default=dict)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["name", "pk"]
        verbose_name = _("saved pivot")
        verbose_name_plural = _("saved pivots")

    def __str__(self) -> str:
        return self.name
