"""Database guards of the ledger: triggers that hold even for SQL that bypasses the services.

- A posted entry cannot be updated or deleted, and no line can be added to, changed in or removed
  from it.
- An entry is posted only from draft, and the database checks at that moment that it has at
  least two lines, that debits equal credits, that no line is all zeros, that every line and
  account belongs to the entry's company and that its date is not in a closed period.
- A closed period cannot be reopened, moved or deleted.

They are (re)installed after every `migrate` (the `post_migrate` signal, so a test database
built without migrations has them too); installing is idempotent. PostgreSQL runs PL/pgSQL
functions, SQLite `RAISE(ABORT)` triggers; both raise an error whose message starts with
`finance:` and the statement changes nothing.
"""

from __future__ import annotations

from django.db import connections

IMMUTABLE = "finance: a posted journal entry cannot be changed or deleted; post a reversal"
IMMUTABLE_LINE = "finance: the lines of a posted journal entry cannot be changed"
UNBALANCED = "finance: the entry does not balance (debits must equal credits)"
TOO_FEW = "finance: an entry needs at least two lines"
ZERO_LINE = "finance: an entry line has no amount"
FOREIGN = "finance: an entry line belongs to another company"
CLOSED = "finance: the entry date is in a closed period"
POST_FROM_DRAFT = "finance: an entry is created as a draft and posted afterwards"
PERIOD_LOCKED = "finance: a closed period cannot be reopened, changed or deleted"

_POSTGRES = f"""
CREATE OR REPLACE FUNCTION finance_entry_guard() RETURNS trigger AS $$
DECLARE
    n integer; debits numeric; credits numeric;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.state = 'posted' THEN RAISE EXCEPTION '{POST_FROM_DRAFT}'; END IF;
        RETURN NEW;
    END IF;
    IF OLD.state = 'posted' THEN RAISE EXCEPTION '{IMMUTABLE}'; END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    IF NEW.state = 'posted' THEN
        SELECT count(*), coalesce(sum(debit), 0), coalesce(sum(credit), 0)
          INTO n, debits, credits FROM finance_line WHERE entry_id = NEW.id;
        IF n < 2 THEN RAISE EXCEPTION '{TOO_FEW}'; END IF;
        IF debits <> credits THEN RAISE EXCEPTION '{UNBALANCED}'; END IF;
        IF EXISTS (SELECT 1 FROM finance_line WHERE entry_id = NEW.id
                   AND debit = 0 AND credit = 0 AND amount_currency = 0) THEN
            RAISE EXCEPTION '{ZERO_LINE}';
        END IF;
        IF EXISTS (SELECT 1 FROM finance_line l JOIN finance_account a ON a.id = l.account_id
                   WHERE l.entry_id = NEW.id
                   AND (l.company_id <> NEW.company_id OR a.company_id <> NEW.company_id)) THEN
            RAISE EXCEPTION '{FOREIGN}';
        END IF;
        IF EXISTS (SELECT 1 FROM finance_period p WHERE p.company_id = NEW.company_id
                   AND p.state = 'closed' AND NEW.date BETWEEN p.start AND p."end") THEN
            RAISE EXCEPTION '{CLOSED}';
        END IF;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS finance_entry_guard ON finance_entry;
CREATE TRIGGER finance_entry_guard BEFORE INSERT OR UPDATE OR DELETE ON finance_entry
    FOR EACH ROW EXECUTE FUNCTION finance_entry_guard();

CREATE OR REPLACE FUNCTION finance_line_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND EXISTS (
        SELECT 1 FROM finance_entry WHERE id = OLD.entry_id AND state = 'posted') THEN
        RAISE EXCEPTION '{IMMUTABLE_LINE}';
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND EXISTS (
        SELECT 1 FROM finance_entry WHERE id = NEW.entry_id AND state = 'posted') THEN
        RAISE EXCEPTION '{IMMUTABLE_LINE}';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS finance_line_guard ON finance_line;
CREATE TRIGGER finance_line_guard BEFORE INSERT OR UPDATE OR DELETE ON finance_line
    FOR EACH ROW EXECUTE FUNCTION finance_line_guard();

CREATE OR REPLACE FUNCTION finance_period_guard() RETURNS trigger AS $$
BEGIN
    IF OLD.state = 'closed' AND (TG_OP = 'DELETE' OR NEW.state <> 'closed'
            OR NEW.start <> OLD.start OR NEW."end" <> OLD."end"
            OR NEW.company_id <> OLD.company_id) THEN
        RAISE EXCEPTION '{PERIOD_LOCKED}';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS finance_period_guard ON finance_period;
CREATE TRIGGER finance_period_guard BEFORE UPDATE OR DELETE ON finance_period
    FOR EACH ROW EXECUTE FUNCTION finance_period_guard();
"""


