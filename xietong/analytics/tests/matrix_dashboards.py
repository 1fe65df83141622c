"""The screen matrix's part for analytics dashboards: URL name → record key, POST-only views.
The dashboard takes the role board as `?board=` and pins travel in the POST body, so no URL
takes a primary key."""

URL_RECORDS: dict[str, str] = {}
POST_ONLY: set[str] = {
    "analytics:dashboard_pin",
    "analytics:dashboard_unpin",
    "analytics:dashboard_move",
}
