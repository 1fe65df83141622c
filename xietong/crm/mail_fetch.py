"""The transports of inbound e-mail, shared by tickets (`inbound.py`) and leads
(`lead_inbound.py`): a folder of RFC 822 files (`folder_fetch`: processed files move to
`done/`, refused ones to `failed/` with the reason in a `.error` file beside them) and an IMAP
mailbox (`imap_fetch`: unseen messages, marked seen once stored, a refused one seen and
flagged; the connection from a settings dictionary, `imap_connect`).

`ingest(raw)` stores one message and returns its outcome, `outcome(result)` names the count
it adds to (e.g. "created" or "duplicate"); a ValueError or ValidationError refuses the
message and counts it "failed"."""

from __future__ import annotations

import imaplib
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)

Ingest = Callable[[bytes], Any]
Outcome = Callable[[Any], str]


def folder_fetch(folder: Path | str, *, ingest: Ingest, outcome: Outcome,
                 counts: dict[str, int]) -> dict[str, int]:  # fmt: skip
    """Ingest every file of `folder` (sorted by name; subfolders and dot files skipped) and
    return `counts` (whose keys are every outcome and "failed") incremented."""
    base = Path(folder)
    if not base.is_dir():
        raise ValueError(f"not a folder: {base}")
    done, failed = base / "done", base / "failed"
    done.mkdir(exist_ok=True)
    failed.mkdir(exist_ok=True)
    for path in sorted(p for p in base.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            result = ingest(path.read_bytes())
        except (ValueError, ValidationError) as exc:
            counts["failed"] += 1
            shutil.move(str(path), failed / path.name)
            (failed / f"{path.name}.error").write_text(str(exc), encoding="utf-8")
            logger.warning("mail %s refused: %s", path, exc)
            continue
        counts[outcome(result)] += 1
        shutil.move(str(path), done / path.name)
    return counts


def imap_fetch(client: Any, mailbox: str, *, ingest: Ingest, outcome: Outcome,
               counts: dict[str, int]) -> dict[str, int]:  # fmt: skip
    """Ingest the unseen messages of `mailbox` through an IMAP4 `client` (imaplib's interface:
    select, search, fetch, store) and return `counts` incremented as `folder_fetch` does."""
    client.select(mailbox)
    status, data = client.search(None, "UNSEEN")
    if status != "OK":
        raise ValueError(f"IMAP search failed: {status}")
    for number in (data[0] or b"").split():
        status, parts = client.fetch(number, "(RFC822)")
        raw = next((p[1] for p in parts or () if isinstance(p, tuple) and len(p) > 1), None)
        if status != "OK" or raw is None:
            counts["failed"] += 1
            continue
        try:
            result = ingest(raw)
        except (ValueError, ValidationError) as exc:
            counts["failed"] += 1
            client.store(number, "+FLAGS", "(\\Seen \\Flagged)")
            logger.warning("IMAP message %s refused: %s", number, exc)
            continue
        counts[outcome(result)] += 1
        client.store(number, "+FLAGS", "(\\Seen)")
    return counts


def imap_connect(setting: str) -> tuple[Any, str]:
    """An IMAP4 connection logged in as the settings dictionary named `setting` says (host,
    port, user, password, mailbox, ssl — default true), and the mailbox. Raises ValueError when
    it is not configured."""
    config = getattr(settings, setting, None) or {}
    if not config.get("host"):
        raise ValueError(f"{setting} is not configured")
    secure = config.get("ssl", True)
    factory = imaplib.IMAP4_SSL if secure else imaplib.IMAP4
    client = factory(config["host"], int(config.get("port") or (993 if secure else 143)))
    client.login(config.get("user", ""), config.get("password", ""))
    return client, config.get("mailbox", "INBOX")