def _raise_when(name: str, event: str, table: str, condition: str, message: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {name}",
        f"CREATE TRIGGER {name} {event} ON {table} FOR EACH ROW WHEN {condition} "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
    ]


_POSTED_OLD = (
    "EXISTS (SELECT 1 FROM finance_entry e WHERE e.id = OLD.entry_id AND e.state = 'posted')"
)
_POSTED_NEW = (
    "EXISTS (SELECT 1 FROM finance_entry e WHERE e.id = NEW.entry_id AND e.state = 'posted')"
)
_POSTING = "OLD.state = 'draft' AND NEW.state = 'posted'"

_SQLITE = [
    *_raise_when(
        "finance_entry_insert", "BEFORE INSERT", "finance_entry", "NEW.state = 'posted'",
        POST_FROM_DRAFT,
    ),
    *_raise_when(
        "finance_entry_update", "BEFORE UPDATE", "finance_entry", "OLD.state = 'posted'", IMMUTABLE
    ),
    *_raise_when(
        "finance_entry_delete", "BEFORE DELETE", "finance_entry", "OLD.state = 'posted'", IMMUTABLE
    ),
    *_raise_when(
        "finance_entry_post_count", "BEFORE UPDATE", "finance_entry",
        f"{_POSTING} AND (SELECT count(*) FROM finance_line WHERE entry_id = NEW.id) < 2",
        TOO_FEW,
    ),
    *_raise_when(
        "finance_entry_post_balance", "BEFORE UPDATE", "finance_entry",
        f"{_POSTING} AND (SELECT round(coalesce(sum(debit), 0) - coalesce(sum(credit), 0), 4)"
        " FROM finance_line WHERE entry_id = NEW.id) <> 0",
        UNBALANCED,
    ),
    *_raise_when(
        "finance_entry_post_zero", "BEFORE UPDATE", "finance_entry",
        f"{_POSTING} AND EXISTS (SELECT 1 FROM finance_line WHERE entry_id = NEW.id"
        " AND debit = 0 AND credit = 0 AND amount_currency = 0)",
        ZERO_LINE,
    ),
    *_raise_when(
        "finance_entry_post_company", "BEFORE UPDATE", "finance_entry",
        f"{_POSTING} AND EXISTS (SELECT 1 FROM finance_line l JOIN finance_account a"
        " ON a.id = l.account_id WHERE l.entry_id = NEW.id"
        " AND (l.company_id <> NEW.company_id OR a.company_id <> NEW.company_id))",
        FOREIGN,
    ),
    *_raise_when(
        "finance_entry_post_period", "BEFORE UPDATE", "finance_entry",
        f"{_POSTING} AND EXISTS (SELECT 1 FROM finance_period p"
        " WHERE p.company_id = NEW.company_id AND p.state = 'closed'"
        ' AND NEW.date BETWEEN p.start AND p."end")',
        CLOSED,
    ),
    *_raise_when(
        "finance_line_insert", "BEFORE INSERT", "finance_line", _POSTED_NEW, IMMUTABLE_LINE
    ),
    *_raise_when(
        "finance_line_update", "BEFORE UPDATE", "finance_line",
        f"{_POSTED_OLD} OR {_POSTED_NEW}", IMMUTABLE_LINE,
    ),
    *_raise_when(
        "finance_line_delete", "BEFORE DELETE", "finance_line", _POSTED_OLD, IMMUTABLE_LINE
    ),
    *_raise_when(
        "finance_period_update", "BEFORE UPDATE", "finance_period",
        "OLD.state = 'closed' AND (NEW.state <> 'closed' OR NEW.start <> OLD.start"
        ' OR NEW."end" <> OLD."end" OR NEW.company_id <> OLD.company_id)',
        PERIOD_LOCKED,
    ),
    *_raise_when(
        "finance_period_delete", "BEFORE DELETE", "finance_period", "OLD.state = 'closed'",
        PERIOD_LOCKED,
    ),
]  # fmt: skip


def guards_install(using: str = "default") -> None:
    """Create or replace the ledger's triggers on database `using`."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_POSTGRES)
        elif connection.vendor == "sqlite":
            for statement in _SQLITE:
                cursor.execute(statement)


def guards_remove(using: str = "default") -> None:
    """Drop the SQLite triggers (for `flush`, which empties every table; on PostgreSQL it
    truncates, which row triggers do not see)."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for statement in _SQLITE:
            if statement.startswith("DROP TRIGGER"):
                cursor.execute(statement)


def install_after_migrate(sender, using: str = "default", **kwargs) -> None:  # type: ignore[no-untyped-def]
    guards_install(using)
