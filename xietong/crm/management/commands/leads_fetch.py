"""`xietong leads_fetch --company ID --folder DIR` (or `--imap`): turn e-mail to the company's
sales mailboxes into leads (see xietong.crm.lead_inbound)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xietong.core.models import Company
from xietong.core.tenancy import company_scope
from xietong.crm import lead_inbound


class Command(BaseCommand):
    help = "Create leads from RFC 822 files of a folder, or from IMAP, sent to sales mailboxes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", help="company id or name (default: the only one)")
        parser.add_argument("--folder", help="folder of .eml files; done/ and failed/ beside")
        parser.add_argument("--imap", action="store_true",
                            help="read the mailbox of settings.XIETONG_LEADS_IMAP")  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        company = self._company(options.get("company"))
        if not options.get("folder") and not options.get("imap"):
            raise CommandError("Give --folder DIR or --imap.")
        with company_scope(company):
            try:
                if options.get("folder"):
                    counts = lead_inbound.folder_fetch(company=company, folder=options["folder"])
                else:
                    client, mailbox = lead_inbound.imap_connect()
                    try:
                        counts = lead_inbound.imap_fetch(company=company, client=client,
                                                         mailbox=mailbox)  # fmt: skip
                    finally:
                        client.logout()
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(", ".join(f"{key}: {value}" for key, value in counts.items()))

    def _company(self, value: str | None) -> Company:
        if value:
            found = (Company.objects.filter(pk=int(value)) if value.isdigit()
                     else Company.objects.filter(name=value))  # fmt: skip
        else:
            found = Company.objects.all()
        if found.count() != 1:
            raise CommandError("Name one company with --company (id or name).")
        return found.get()
