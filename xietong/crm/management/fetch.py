"""The one shape of the commands that feed inbound e-mail into crm (`tickets_fetch`,
`leads_fetch`): a company, then a folder of .eml files or an IMAP mailbox, read by a module
offering `folder_fetch`, `imap_connect` and `imap_fetch`."""

from __future__ import annotations

from types import ModuleType
from typing import Any, ClassVar

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xietong.core.models import Company
from xietong.core.tenancy import company_scope


class FetchCommand(BaseCommand):
    reader: ClassVar[ModuleType]  # folder_fetch, imap_connect, imap_fetch
    imap_setting: ClassVar[str]  # the settings name of the IMAP mailbox

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", help="company id or name (default: the only one)")
        parser.add_argument("--folder", help="folder of .eml files; done/ and failed/ beside")
        parser.add_argument("--imap", action="store_true",
                            help=f"read the mailbox of settings.{self.imap_setting}")  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        company = self._company(options.get("company"))
        if not options.get("folder") and not options.get("imap"):
            raise CommandError("Give --folder DIR or --imap.")
        with company_scope(company):
            try:
                if options.get("folder"):
                    counts = self.reader.folder_fetch(company=company, folder=options["folder"])
                else:
                    client, mailbox = self.reader.imap_connect()
                    try:
                        counts = self.reader.imap_fetch(company=company, client=client,
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
