from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from xietong.core.menu import menu_for
from xietong.core.selectors import memberships_for_user


def shell(request: HttpRequest) -> dict[str, Any]:
    """What every page of the web shell needs: the active company, its menu, the user's companies."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "active_company": getattr(request, "company", None),
        "menu": _once(lambda: menu_for(request)),
        "user_companies": _once(lambda: [m.company for m in memberships_for_user(user=user)]),
    }


def _once(compute: Callable[[], Any]) -> Callable[[], Any]:
    """`compute`, run when a template first reads it and not again (a template calls a
    callable each time it reads the variable: the menu is read twice per page)."""
    done: list[Any] = []

    def value() -> Any:
        if not done:
            done.append(compute())
        return done[0]

    return value
