"""Process settings: environment variables and ``.env``, prefix ``MONITOR_``.

The env file is ``.env`` in the working directory, or the file ``MONITOR_ENV_FILE``
names; a variable set in the real environment wins over the file. The same file
feeds ``${VAR}`` in the rules YAML (:func:`config_environ`), and an unknown
``MONITOR_*`` name in either place is reported with the nearest setting
(:func:`unknown_setting_warnings`).

Durations accept ``90`` (seconds), ``30s``, ``5m``, ``2h``, ``1d`` or
combinations like ``1h30m``. Secrets are ``SecretStr``: they print as
``**********`` and only ``get_secret_value()`` reveals them.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from monitor.errors import nearest

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _span(value: timedelta) -> str:
    """A duration as a person writes it: ``30d``, ``36h``, ``90m``, ``45s``."""
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def parse_duration(value: object) -> timedelta:
    """Parse ``5m``, ``1h30m``, ``90`` (seconds) or a timedelta into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration like 30s, 5m, 2h or 1d, got {value!r}")
    text = value.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return timedelta(seconds=float(text))
    pos, total = 0, 0.0
    for part in _DURATION_PART.finditer(text):
        if text[pos : part.start()].strip():
            break
        total += float(part.group(1)) * _UNIT_SECONDS[part.group(2)]
        pos = part.end()
    if pos == 0 or text[pos:].strip():
        raise ValueError(f"expected a duration like 30s, 5m, 2h or 1d, got {value!r}")
    return timedelta(seconds=total)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

#: The variable naming the env file (default ``.env`` in the working directory).
ENV_FILE_VAR = "MONITOR_ENV_FILE"
DEFAULT_ENV_FILE = ".env"


def env_file_path(environ: Mapping[str, str] | None = None) -> Path:
    """The env file: ``$MONITOR_ENV_FILE`` if set, else ``.env`` (relative to the cwd)."""
    environ = os.environ if environ is None else environ
    return Path(environ.get(ENV_FILE_VAR) or DEFAULT_ENV_FILE)


def env_file_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of the env file ({} when there is none); ``KEY`` without a value is left
    out."""
    path = env_file_path(environ)
    if not path.is_file():
        return {}
    values = dotenv_values(path, encoding="utf-8")
    return {k: v for k, v in values.items() if v is not None}


def config_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What ``${VAR}`` in the rules YAML sees: the env file overlaid by the real environment."""
    environ = os.environ if environ is None else environ
    return {**env_file_values(environ), **environ}


#: ``MONITOR_REDIS_URL`` schemes of a Redis Cluster (``monitor.store.redis_connect``).
REDIS_CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")


def redis_hash_tag(key: str) -> str:
    """The part of a Redis key a Cluster hashes to pick its slot, when it is not the whole key:
    the text between the first ``{`` and the next ``}``, if that is not empty; else ""."""
    start = key.find("{")
    end = key.find("}", start + 1) if start >= 0 else -1
    return key[start + 1 : end] if end > start + 1 else ""


