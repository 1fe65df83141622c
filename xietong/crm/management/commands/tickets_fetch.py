"""`xietong tickets_fetch --company ID --folder DIR` (or `--imap`): turn inbound e-mail into
service tickets (see xietong.crm.inbound)."""

from __future__ import annotations

from xietong.crm import inbound
from xietong.crm.management.fetch import FetchCommand


class Command(FetchCommand):
    help = "Create or thread service tickets from RFC 822 files of a folder, or from IMAP."
    reader = inbound
    imap_setting = "XIETONG_TICKETS_IMAP"
