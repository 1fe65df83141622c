"""The journal of products whose planning data changed (`ProductChange`), kept by the database.

Each app that holds a product's planning data registers its tables (`journal_register`, from
its `ready()`); after every `migrate`, `journal_install` puts triggers on them: every insert,
update or delete of a row writes the row's company and product to the journal, in the same
transaction, whatever the code path (the ORM, `core.bulkwrite`, COPY). On PostgreSQL the triggers are per statement (one journal insert for a
bulk write, from its transition tables); on SQLite per row.

A reader (MRP's net change) takes a watermark *before* it reads the data (`journal_mark`), and
later asks which products changed since it (`products_changed`): on PostgreSQL the snapshot of
that moment (rows of transactions not committed then are reported: a transaction that
committed while the data were read is reported again next time, and reading a product twice is
harmless, missing one is not); on SQLite, where writers take turns, the highest row id. Old
rows are pruned (`journal_prune`, from the worker); a watermark older than what was pruned
answers "everything changed"."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from xietong.product.models import ProductChange, ProductChangePruned

JOURNAL = ProductChange._meta.db_table
KEEP = 500_000  # journal rows kept by `journal_prune`


def _sql_postgres(table: str, select: str) -> list[str]:
    function = f"xt_journal_{table}"
    new, old = select.format(t="xt_new"), select.format(t="xt_old")
    insert = f"INSERT INTO {JOURNAL} (company_id, product_id, txid) SELECT DISTINCT c::bigint, p::bigint, txid_current() FROM"  # noqa: S608, E501
    return [
        f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {insert} ({new}) AS changed;
  ELSIF TG_OP = 'UPDATE' THEN
    {insert} ({new} UNION {old}) AS changed;
  ELSE
    {insert} ({old}) AS changed;
  END IF;
  RETURN NULL;
END $$""",
        f"CREATE TRIGGER {function}_i AFTER INSERT ON {table} REFERENCING NEW TABLE AS xt_new "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {function}_u AFTER UPDATE ON {table} REFERENCING OLD TABLE AS xt_old "
        f"NEW TABLE AS xt_new FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {function}_d AFTER DELETE ON {table} REFERENCING OLD TABLE AS xt_old "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


def _sql_sqlite(table: str, select: str) -> list[str]:
    statements = []
    for event, rows in (("INSERT", ["NEW"]), ("UPDATE", ["NEW", "OLD"]), ("DELETE", ["OLD"])):
        union = " UNION ".join(select.format(r=r) for r in rows)
        statements.append(
            f"CREATE TRIGGER xt_journal_{table}_{event[0].lower()} AFTER {event} ON {table} "  # noqa: S608 (registered names, no input)
            f"BEGIN INSERT INTO {JOURNAL} (company_id, product_id, txid) "
            f"SELECT c, p, 0 FROM ({union}); END"
        )
    return statements


_TABLES: dict[str, dict[str, str]] = {}


def journal_register(table: str, *, postgres: str, sqlite: str) -> None:
    """Have `journal_install` put the journal triggers on `table` (an app calls this from its
    `ready()`). `postgres`: a SELECT of the changed rows' company (as ``c``; NULL: every
    company) and product (as ``p``; NULL: every product) from the transition table ``{t}``;
    `sqlite`: the same from the row ``{r}`` (NEW or OLD). See `direct` and `everything`."""
    _TABLES[table] = {"postgres": postgres, "sqlite": sqlite}


def journal_install(using: str = "default", **_kwargs: Any) -> None:
    """(Re)create the journal triggers of every registered table: after `migrate` (a
    post_migrate handler, so also on a test database made without migrations)."""
    from django.db import connections

    target = connections[using]
    postgres = target.vendor == "postgresql"
    existing = set(target.introspection.table_names())
    with target.cursor() as cursor:
        for table, selects in sorted(_TABLES.items()):
            if table not in existing or JOURNAL not in existing:
                continue
            if postgres:
                cursor.execute(f"DROP FUNCTION IF EXISTS xt_journal_{table}() CASCADE")
                statements = _sql_postgres(table, selects["postgres"])
            else:
                for event in "iud":
                    cursor.execute(f"DROP TRIGGER IF EXISTS xt_journal_{table}_{event}")
                statements = _sql_sqlite(table, selects["sqlite"])
            for statement in statements:
                cursor.execute(statement)