def split_host_port(addr: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8080`` for IPv6) as (host, port); ValueError if it is not one."""
    host, sep, port = addr.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected host:port like 127.0.0.1:8080, got {addr!r}")
    return host, int(port)


class Settings(BaseSettings):
    """Everything the process needs that is not a watch rule."""

    model_config = SettingsConfigDict(
        env_prefix="MONITOR_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    #: Directory whose *.yaml / *.yml files hold feeds, channels and rules.
    rules_dir: Path = Path("rules")
    #: Redis URL (redis://host:6379/0; rediss:// for TLS; redis+sentinel://h1:26379,h2/master/0
    #: for Sentinel; redis+cluster://h1:6379,h2 for a Cluster); unset means the embedded
    #: SQLite store (``monitor.store.redis_connect``).
    redis_url: SecretStr | None = None
    #: Prefix of every Redis key, so several deployments can share one Redis. With a Cluster
    #: it must hold a hash tag (``{news-monitor}``): every key of a deployment in one slot.
    redis_prefix: str = "news-monitor"
    #: CA bundle (PEM) that verifies the Redis server's certificate (``rediss://``); default:
    #: the system CAs.
    redis_ca_file: Path | None = None
    #: Client certificate (PEM, with its key unless ``redis_key_file`` is set) for a Redis
    #: that asks for one (``tls-auth-clients``); ``rediss://`` only.
    redis_cert_file: Path | None = None
    #: Private key (PEM) of ``redis_cert_file``.
    redis_key_file: Path | None = None
    #: Password of the Redis Sentinels themselves (``redis+sentinel://``), when they require
    #: one; the URL's user and password are the master's.
    redis_sentinel_password: SecretStr | None = None
    #: Directory of the embedded store (used when redis_url is unset).
    data_dir: Path = Path("data")
    #: Default polling interval of a feed.
    poll_interval: Duration = timedelta(minutes=5)
    #: Items published longer ago than this are recorded as seen without alerting.
    max_age: Duration = timedelta(hours=24)
    #: How long an article stays remembered as seen.
    seen_retention: Duration = timedelta(days=30)
    #: Copies of one story from several outlets within this window alert once per rule
    #: (story-level dedup); 0 turns it off, so every article alerts on its own.
    story_window: Duration = timedelta(hours=24)
    #: How similar (estimated shingle Jaccard, 0-1) a copy must be to join a story.
    story_similarity: float = Field(default=0.5, gt=0, le=1)
    #: How long articles read from the feeds are kept in the archive (``match --archive``,
    #: a rule's backfill); 0 turns the archive off (nothing is archived).
    archive_retention: Duration = timedelta(days=7)
    #: Most articles the archive keeps (the newest); 0 turns the archive off.
    archive_max_articles: int = Field(default=100_000, ge=0)
    #: How long the alert history (every alert's life: queued, attempts, outcome; the web
    #: console's alert pages) keeps an alert after its last change; 0 turns it off.
    history_retention: Duration = timedelta(days=30)
    #: The default ``backfill:`` of a rule: how far back in the archive a new or changed
    #: rule is run when the daemon starts; 0: no backfill.
    rule_backfill: Duration = timedelta(0)
    #: How long an article being processed stays reserved to its process (one that dies
    #: holds it this long; a later poll then redoes it).
    claim_lease: Duration = timedelta(minutes=2)
    #: With Redis: how long a replica holds a feed it claimed from the shared schedule (the
    #: fetch deadline, a wait for a fetch slot and the processing must fit); a replica that
    #: dies or stalls has its feeds polled by the others once this has passed.
    feed_lease: Duration = timedelta(minutes=2)
    #: Log level: DEBUG, INFO, WARNING, ERROR.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: Log format: "console" (human key=value) or "json" (one JSON object per line).
    log_format: Literal["console", "json"] = "console"

    #: Total deadline for one feed fetch (connect + headers + body).
    fetch_timeout: Duration = timedelta(seconds=30)
    #: Largest feed body accepted, in bytes, both as sent and after decompression.
    max_feed_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    #: Largest article page read for a feed's ``fulltext`` (raw and decompressed): smaller
    #: than a feed, because extracting the text of an HTML page costs far more CPU per byte.
    fulltext_max_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    #: At most this many feeds are fetched at the same time.
    max_concurrent_fetches: int = Field(default=16, gt=0)
    #: At most this many fetches from one host name at the same time (politeness to servers
    #: carrying many feeds); counted per process, and with Redis across every replica too.
    max_fetches_per_host: int = Field(default=2, gt=0)
    #: Least time between the starts of two fetches from one host name (feeds and full-text
    #: pages), across every replica sharing the store; 0: no delay.
    host_delay: Duration = timedelta(0)
    #: Longest poll interval a server may ask for (Cache-Control max-age, RSS <ttl>); a server
    #: asking for less frequent polls is honoured up to this. 0 ignores such requests.
    max_server_interval: Duration = timedelta(hours=1)
    #: Let fetches connect to loopback, private, link-local and other non-public addresses
    #: (refused by default, for the first request and every redirect: no SSRF); a feed's
    #: ``allow_private_addresses`` allows them for that feed alone.
    allow_private_addresses: bool = False
    #: User-Agent header sent with every request.
    user_agent: str = "news-monitor/0.1 (+https://github.com/news-monitor/news-monitor)"

    #: Timeout of one delivery attempt (HTTP request or SMTP session).
    delivery_timeout: Duration = timedelta(seconds=15)
    #: Give up (dead-letter) an alert after this many attempts.
    delivery_max_attempts: int = Field(default=12, gt=0)
    #: Give up (dead-letter) an alert still failing this long after it was first due.
    delivery_max_age: Duration = timedelta(hours=24)
    #: Wait before the first retry; each further retry waits up to twice as long (with jitter).
    delivery_backoff: Duration = timedelta(seconds=5)
    #: Longest wait between two retries (a receiver's Retry-After may ask for more).
    delivery_backoff_cap: Duration = timedelta(hours=1)
    #: With ``run --once``: stop retrying pending deliveries after this long (they stay queued).
    once_delivery_deadline: Duration = timedelta(seconds=60)
    #: With ``run``: how long SIGTERM waits for in-flight deliveries before exiting.
    shutdown_grace: Duration = timedelta(seconds=10)
    #: At start, how long to wait for an unreachable store (Redis coming up) before giving up.
    store_wait: Duration = timedelta(seconds=60)
    #: With ``run``: reload the watch config when a file under ``rules_dir`` changes
    #: (SIGHUP reloads it either way).
    watch_rules: bool = True

    #: SMTP server for email channels.
    smtp_host: str | None = None
    #: SMTP port (587 submission with STARTTLS, 465 implicit TLS, 25 plain).
    smtp_port: int = 587
    #: SMTP user name, if the server needs a login.
    smtp_username: str | None = None
    #: SMTP password.
    smtp_password: SecretStr | None = None
    #: From address of alert emails.
    smtp_from: str = "news-monitor@localhost"
    #: Upgrade the connection with STARTTLS (certificates verified).
    smtp_starttls: bool = True
    #: Connect with implicit TLS instead of STARTTLS (certificates verified). Default: true
    #: when ``smtp_port`` is 465, false otherwise; an explicit value always wins.
    smtp_tls: bool = False
    #: CA bundle (PEM) used to verify the SMTP server's certificate; default: the system CAs.
    #: Checked at startup, so a missing or unreadable file stops the process early.
    smtp_ca_file: Path | None = None

    #: host:port of the daemon's HTTP server (/healthz, /readyz, /metrics); "" turns it off.
    #: Only ``run`` serves it, not ``run --once``.
    http_addr: str = "127.0.0.1:8080"
    #: Token the web console's login and the REST API's ``Authorization: Bearer`` require;
    #: unset: open (then only a loopback ``http_addr`` is allowed).
    http_token: SecretStr | None = None
    #: The http(s) URL at which hubs reach this daemon's HTTP server (``http_addr``, or a
    #: reverse proxy in front of it); set, feeds that name a WebSub hub are subscribed to
    #: and pushed to ``<public_url>/websub/...``. Unset: no WebSub, polling only.
    public_url: str | None = None
    #: Polling interval of a feed while a hub pushes it (the safety net; never more often
    #: than the feed's own interval).
    websub_poll_interval: Duration = timedelta(hours=1)
    #: Lease asked of hubs (``hub.lease_seconds``); the hub may grant another, which is
    #: renewed when 85% of it has passed.
    websub_lease: Duration = timedelta(days=7)

    @field_validator("delivery_backoff")
    @classmethod
    def _positive_backoff(cls, value: timedelta) -> timedelta:
        # Zero would retry a failing receiver in a tight loop.
        if value.total_seconds() <= 0:
            raise ValueError("the first retry delay must be more than 0 seconds")
        return value

    @field_validator("http_addr")
    @classmethod
    def _host_port(cls, value: str) -> str:
        value = value.strip()
        if value:
            split_host_port(value)
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"not a URL: {value!r} ({exc})") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"expected an http(s) URL like https://monitor.example.org, got {value!r}"
            )
        if parts.query or parts.fragment or parts.username or parts.password or port == 0:
            raise ValueError(f"expected a URL without user, query or fragment, got {value!r}")
        return value.rstrip("/")

    @field_validator("websub_lease")
    @classmethod
    def _positive_lease(cls, value: timedelta) -> timedelta:
        if value.total_seconds() < 1:
            raise ValueError("the WebSub lease must be at least 1 second")
        return value

    @field_validator("smtp_ca_file", "redis_ca_file")
    @classmethod
    def _ca_file_loads(cls, value: Path | None) -> Path | None:
        # Loading it now turns a typo or a non-PEM file into a startup error instead of
        # every email failing later. ssl.SSLError and FileNotFoundError are both OSErrors.
        if value is not None:
            try:
                ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=value)
            except OSError as exc:
                raise ValueError(f"cannot load CA bundle {str(value)!r}: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _seen_outlives_max_age(self) -> Self:
        # An article's seen mark must outlive the time it can alert in: expired earlier, the
        # same article, still in its feed and still young enough, would be new again.
        if self.seen_retention <= self.max_age:
            raise ValueError(
                f"MONITOR_SEEN_RETENTION ({_span(self.seen_retention)}) must be longer than "
                f"MONITOR_MAX_AGE ({_span(self.max_age)}): an article still young enough to "
                "alert would be forgotten and alert again"
            )
        return self

    @model_validator(mode="after")
    def _feed_lease_outlasts_a_fetch(self) -> Self:
        # A lease shorter than a fetch ends while the feed is being fetched: another replica
        # would poll it too, on every poll of a slow feed.
        if self.feed_lease <= self.fetch_timeout:
            raise ValueError(
                f"MONITOR_FEED_LEASE ({_span(self.feed_lease)}) must be longer than "
                f"MONITOR_FETCH_TIMEOUT ({_span(self.fetch_timeout)}): a feed still being "
                "fetched would be polled by another replica too"
            )
        return self

    @model_validator(mode="after")
    def _redis_options_fit_the_url(self) -> Self:
        # A CA or client certificate with a URL that is not TLS, or a Cluster prefix without
        # a hash tag, is a mistake better stopped at startup than at the first script.
        scheme = ""
        if self.redis_url is not None:
            scheme = self.redis_url.get_secret_value().partition("://")[0].lower()
        if scheme in REDIS_CLUSTER_SCHEMES and not redis_hash_tag(self.redis_prefix):
            raise ValueError(
                f"MONITOR_REDIS_PREFIX ({self.redis_prefix!r}) must hold a hash tag with a "
                f"Redis Cluster URL, like {{{self.redis_prefix or 'news-monitor'}}}: the store's "
                "scripts touch several keys at once, so every key must be in one slot"
            )
        files = (self.redis_ca_file, self.redis_cert_file, self.redis_key_file)
        if any(f is not None for f in files) and not scheme.startswith("rediss"):
            raise ValueError(
                "MONITOR_REDIS_CA_FILE, MONITOR_REDIS_CERT_FILE and MONITOR_REDIS_KEY_FILE "
                "need a TLS MONITOR_REDIS_URL (rediss://, rediss+sentinel://, rediss+cluster://)"
            )
        if self.redis_key_file is not None and self.redis_cert_file is None:
            raise ValueError("MONITOR_REDIS_KEY_FILE needs MONITOR_REDIS_CERT_FILE")
        if self.redis_cert_file is not None:
            try:  # ssl.SSLError and FileNotFoundError are both OSErrors
                ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(
                    self.redis_cert_file, self.redis_key_file
                )
            except OSError as exc:
                raise ValueError(
                    f"cannot load the Redis client certificate {str(self.redis_cert_file)!r}: {exc}"
                ) from exc
        return self

    @model_validator(mode="after")
    def _implicit_tls_on_465(self) -> Self:
        # Port 465 is SMTP over implicit TLS (RFC 8314): a STARTTLS client there waits for a
        # greeting that never comes in clear text and times out, a confusing failure. So
        # unless MONITOR_SMTP_TLS was given explicitly, port 465 means implicit TLS.
        if self.smtp_port == 465 and "smtp_tls" not in self.model_fields_set:
            self.smtp_tls = True
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # MONITOR_ENV_FILE names another env file, unless the caller passed ``_env_file``.
        default = cls.model_config.get("env_file")
        if (
            os.environ.get(ENV_FILE_VAR)
            and isinstance(dotenv_settings, DotEnvSettingsSource)
            and dotenv_settings.env_file == default
        ):
            dotenv_settings = DotEnvSettingsSource(settings_cls, env_file=env_file_path())
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    def secret_values(self) -> list[str]:
        """Every secret string, for redaction from logs."""
        secrets = (
            self.smtp_password,
            self.redis_url,
            self.http_token,
            self.redis_sentinel_password,
        )
        out = [s.get_secret_value() for s in secrets if s]
        return [v for v in out if v]


def unknown_setting_warnings(environ: Mapping[str, str] | None = None) -> list[str]:
    """A warning for each ``MONITOR_*`` variable, in the environment or the env file, that
    names no setting, with the nearest setting's name when one is close (a typo)."""
    environ = os.environ if environ is None else environ
    known = {f"MONITOR_{name.upper()}" for name in Settings.model_fields} | {ENV_FILE_VAR}
    path = env_file_path(environ)
    out: list[str] = []
    if ENV_FILE_VAR in environ and environ[ENV_FILE_VAR] and not path.is_file():
        out.append(f"{ENV_FILE_VAR} names {str(path)!r}, which is not a file; it is not read")
    sources = [(name, "environment") for name in environ]
    sources += [(name, str(path)) for name in env_file_values(environ)]
    reported: set[str] = set()
    for name, where in sources:
        upper = name.upper()  # settings are read case-insensitively
        if not upper.startswith("MONITOR_") or upper in known or upper in reported:
            continue
        reported.add(upper)
        # Compared without the shared prefix, which would make every name look close.
        suffixes = sorted(k.removeprefix("MONITOR_") for k in known)
        close = nearest(upper.removeprefix("MONITOR_"), suffixes)
        hint = f"; did you mean MONITOR_{close}?" if close else ""
        out.append(f"unknown setting {name} (in {where}) is ignored{hint}")
    return out
