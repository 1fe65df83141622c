"""`xietong analytics clv --input transactions.csv --output DIR [--as-of DATE]
[--time-unit day|week]`: customer lifetime value (BG/NBD + Gamma-Gamma) of a transactions file
from any system (columns customer, date, amount), written as customers.csv and parameters.json."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from xietong.analytics import clv


class Command(BaseCommand):
    help = "Customer analytics on CSV files: `clv` (lifetime value, BG/NBD + Gamma-Gamma)."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        run = commands.add_parser(
            "clv",
            help="fit BG/NBD and Gamma-Gamma on --input, write per-customer CLV into --output",
            called_from_command_line=getattr(parser, "called_from_command_line", None),
        )
        run.add_argument("--input", required=True, help="CSV file: customer, date, amount")
        run.add_argument("--output", required=True, help="directory for the output files")
        run.add_argument("--as-of", help="ignore transactions after this date (YYYY-MM-DD)")
        run.add_argument("--time-unit", choices=sorted(clv.TIME_UNITS), default="week")
        run.add_argument("--horizon", type=int, help="time units ahead (default: one year)")
        run.add_argument("--discount-rate", type=float, default=0.0,
                         help="discount rate per period of about a month (0.01 = 1 %%)")  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = None
        if options["as_of"]:
            try:
                as_of = dt.date.fromisoformat(options["as_of"])
            except ValueError:
                raise CommandError(_("--as-of: not a date (YYYY-MM-DD): %(value)r")
                                   % {"value": options["as_of"]}) from None  # fmt: skip
        if options["horizon"] is not None and options["horizon"] < 1:
            raise CommandError(_("--horizon must be at least 1"))
        if not 0 <= options["discount_rate"] < 1:
            raise CommandError(_("--discount-rate must be at least 0 and below 1"))
        try:
            summary = clv.clv_csv(
                input_path=Path(options["input"]),
                output_dir=Path(options["output"]),
                as_of=as_of,
                time_unit=options["time_unit"],
                horizon=options["horizon"],
                discount_rate=options["discount_rate"],
            )
        except clv.ClvCsvError as error:
            raise CommandError("\n".join(error.problems)) from None
        except clv.ClvError as error:
            raise CommandError(str(error)) from None
        model = summary["bgnbd"]
        spend = summary["gamma_gamma"]
        self.stdout.write(
            _("%(customers)s customers, %(transactions)s transactions up to %(as_of)s. "
              "BG/NBD r=%(r).3f alpha=%(alpha).3f a=%(a).3f b=%(b).3f; "
              "Gamma-Gamma p=%(p).3f q=%(q).3f v=%(v).3f. Written to %(output)s.")
            % {**summary, **model, **spend, "output": options["output"]}  # type: ignore[dict-item]
        )  # fmt: skip
