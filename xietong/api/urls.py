"""URLs under `/api/v1/`: the Ninja API, and problem+json answers for what Ninja leaves to
Django (unknown paths, wrong methods), so that no API error is an HTML page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path, re_path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from xietong.api.problems import problem_response
from xietong.api.v1 import api


def _problems_for_bare_errors(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """Turn Ninja's plain 405 and the 404 of its index page into problem documents."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return not_found(request)
        if isinstance(response, HttpResponseNotAllowed):
            return problem_response(
                request=request,
                status=405,
                detail=_("This method is not allowed here."),
                headers={"Allow": response["Allow"]},
            )
        return response

    return wrapped


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return problem_response(request=request, status=404, detail=_("Nothing was found here."))


def _api_urls() -> tuple[list[URLPattern], str, str]:
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = _problems_for_bare_errors(pattern.callback)
    return patterns, app_name, namespace


urlpatterns = [
    path("", _api_urls()),
    re_path(r"^.*$", not_found, name="api-not-found"),
]
