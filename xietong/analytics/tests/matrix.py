"""What the shell's generated screen matrix needs from analytics: no URL takes a primary key
(saved views travel as `?view=` or in the POST body), and the POST-only views."""

from xietong.analytics.tests import matrix_customers, matrix_dashboards, matrix_forecast

URL_RECORDS: dict[str, str] = {
    **matrix_customers.URL_RECORDS,
    **matrix_forecast.URL_RECORDS,
    **matrix_dashboards.URL_RECORDS,
}
POST_ONLY = {
    *matrix_customers.POST_ONLY,
    *matrix_forecast.POST_ONLY,
    *matrix_dashboards.POST_ONLY,
    "analytics:view_save",
    "analytics:view_share",
    "analytics:view_delete",
    "analytics:refresh",
}
