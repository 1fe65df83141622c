"""`xietong analytics_customers [--company ID] [--as-of YYYY-MM-DD] [--horizon DAYS]`: the 7P
customer analysis (customers.py) of each company, or of one, on the warehouse as loaded."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from xietong.analytics import customers
from xietong.core.models import Company


class Command(BaseCommand):
    help = ("Compute the 7P customer analysis (profiling, churn, profitability, CLV, cross-sell) "
            "into the analytics warehouse.")  # fmt: skip

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--company", type=int, help="id of one company (default: every company)"
        )
        parser.add_argument("--as-of", help="analysis date, YYYY-MM-DD (default: today)")
        parser.add_argument("--horizon", type=int, default=90,
                            help="churn horizon in days (default 90)")  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = None
        if options.get("as_of"):
            try:
                as_of = dt.date.fromisoformat(options["as_of"])
            except ValueError as exc:
                raise CommandError(_("--as-of: not a date (YYYY-MM-DD): %(value)r")
                                   % {"value": options["as_of"]}) from exc  # fmt: skip
        if options["horizon"] < 7:
            raise CommandError(_("--horizon: at least 7 days."))
        companies = Company.objects.order_by("pk")
        if options.get("company"):
            companies = companies.filter(pk=options["company"])
            if not companies.exists():
                raise CommandError(_("No company with the id %(id)s.")
                                   % {"id": options["company"]})  # fmt: skip
        for company in companies:
            try:
                summary = customers.customers_refresh(company_id=company.pk, as_of=as_of,
                                                      horizon_days=options["horizon"])  # fmt: skip
            except customers.CustomersError as exc:
                self.stdout.write(f"{company}: {exc}")
                continue
            auc = summary["churn"].get("auc")
            self.stdout.write(self.style.SUCCESS(
                _("%(company)s: %(n)s customers as of %(date)s in %(seconds)s s; churn AUC "
                  "%(auc)s") % {"company": company, "n": summary["customers"],
                                "date": summary["as_of"], "seconds": summary["seconds"],
                                "auc": "—" if auc is None else f"{auc:.3f}"}))  # fmt: skip
