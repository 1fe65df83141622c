"""`xietong ledger_verify [--company ID]`: recompute the hash chain of every posted entry."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from xietong.core.models import Company
from xietong.finance.chain import chain_verify


class Command(BaseCommand):
    help = "Check the hash chain of posted journal entries; exits with status 1 on tampering."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--company", type=int, help="only this company (id)")

    def handle(self, *args: Any, **options: Any) -> None:
        companies = Company.objects.order_by("pk")
        if options["company"]:
            companies = companies.filter(pk=options["company"])
        problems = 0
        for company in companies:
            for problem in chain_verify(company=company):
                problems += 1
                self.stdout.write(f"{company}: {problem}")
        if problems:
            self.stdout.write(
                self.style.ERROR(
                    _("%(count)s posted entries failed verification.") % {"count": problems}
                )
            )
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS(_("The ledger's hash chains are intact.")))
