"""Database guard of the stock ledger: a done move cannot be changed or deleted, even by SQL
that bypasses the services (a correction is another move). Installed after every `migrate`
(also in test databases built without migrations) and registered with `core.dbguards` so that
`flush` can empty the table; PL/pgSQL on PostgreSQL, `RAISE(ABORT)` triggers on SQLite."""

from __future__ import annotations

from typing import Any

from django.db import connections

DONE = "inventory: a done stock move cannot be changed or deleted; make another move"

_POSTGRES = f"""
CREATE OR REPLACE FUNCTION inventory_move_guard() RETURNS trigger AS $$
BEGIN
    IF OLD.state = 'done' THEN RAISE EXCEPTION '{DONE}'; END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS inventory_move_guard ON inventory_move;
CREATE TRIGGER inventory_move_guard BEFORE UPDATE OR DELETE ON inventory_move
    FOR EACH ROW EXECUTE FUNCTION inventory_move_guard();
"""

_SQLITE_NAMES = ("inventory_move_update", "inventory_move_delete")
_SQLITE = [
    "DROP TRIGGER IF EXISTS inventory_move_update",
    "CREATE TRIGGER inventory_move_update BEFORE UPDATE ON inventory_move FOR EACH ROW "
    f"WHEN OLD.state = 'done' BEGIN SELECT RAISE(ABORT, '{DONE}'); END",
    "DROP TRIGGER IF EXISTS inventory_move_delete",
    "CREATE TRIGGER inventory_move_delete BEFORE DELETE ON inventory_move FOR EACH ROW "
    f"WHEN OLD.state = 'done' BEGIN SELECT RAISE(ABORT, '{DONE}'); END",
]


def guards_install(using: str = "default") -> None:
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_POSTGRES)
        elif connection.vendor == "sqlite":
            for statement in _SQLITE:
                cursor.execute(statement)


def guards_remove(using: str = "default") -> None:
    """Drop the SQLite triggers (for `flush`)."""
    connection = connections[using]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for name in _SQLITE_NAMES:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def install_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    guards_install(using)
