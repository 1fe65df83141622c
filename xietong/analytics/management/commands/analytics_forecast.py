"""`xietong analytics_forecast [--company ID] [--horizon N] [--product SKU ...]`: forecast the
company's demand from the warehouse and write the statistical forecast into manufacturing.
`xietong analytics_forecast --input history.csv --output DIR [--horizon N]`: forecast a CSV
history (unique_id, ds, y[, value]) into DIR/forecast.csv, series.csv and backtest.csv, without
touching the database; a bad file is refused with its line and column, and nothing is written."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from xietong.analytics import forecast as engine
from xietong.core.models import Company
from xietong.core.tenancy import company_scope


class Command(BaseCommand):
    help = "Demand forecast: of a company (warehouse → manufacturing) or of a CSV file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", help="company id or name (default: the only one)")
        parser.add_argument("--horizon", type=int, default=26, help="weeks ahead (1 to 104)")
        parser.add_argument("--product", action="append", default=[],
                            help="only this product (SKU or id; repeatable)")  # fmt: skip
        parser.add_argument("--input", help="CSV history: unique_id, ds, y[, value]")
        parser.add_argument("--output", help="directory for the CSV results (with --input)")
        parser.add_argument("--jobs", type=int, default=1, help="worker processes")

    def handle(self, *args: Any, **options: Any) -> None:
        horizon = options["horizon"]
        if not 1 <= horizon <= 104:
            raise CommandError(_("--horizon must be 1 to 104"))
        if options.get("input") or options.get("output"):
            self._csv(options, horizon)
            return
        from xietong.analytics.forecast_run import forecast_company
        from xietong.product.models import Product

        company = self._company(options.get("company"))
        product_ids = None
        if options["product"]:
            product_ids = []
            for ref in options["product"]:
                found = Product.unscoped.filter(company=company, sku=ref).values_list(
                    "pk", flat=True).first()  # fmt: skip
                if found is None and ref.isdigit():
                    found = Product.unscoped.filter(company=company, pk=int(ref)).values_list(
                        "pk", flat=True).first()  # fmt: skip
                if found is None:
                    raise CommandError(_("--product: no product %(ref)r") % {"ref": ref})
                product_ids.append(found)
        started = time.perf_counter()
        with company_scope(company):
            summary = forecast_company(company=company, actor=None, horizon=horizon,
                                       product_ids=product_ids, n_jobs=options["jobs"])  # fmt: skip
        self.stdout.write(self._summary(summary, time.perf_counter() - started))
        self.stdout.write(_("%(n)s statistical forecast rows written.") % {"n": summary["written"]})

    def _csv(self, options: dict[str, Any], horizon: int) -> None:
        if not options.get("input") or not options.get("output"):
            raise CommandError(_("Give both --input FILE and --output DIR."))
        started = time.perf_counter()
        try:
            history = engine.history_from_csv(options["input"])
            result = engine.forecast_table(history, h=horizon, n_jobs=options["jobs"])
        except engine.ForecastInputError as exc:
            raise CommandError(str(exc)) from exc
        paths = engine.result_to_csv(result, options["output"])
        self.stdout.write(self._summary(result.summary, time.perf_counter() - started))
        self.stdout.write(_("Written: %(paths)s") % {"paths": ", ".join(paths)})

    def _summary(self, s: dict[str, Any], seconds: float) -> str:
        def f(value: Any) -> str:
            return "–" if value is None else f"{value:.3f}"

        return _(
            "%(n)s series in %(s).1f s. Backtest: mean MASE %(mase)s (seasonal naive "
            "%(nmase)s), WAPE %(wape)s (seasonal naive %(nwape)s), bias %(bias)s."
        ) % {"n": s["series"], "s": seconds, "mase": f(s.get("mase")),
             "nmase": f(s.get("naive_mase")), "wape": f(s["model"]["wape"]),
             "nwape": f(s["naive"]["wape"]), "bias": f(s["model"]["bias"])}  # fmt: skip

    def _company(self, value: str | None) -> Company:
        if value:
            found = (Company.objects.filter(pk=int(value)) if value.isdigit()
                     else Company.objects.filter(name=value))  # fmt: skip
        else:
            found = Company.objects.all()
        if found.count() != 1:
            raise CommandError(_("Name one company with --company (id or name)."))
        return found.get()
