"""Django settings for govshare, read from the environment.

- ``GOVSHARE_HOME``: local directory (default ``~/.local/share/govshare``).
- ``DATABASE_URL``: ``postgres://…`` for production; default a SQLite file in ``GOVSHARE_HOME``.
- ``SECRET_KEY`` / ``GOVSHARE_KEK``: given, or generated into ``GOVSHARE_HOME`` with mode 0600.
- ``DEBUG``: off unless ``GOVSHARE_DEBUG=1`` (the ``demo`` command sets it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url

from govshare.core.home import home_dir, read_or_create_secret

BASE_DIR = Path(__file__).resolve().parent
GOVSHARE_HOME = home_dir()

SECRET_KEY = os.environ.get("SECRET_KEY") or read_or_create_secret("secret_key", 50)
# Key-encryption key (KEK) for envelope encryption; lives outside the database and its backups.
GOVSHARE_KEK = os.environ.get("GOVSHARE_KEK") or read_or_create_secret("kek.hex", 16)
GOVSHARE_KEK_ID = os.environ.get("GOVSHARE_KEK_ID", "kek-1")

DEBUG = os.environ.get("GOVSHARE_DEBUG", "") == "1"
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "*").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves its swagger-ui assets itself (no CDN, which the CSP forbids)
    "django_tasks",
    "django_tasks_db",
    "govshare.core",
    "govshare.audit",
    "govshare.organizations",
    "govshare.accounts",
    "govshare.registry",
    "govshare.catalog",
    "govshare.datasets",
    "govshare.exchange",
    "govshare.connectors",
    "govshare.subscriptions",
    "govshare.quality",
    "govshare.baselibs",
    "govshare.licences",
    "govshare.stats",
    "govshare.portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "govshare.core.middleware.RequestContextMiddleware",
    "govshare.accounts.middleware.IdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "govshare.core.middleware.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "govshare.urls"
WSGI_APPLICATION = "govshare.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "govshare.portal.nav.context",
            ],
        },
    },
]


def _database() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{GOVSHARE_HOME / 'govshare.sqlite3'}"
    # Persistent connections: reconnecting per request halves data-plane throughput.
    db: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db["OPTIONS"] = {
            # IMMEDIATE: a write transaction takes the lock at BEGIN, so two writers queue on the
            # busy timeout instead of failing with "database is locked" on lock upgrade.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=FULL;"
                "PRAGMA foreign_keys=ON;PRAGMA busy_timeout=30000;"
            ),
        }
        db["TEST"] = {"NAME": os.environ.get("GOVSHARE_TEST_SQLITE", "")} if os.environ.get(
            "GOVSHARE_TEST_SQLITE"
        ) else {}
    return db


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "govshare.accounts.passwords.CharacterClassValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = GOVSHARE_HOME / "static"
MEDIA_ROOT = GOVSHARE_HOME / "media"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# Security headers and session policy (DESIGN.md §6).
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = os.environ.get("GOVSHARE_SECURE_COOKIES", "") == "1"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# HTTPS deployments (GOVSHARE_SECURE_COOKIES=1): HSTS for a year. Behind a TLS gateway that sets
# X-Forwarded-Proto (and strips it from clients), GOVSHARE_TRUST_FORWARDED_PROTO=1 lets Django see HTTPS.
SECURE_HSTS_SECONDS = int(os.environ.get("GOVSHARE_HSTS_SECONDS", "31536000")) if SESSION_COOKIE_SECURE else 0
if os.environ.get("GOVSHARE_TRUST_FORWARDED_PROTO", "") == "1":
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (govshare.core.middleware.SecurityHeadersMiddleware): own origin only, no CDN.
GOVSHARE_CSP = os.environ.get("GOVSHARE_CSP") or (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
GOVSHARE_PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Platform rules: every number is a setting (DESIGN.md §3).
GOVSHARE: dict[str, Any] = {
    "NODE_CODE": os.environ.get("GOVSHARE_NODE_CODE", ""),
    "IDLE_TIMEOUT_SECONDS": int(os.environ.get("GOVSHARE_IDLE_TIMEOUT", "1800")),
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCKOUT_SECONDS": 15 * 60,
    "LOGIN_IP_MAX_FAILURES": 30,  # failed sign-ins from one client address per lockout window
    "DATAPLANE_AUTH_FAILURES_PER_MINUTE": 20,  # failed data-plane authentications per AppKey / address / minute
    "HOLIDAY_CACHE_SECONDS": 60,
    "UPLOAD_MAX_BYTES": int(os.environ.get("GOVSHARE_UPLOAD_MAX_BYTES", str(200 * 1024 * 1024))),
    "UPLOAD_MAX_REPORTED_PROBLEMS": 100,
    "RESOURCE_CODE_FORMAT": os.environ.get(
        "GOVSHARE_RESOURCE_CODE_FORMAT", "{prefix}/{lei}{xiang}{mu}{ximu}/{seq:06d}"
    ),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "govshare": {"handlers": ["console"], "level": os.environ.get("GOVSHARE_LOG_LEVEL", "INFO")},
        "jieba": {"level": "WARNING"},
    },
}
