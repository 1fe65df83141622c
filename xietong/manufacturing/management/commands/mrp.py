"""`xietong mrp run --input DIR --output DIR --start DATE --bucket day|week --horizon N`: run
MRP on CSV files (docs/mrp-csv.md) and write planned orders, pegging and exceptions as CSV."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from xietong.manufacturing.mrp.csvio import (
    MrpCsvError,
    plan_error_message,
    read_input,
    write_output,
)
from xietong.manufacturing.mrp.engine import BUCKET_DAYS, PlanError, plan


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(
            _("--start: not a date (YYYY-MM-DD): %(value)r") % {"value": text}
        ) from None


class Command(BaseCommand):
    help = "Material requirements planning on CSV files (docs/mrp-csv.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        run = commands.add_parser(
            "run",
            help="plan from the CSV files in --input, write the result into --output",
            called_from_command_line=getattr(parser, "called_from_command_line", None),
        )
        run.add_argument("--input", required=True, help="directory with the input CSV files")
        run.add_argument("--output", required=True, help="directory for the output CSV files")
        run.add_argument("--start", required=True, help="first day of the plan (YYYY-MM-DD)")
        run.add_argument("--bucket", choices=sorted(BUCKET_DAYS), default="week")
        run.add_argument("--horizon", type=int, default=52, help="number of buckets")
        run.add_argument(
            "--no-pegging", action="store_true", help="skip full pegging (pegging.csv is empty)"
        )
        for fence, meaning in (
            ("frozen", "no new planned order of an item of mps.csv due in this many days"),
            ("slushy", "nor in a bucket with a row of it in mps.csv within this many days"),
        ):
            run.add_argument(f"--{fence}-days", type=int, default=0, help=meaning)

    def handle(self, *args: Any, **options: Any) -> None:
        start = _date(options["start"])
        if options["horizon"] < 1:
            raise CommandError(_("--horizon must be at least 1"))
        if options["frozen_days"] < 0 or options["slushy_days"] < 0:
            raise CommandError(_("--frozen-days and --slushy-days cannot be negative"))
        started = time.perf_counter()
        try:
            inp = read_input(
                options["input"], start=start, bucket=options["bucket"], horizon=options["horizon"],
                frozen_days=options["frozen_days"], slushy_days=options["slushy_days"],
            )  # fmt: skip
            result = plan(inp, pegging=not options["no_pegging"])
        except MrpCsvError as error:
            raise CommandError(str(error)) from error
        except PlanError as error:
            raise CommandError(plan_error_message(error)) from error
        write_output(result, options["output"])
        self.stdout.write(
            _(
                "%(orders)s planned orders, %(pegging)s pegging rows and %(exceptions)s "
                "exceptions written to %(output)s in %(seconds).2f s."
            )
            % {
                "orders": len(result.planned_orders),
                "pegging": len(result.pegging),
                "exceptions": len(result.exceptions),
                "output": options["output"],
                "seconds": time.perf_counter() - started,
            }
        )
