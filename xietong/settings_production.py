"""Production hardening on top of `xietong.settings` (checked by `check --deploy` in CI)."""

import os

from xietong.settings import *  # noqa: F403

DEBUG = False
SECRET_KEY = os.environ["XIETONG_SECRET_KEY"]
SECURE_SSL_REDIRECT = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# SITE_URL (env XIETONG_SITE_URL, read in xietong.settings): the site's absolute address, e.g.
# https://xietong.example, for links in campaign e-mails and activity reminders. Set it: without
# it those links point to http://localhost:8000 (campaigns) or are paths only (reminders).
CSRF_TRUSTED_ORIGINS = [
    origin for origin in os.environ.get("XIETONG_TRUSTED_ORIGINS", "").split(",") if origin
]
# Persistent database connections: a connection per request costs PostgreSQL a backend start
# and authentication every time. Reused for up to XIETONG_CONN_MAX_AGE seconds (default 60;
# 0: a new connection per request, as in development; "none": without limit), checked before
# reuse so that a connection the database dropped is replaced instead of failing a request.
_conn_max_age = os.environ.get("XIETONG_CONN_MAX_AGE", "60").strip().lower()
for _database in DATABASES.values():  # noqa: F405
    _database["CONN_MAX_AGE"] = None if _conn_max_age == "none" else int(_conn_max_age)
    _database["CONN_HEALTH_CHECKS"] = True
WHITENOISE_USE_FINDERS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