def journal_remove(using: str = "default") -> None:
    """Drop the journal triggers (`flush` does, so that emptying the tables writes nothing)."""
    from django.db import connections

    target = connections[using]
    with target.cursor() as cursor:
        for table in sorted(_TABLES):
            if target.vendor == "postgresql":
                cursor.execute(f"DROP FUNCTION IF EXISTS xt_journal_{table}() CASCADE")
            else:
                for event in "iud":
                    cursor.execute(f"DROP TRIGGER IF EXISTS xt_journal_{table}_{event}")


def direct(table: str, product: str = "product_id") -> dict[str, str]:
    """The triggers' SELECTs for a table with its own company_id and product column."""
    return {
        "postgres": f"SELECT company_id AS c, {product} AS p FROM {{t}}",  # noqa: S608
        "sqlite": f"SELECT {{r}}.company_id AS c, {{r}}.{product} AS p",
    }


def everything(table: str, company: str | None = "company_id") -> dict[str, str]:
    """The triggers' SELECTs for a table whose change touches every product (of its company;
    of every company when the table has none)."""
    c = company or "NULL"
    return {
        "postgres": f"SELECT DISTINCT {c} AS c, NULL::bigint AS p FROM {{t}}",  # noqa: S608
        "sqlite": f"SELECT {{r}}.{c} AS c, NULL AS p" if company else "SELECT NULL AS c, NULL AS p",
    }


def journal_mark() -> str:
    """The watermark to read data at: take it before reading. PostgreSQL: the current
    snapshot (transactions committed, and those still running); SQLite: the highest row id."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_current_snapshot()::text")
        else:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {JOURNAL}")  # noqa: S608
        return str(cursor.fetchone()[0])


def products_changed(*, company_id: int, since: str) -> set[int] | None:
    """The ids of the company's products whose planning data changed since the watermark
    `since` (`journal_mark`): on PostgreSQL, written by transactions that had not committed
    when it was taken; None when every product must count as changed (a BOM, a unit or a
    location changed, or the journal was pruned past `since`)."""
    postgres = connection.vendor == "postgresql"
    oldest = int(since.split(":", 1)[0])  # PostgreSQL: the snapshot's xmin
    pruned = ProductChangePruned.objects.order_by("pk").first()
    if pruned and oldest < (pruned.txid_upto if postgres else pruned.id_upto):
        return None
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT product_id FROM {JOURNAL} "  # noqa: S608 (the model's table)
                "WHERE (company_id = %s OR company_id IS NULL) AND txid >= %s "
                "AND (NOT pg_visible_in_snapshot(txid::text::xid8, %s::pg_snapshot) "
                # the reader's own transaction (a test's): its rows, whenever written
                "OR txid::text::xid8 = pg_current_xact_id_if_assigned())",
                [company_id, oldest, since],
            )
            found = {row[0] for row in cursor.fetchall()}
    else:
        rows = ProductChange.objects.filter(
            Q(company_id=company_id) | Q(company_id__isnull=True), pk__gt=oldest
        )
        found = set(rows.values_list("product_id", flat=True).distinct())
    if None in found:
        return None
    return found


def journal_prune(keep: int = KEEP) -> int:
    """Delete all but the latest `keep` journal rows (on PostgreSQL, only rows of transactions
    that every running transaction sees as committed); returns how many were deleted. A
    watermark older than the rows deleted then answers "everything changed"."""
    with transaction.atomic():
        newest = ProductChange.objects.order_by("-pk").values_list("pk", flat=True).first()
        if newest is None or newest <= keep:
            return 0
        old = ProductChange.objects.filter(pk__lte=newest - keep)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
                old = old.filter(txid__lt=int(cursor.fetchone()[0]))
        highest = old.order_by("-txid").values_list("txid", flat=True).first()
        last = old.order_by("-pk").values_list("pk", flat=True).first()
        if last is None:
            return 0
        mark = ProductChangePruned.objects.select_for_update().order_by("pk").first()
        mark = mark or ProductChangePruned()
        mark.id_upto = max(mark.id_upto, last + 1)
        mark.txid_upto = max(mark.txid_upto, (highest or 0) + 1)
        mark.save()
        return old._raw_delete(old.db)


def journal_prune_periodic() -> None:
    """The worker's periodic pruning (`core.jobs.register_periodic`)."""
    journal_prune()
