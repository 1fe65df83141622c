"""Screens of the 7P customer analysis: the overview of all customers or one customer group
(a section per P with ECharts: cluster sizes and centres, retention cohorts, whale curve,
churn-risk list with the model's validation AUC, CLV, growth, category mix and cross-sell) and
one customer's 7P page; a manager starts the refresh (a background job). Scope as in the pivot:
the active company, and without `analytics.manage` only one's own customers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.analytics import customers, customers_promotion, customers_reads, selectors, warehouse
from xietong.core import jobs
from xietong.core.permissions import has_perm, requires


def _scope(request: HttpRequest) -> int | None:
    return selectors.owner_scope(user=request.user, see_all=has_perm(request, "analytics.manage"))


def _bar(labels: list[Any], series: list[tuple[str, list[Any]]], horizontal: bool = False
         ) -> dict[str, Any]:  # fmt: skip
    category = {"type": "category", "data": [str(v) for v in labels]}
    value = {"type": "value"}
    return {"tooltip": {"trigger": "axis"}, "legend": {}, "grid": {"containLabel": True},
            "xAxis": value if horizontal else category, "yAxis": category if horizontal else value,
            "series": [{"name": name, "type": "bar", "data": data} for name, data in series]}  # fmt: skip


def overview_charts(page: dict[str, Any], cohorts: dict[str, Any], whale: dict[str, Any]
                    ) -> dict[str, Any]:  # fmt: skip
    """The ECharts options of the overview (plain JSON: the CSP forbids inline scripts)."""
    clusters = page.get("clusters") or []
    names = [str(n) for n in customers.CLUSTER_FEATURES.values()]
    centre_series = [{"name": _("Cluster %(n)s") % {"n": c["cluster"] + 1}, "type": "bar",
                      "data": [round(c["centre"].get(k, 0), 2) for k in customers.CLUSTER_FEATURES]}
                     for c in clusters]  # fmt: skip
    heat = [[k, i, round(v * 100, 1)] for i, row in enumerate(cohorts["retention"])
            for k, v in enumerate(row) if v is not None]  # fmt: skip
    mix = page.get("category_mix") or []
    return {
        "cluster_sizes": _bar([_("Cluster %(n)s") % {"n": c["cluster"] + 1} for c in clusters],
                              [(_("Customers"), [c["size"] for c in clusters])]),
        "cluster_centres": {"tooltip": {"trigger": "axis"}, "legend": {},
                            "grid": {"containLabel": True},
                            "yAxis": {"type": "category", "data": names, "inverse": True,
                                      "axisLabel": {"interval": 0}},
                            "xAxis": {"type": "value", "name": _("z-score")},
                            "series": centre_series},
        "cohorts": {"tooltip": {"position": "top"}, "grid": {"containLabel": True},
                    "xAxis": {"type": "category", "name": _("Months after the first order"),
                              "data": [str(m) for m in cohorts["months"]]},
                    "yAxis": {"type": "category", "data": cohorts["cohorts"]},
                    "visualMap": {"min": 0, "max": 100, "calculable": True, "orient": "horizontal",
                                  "left": "center", "bottom": 0},
                    "series": [{"name": _("Retention (%)"), "type": "heatmap", "data": heat,
                                "label": {"show": True}}]},
        "whale": {"tooltip": {"trigger": "axis"}, "grid": {"containLabel": True},
                  "xAxis": {"type": "value", "name": _("Share of customers"), "max": 1},
                  "yAxis": {"type": "value", "name": _("Share of profit")},
                  "series": [{"name": _("Cumulative profit"), "type": "line", "showSymbol": False,
                              "data": [[x, y] for x, y in zip(whale.get("x", []),
                                                               whale.get("y", []), strict=True)]},
                             {"name": _("Even share"), "type": "line", "showSymbol": False,
                              "lineStyle": {"type": "dashed"}, "data": [[0, 0], [1, 1]]}]},
        "category_mix": _bar([m["category"] for m in mix],
                             [(_("Revenue"), [round(m["revenue"] or 0, 2) for m in mix]),
                              (_("Margin"), [round(m["margin"] or 0, 2) for m in mix])]),
    }  # fmt: skip


P_NAMES = {
    "profiling": gettext_lazy("Profiling"), "persistency": gettext_lazy("Persistency"),
    "profitability": gettext_lazy("Profitability"), "performance": gettext_lazy("Performance"),
    "prospecting": gettext_lazy("Prospecting"), "product": gettext_lazy("Product"),
    "promotion": gettext_lazy("Promotion"),
}  # fmt: skip


@requires("analytics.view")
def customers_overview(request: HttpRequest) -> HttpResponse:
    """The 7P overview: the key figures, then every P (`?p=` one of `P_NAMES`: that P's screen
    alone), for the company or one customer group, in the rep's scope."""
    group = request.GET.get("group") or None
    owner = _scope(request)
    company = request.company
    with warehouse.connect(read_only=True) as con:
        page = customers_reads.overview(con, company_id=company.pk, owner_id=owner, group=group)
        groups = customers_reads.customer_groups(con, company_id=company.pk)
        chosen = request.GET.get("p", "")
        context: dict[str, Any] = {"page": page, "groups": groups, "group": group or "",
                                   "can_manage": has_perm(request, "analytics.manage"),
                                   "p_names": [(code, P_NAMES[code]) for code in P_NAMES],
                                   "p": chosen if chosen in P_NAMES else ""}  # fmt: skip
        if page["run"] is not None:
            as_of = dt.date.fromisoformat(page["run"]["as_of"])
            cohorts = customers_reads.retention_cohorts(con, company_id=company.pk, as_of=as_of,
                                                        owner_id=owner, group=group)  # fmt: skip
            whale = customers_reads.whale_curve(con, company_id=company.pk, owner_id=owner,
                                                group=group)  # fmt: skip
            context.update(cohorts=cohorts, whale=whale,
                           charts=overview_charts(page, cohorts, whale),
                           promotion=customers_promotion.promotion_overview(
                               con, company_id=company.pk))  # fmt: skip
    return render(request, "analytics/customers/overview.html", context)


