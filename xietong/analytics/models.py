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


class DashboardPin(CompanyOwned):
    """A saved pivot its user pinned to their dashboard, shown at `position` (ascending) as a
    table or a chart. A user pins a view at most once."""

    class Display(models.TextChoices):
        TABLE = "table", _("Table")
        BAR = "bar", _("Bar chart")
        LINE = "line", _("Line chart")
        PIE = "pie", _("Pie chart")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
        verbose_name=_("user"),
    )  # fmt: skip
    view = models.ForeignKey(SavedPivot, on_delete=models.CASCADE, related_name="pins",
                             verbose_name=_("saved pivot"))  # fmt: skip
    position = models.PositiveIntegerField(_("position"), default=0)
    display = models.CharField(_("display"), max_length=10, choices=Display.choices,
                               default=Display.TABLE)  # fmt: skip
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["position", "pk"]
        verbose_name = _("dashboard pin")
        verbose_name_plural = _("dashboard pins")
        constraints = [
            models.UniqueConstraint(fields=["company", "user", "view"],
                                    name="analytics_pin_unique"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.view} @ {self.position}"
