from __future__ import annotations

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
        "menu": lambda: menu_for(request),
        "user_companies": lambda: [m.company for m in memberships_for_user(user=user)],
    }
