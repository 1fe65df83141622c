"""What the shell's generated screen matrix needs from analytics: no URL takes a primary key
(saved views travel as `?view=` or in the POST body), and the POST-only views."""

URL_RECORDS: dict[str, str] = {}
POST_ONLY = {
    "analytics:view_save",
    "analytics:view_share",
    "analytics:view_delete",
    "analytics:refresh",
}
