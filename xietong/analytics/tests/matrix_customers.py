"""The screen matrix's part for analytics customers: URL name → record key, POST-only views.
One customer's 7P page takes the customer as `?key=` (without it, it sends back to the
overview), so no URL takes a primary key."""

URL_RECORDS: dict[str, str] = {}
POST_ONLY: set[str] = {"analytics:customers_refresh"}