@requires("analytics.view")
def customer_page(request: HttpRequest) -> HttpResponse:
    try:
        key = int(request.GET.get("key", ""))
    except ValueError:
        return redirect("analytics:customers")
    with warehouse.connect(read_only=True) as con:
        detail = customers_reads.customer_detail(con, company_id=request.company.pk,
                                                 customer_key=key, owner_id=_scope(request))  # fmt: skip
        promotion = customers_promotion.promotion_customer(
            con, company_id=request.company.pk, customer_key=key) if detail else None  # fmt: skip
    if detail is None:
        raise Http404(_("No 7P analysis of this customer in your scope."))
    monthly = detail["monthly"]
    charts = {
        "monthly": _bar([m["month"] for m in monthly],
                        [(_("Revenue"), [round(m["revenue"] or 0, 2) for m in monthly])]),
        "mix": {"tooltip": {"trigger": "item"},
                "series": [{"name": _("Revenue"), "type": "pie", "radius": "65%",
                            "data": [{"name": m["category"], "value": round(m["revenue"] or 0, 2)}
                                     for m in detail["category_mix"]]}]},
    }  # fmt: skip
    return render(request, "analytics/customers/customer.html",
                  {"d": detail, "c": detail["customer"], "charts": charts,
                   "promotion": promotion})  # fmt: skip


@require_POST
@requires("analytics.manage")
def customers_refresh(request: HttpRequest) -> HttpResponse:
    job = jobs.job_start(company=request.company, actor=request.user,
                         kind="analytics.customers_refresh",
                         name=_("Refresh the 7P customer analysis"))  # fmt: skip
    messages.success(request, _("The 7P customer analysis has started."))
    return redirect("core:job_detail", job.pk)


urlpatterns: list[URLPattern] = [
    path("customers/", customers_overview, name="customers"),
    path("customers/customer/", customer_page, name="customer_7p"),
    path("customers/refresh/", customers_refresh, name="customers_refresh"),
]


def register() -> None:
    """Add this module's screens to the navigation and its job kind (from AnalyticsConfig)."""
    from django.utils.translation import gettext_lazy

    from xietong.core import menu

    customers.register()
    menu.add("analytics", gettext_lazy("Customers (7P)"), "analytics:customers", "analytics.view",
             20)  # fmt: skip
