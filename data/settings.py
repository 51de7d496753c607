"""All configuration in one declarative table.

Every setting has a name, a default and a help text, and can be overridden by the
environment variable ``CITYOPS_<NAME>`` (upper case). Nothing else in the code base reads
``os.environ`` for configuration. ``tests/test_settings.py`` checks that every setting is
documented in the README.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return "CITYOPS_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("mode", "all", "Which site this process serves: ops, public, or all (local demo)."),
    Setting("var_dir", "var", "Where the warehouse, snapshots and the CURRENT pointer live (relative to the repo root unless absolute)."),
    Setting("host", "127.0.0.1", "Address the development server binds to."),
    Setting("port", 8050, "Port of the development server."),
    Setting("snapshot_poll_s", 5.0, "How often a web worker checks the CURRENT pointer for a new data version (seconds)."),
    Setting("snapshot_grace_s", 600.0, "How long a superseded snapshot is kept before publish deletes it (seconds); "
            "the newest superseded one is kept longer, as the fallback for a damaged current release."),
    Setting("snapshot_keep", 3, "At most this many superseded releases are kept on disk (newest first); none superseded "
            "less than snapshot_poll_s ago is ever deleted."),
    Setting("snapshot_store", "", "Several app hosts: a directory every host mounts where publish puts each release "
            "(CURRENT.json, snapshots/, public/); each host copies a newer release into its own var_dir and "
            "switches to it at its next poll. Or an S3-compatible object store, s3://bucket/prefix (boto3; "
            "credentials from boto3's chain, e.g. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_DEFAULT_REGION). "
            "Empty = one machine (the var dir)."),
    Setting("snapshot_store_endpoint", "", "Endpoint URL of an S3-compatible snapshot store that is not AWS "
            "(MinIO, Ceph RGW...), e.g. http://minio:9000. Empty = AWS S3."),
    Setting("db_threads", 2, "DuckDB threads per web worker connection."),
    Setting("db_memory_limit", "1GB", "DuckDB memory_limit per web worker connection."),
    Setting("query_cache_size", 512, "Query results kept per worker, keyed by (data version, query, params)."),
    Setting("rollup_engine", "duckdb", "Where publish computes rollups: duckdb (in the warehouse) or spark (Apache Spark over Parquet exports of the raw tables)."),
    Setting("spark_master", "local[*]", "Spark master URL for rollup_engine = spark (local[*] runs Spark in this process; spark://host:7077 for a cluster)."),
    Setting("hourly_retention_days", 14, "Days of hourly rollups kept in the warehouse and snapshots."),
    Setting("records_days", 90, "Days of row-level service requests copied into the ops snapshot for drill-down."),
    Setting("suppression_k", 10, "Public snapshot: counts in [1, k-1] are suppressed."),
    Setting("audit_seconds", 300.0, "Time budget of the public release auditor per publish (s); blocks not protected in time are held back."),
    Setting("demo_seed", 20261122, "Seed of the demo city generator."),
    Setting("demo_days", 730, "Days of history the demo generator builds."),
    Setting("live_interval_s", 5.0, "Seconds between two batches of the live feed."),
    Setting("live_publish_s", 20.0, "Seconds between two publishes of the live feed."),
    Setting("live_feed", True, "Whether `make run` starts the live feed beside the app."),
    Setting("wall_refresh_s", 30, "Default refresh period of wall displays (seconds)."),
    Setting("wall_hold_max_s", 300, "Longest a rotating wall holds on a view with an open critical alert before it moves on (seconds; the hold URL parameter overrides; 0 = never hold)."),
    Setting("map_style", "white-bg", "Map base style: 'white-bg' = offline background in the page theme; a named tile style needs internet."),
    Setting("map_tile_url", "", "Optional raster tile URL template for maps (empty = offline outlines only)."),
    Setting("compress", True, "gzip the public site's responses (static bundles compressed once per worker); false when a reverse proxy compresses."),
    Setting("public_cache_s", 300.0, "Public site: seconds a response cached for the current data version is reused "
            "(pages, callbacks, API, downloads; shared by all workers in <var_dir>/cache/public); 0 = no cache."),
    Setting("secret_key", "", "Key that signs sessions; empty = a random key kept in <var_dir>/secret_key (shared by all workers)."),
    Setting("cookie_secure", True, "Session and CSRF cookies only over HTTPS (browsers also accept them on http://localhost). Set false only for plain-HTTP tests."),
    Setting("session_hours", 12, "Hours a sign-in lasts."),
    Setting("auth_trusted_header", "", "Trusted-header sign-in behind an OIDC proxy: the header naming the user (e.g. X-Forwarded-User); empty = off."),
    Setting("auth_trusted_proxies", "127.0.0.1", "Comma-separated addresses the trusted header is accepted from (the proxy)."),
    Setting("proxy_hops", 0, "Reverse proxies in front of the app (0 = none): behind them the client address comes from X-Forwarded-For, that many hops from the right, for requests from proxy_addresses only."),
    Setting("proxy_addresses", "127.0.0.1,::1", "Comma-separated addresses of the reverse proxy (the TCP peer) whose X-Forwarded-For is trusted when proxy_hops > 0."),
    Setting("wall_token_days", 365.0, "Days a wall device token stays valid after it is created (rotate with python -m data.users token-rotate)."),
    Setting("rate_limits", True, "Whether rate limits (sign-in, public site) are enforced."),
    Setting("login_rate_limit", "10 per minute", "Sign-in attempts per client address."),
    Setting("public_rate_limit", "1200 per minute", "Requests per client address to the public site's pages, callbacks, API and downloads."),
    Setting("rate_limit_storage", "memory://", "Where rate-limit counters live: memory:// counts per worker process "
            "(N workers allow N x the limit); redis://HOST:6379/0 shares them between every worker and server. "
            "If Redis cannot be reached, each worker falls back to memory and keeps serving."),
    Setting("analyst_records", True, "Whether analysts may see record-level data (311 requests behind a number)."),
    Setting("ops_url", "", "Where the ops store lives, as an SQLAlchemy URL: empty = the SQLite file <var_dir>/ops.sqlite; "
            "postgresql+psycopg://user:password@host:5432/cityops shares it between app hosts. Its schema is kept "
            "by Alembic (data/migrations), upgraded on first use."),
    Setting("ops_busy_timeout_s", 0.5, "How long a request waits for a lock on the ops store (users, annotations) "
            "before it gives up and says so (seconds); short, so a held lock never stalls the web workers."),
    Setting("query_timeout_s", 10.0, "A snapshot query running longer than this is interrupted (seconds)."),
    Setting("notify_routes", "", "Notification routes file (YAML, see data/notify.py); empty = <var_dir>/notify.yaml. No file = no notifications."),
    Setting("notify_base_url", "", "Base URL of the ops site used for links in notifications (e.g. https://ops.city.example); empty = no links."),
    Setting("notify_smtp_host", "127.0.0.1", "SMTP server that e-mail notifications are sent through."),
    Setting("briefing_email", False, "Mail the weekly district briefing (python -m data.briefing send) to each district's officials through the notify_smtp_* server; off = the mail server is not configured for it, nothing is sent."),
    Setting("notify_smtp_port", 25, "Port of the SMTP server."),
    Setting("notify_smtp_from", "cityops@localhost", "Sender address of e-mail notifications."),
    Setting("notify_smtp_starttls", False, "Upgrade the SMTP connection with STARTTLS before sending."),
    Setting("notify_smtp_user", "", "SMTP user name (empty = no login)."),
    Setting("notify_smtp_password", "", "SMTP password (used with notify_smtp_user)."),
    Setting("notify_timeout_s", 10.0, "Timeout of one webhook request or SMTP session (seconds)."),
    Setting("notify_group_s", 30.0, "A burst of alert events within this many seconds goes out as one message per route and channel."),
    Setting("notify_dedupe_hours", 6.0, "The same kind of event of the same alert is not sent twice to a channel within this many hours."),
    Setting("notify_max_age_hours", 24.0, "Events older than this when first seen are never sent (a late-started notifier does not replay history)."),
    Setting("notify_max_attempts", 6, "Delivery attempts of a message before it is marked failed."),
    Setting("notify_backoff_s", 30.0, "Wait after the first failed attempt; doubled after each further one (seconds)."),
    Setting("notify_backoff_max_s", 3600.0, "Longest wait between two attempts (seconds)."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, raw: str) -> Any:
    default = setting.default
    if isinstance(default, bool):
        if raw.strip().lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.strip().lower() in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{setting.env}: expected true/false, got {raw!r}")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def get(name: str) -> Any:
    """Value of a setting: the environment override if present, else the default."""
    setting = _BY_NAME[name]
    raw = os.environ.get(setting.env)
    if raw is None or raw == "":
        return setting.default
    try:
        return _coerce(setting, raw)
    except ValueError as exc:
        raise SystemExit(f"Invalid setting {setting.env}={raw!r}: {exc}") from None


def var_dir() -> Path:
    path = Path(get("var_dir"))
    return path if path.is_absolute() else ROOT / path


# The audiences of the pages (and their callbacks) each mode serves.
AUDIENCES = {"ops": ("ops",), "public": ("public",), "all": ("ops", "public")}


def mode() -> str:
    value = get("mode")
    if value not in AUDIENCES:
        raise SystemExit(f"CITYOPS_MODE must be ops, public or all, got {value!r}")
    return value
