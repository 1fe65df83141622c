"""`xietong leads_fetch --company ID --folder DIR` (or `--imap`): turn e-mail to the company's
sales mailboxes into leads (see xietong.crm.lead_inbound)."""

from __future__ import annotations

from xietong.crm import lead_inbound
from xietong.crm.management.fetch import FetchCommand


class Command(FetchCommand):
    help = "Create leads from RFC 822 files of a folder, or from IMAP, sent to sales mailboxes."
    reader = lead_inbound
    imap_setting = "XIETONG_LEADS_IMAP"
