"""The screen matrix's part for analytics dashboards: URL name → record key, POST-only views."""

URL_RECORDS: dict[str, str] = {}
POST_ONLY: set[str] = set()
