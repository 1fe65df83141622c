"""Database guards (triggers) that apps install to protect what must never change — posted
journal entries, done stock moves — and that only `flush` may lift.

An app registers a pair of functions `(install(using), remove(using))` in `AppConfig.ready()`.
`flush` (the test runner empties the database between transactional tests with it) removes
every registered guard first and installs them again afterwards: on SQLite the triggers would
refuse its DELETEs; PostgreSQL truncates, which row triggers do not see.
"""

from __future__ import annotations

from collections.abc import Callable

Guard = Callable[[str], None]
_GUARDS: list[tuple[Guard, Guard]] = []


def register(install: Guard, remove: Guard) -> None:
    if (install, remove) not in _GUARDS:
        _GUARDS.append((install, remove))


def install_all(using: str = "default") -> None:
    for install, _remove in _GUARDS:
        install(using)


def remove_all(using: str = "default") -> None:
    for _install, remove in reversed(_GUARDS):
        remove(using)
