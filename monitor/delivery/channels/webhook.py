"""Webhook channel: a versioned JSON document POSTed to any URL, signed per Standard Webhooks.

The payload schema is documented in ``docs/webhook.md``; ``PAYLOAD_VERSION``
changes only for incompatible changes (new fields do not bump it, such as
``article.feed_name``: the feed's display name, its ``name:`` in the watch
config, else its id; ``article.fulltext``: the article's text is its web page's, read for
a feed with ``fulltext``; ``article.language``: its language code, "" when unknown).
One request per alert, never grouped: receivers rely on one ``webhook-id`` (the alert
id) per request.

Headers (https://www.standardwebhooks.com):

- ``webhook-id``: the alert id, identical on every retry so receivers can
  deduplicate (sent even when unsigned);
- ``webhook-timestamp``: integer epoch seconds of this attempt, from the
  injected clock;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>``,
  only when a secret is configured. A ``whsec_`` secret's key is the base64
  after the prefix; any other secret's key is its raw UTF-8 bytes.

The body bytes do not depend on the attempt (the timestamp lives in a header),
with one exception: ``story.also_in`` lists the other outlets of the alert's
story known when the attempt is made, so it may grow between retries. The
``webhook-id`` never changes.

A 410 Gone answer means, per Standard Webhooks, that the receiver wants no
more messages: the result says so (``gone``), and the outbox worker disables the
channel in the store, for every replica (see ``WebhookChannel``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import replace
from typing import Any, ClassVar, Literal, Self

import httpx
from pydantic import SecretStr, field_validator

from monitor.delivery.base import Channel
from monitor.delivery.channel_config import ChannelConfig, check_http_url
from monitor.delivery.channels._http import post
from monitor.delivery.gone import target_digest
from monitor.delivery.render import feed_label, iso_utc, snippet
from monitor.model import Alert, Clock, DeliveryResult, DeliveryStatus
from monitor.settings import Settings

PAYLOAD_VERSION = 1
EVENT_TYPE = "alert.matched"
SECRET_PREFIX = "whsec_"
#: Most copies of a story listed in ``story.also_in`` (``also_in_total`` counts them all).
ALSO_IN_LIMIT = 20
#: The answer by which a Standard Webhooks receiver asks for no more messages.
GONE = 410


def story_object(alert: Alert) -> dict[str, Any] | None:
    """The payload's ``story``: the story id and its other copies (capped), or None when
    the alert belongs to no story."""
    if not alert.story_id and not alert.also_in:
        return None
    return {
        "id": alert.story_id,
        "also_in": [
            {"feed_id": c.feed_id, "url": c.url, "title": c.title}
            for c in alert.also_in[:ALSO_IN_LIMIT]
        ],
        "also_in_total": len(alert.also_in),
    }


def build_payload(alert: Alert) -> dict[str, Any]:
    """The JSON document describing ``alert`` (schema: docs/webhook.md)."""
    article = alert.article
    return {
        "version": PAYLOAD_VERSION,
        "type": EVENT_TYPE,
        "alert_id": alert.id,
        "rule": {"id": alert.rule_id, "query": alert.query},
        "channel": alert.channel,
        "article": {
            "id": article.id,
            "feed_id": article.feed_id,
            "feed_name": feed_label(alert),
            "url": article.url,
            "title": article.title,
            "published": iso_utc(article.published) if article.published else None,
            "author": article.author,
            "snippet": snippet(alert),
            "fulltext": article.fulltext,
            "language": article.language,
        },
        "story": story_object(alert),
        "matched_terms": list(alert.matched_terms),
        "hits": [
            {"field": h.field, "start": h.start, "end": h.end, "term": h.term} for h in alert.hits
        ],
        "created_at": iso_utc(alert.created_at),
    }


def encode_payload(alert: Alert) -> bytes:
    """The request body: compact JSON, ASCII-only (non-ASCII as ``\\u`` escapes), so any
    string the feed produced, even a lone surrogate, encodes."""
    return json.dumps(build_payload(alert), separators=(",", ":")).encode("ascii")


def signing_key(secret: str) -> bytes:
    """The HMAC key of a configured secret.

    Raises ValueError (without quoting the secret) when a ``whsec_`` secret is
    not valid base64 or a secret is empty.
    """
    if secret.startswith(SECRET_PREFIX):
        encoded = secret[len(SECRET_PREFIX) :].rstrip("=")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a webhook secret starting with whsec_ must be base64") from None
    else:
        key = secret.encode("utf-8")
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


class WebhookChannelConfig(ChannelConfig):
    """JSON POST to any URL, signed per Standard Webhooks when ``secret`` is set."""

    #: One webhook-id per alert, so one alert per request.
    ONE_ALERT_PER_MESSAGE: ClassVar[bool] = True

    type: Literal["webhook"]
    #: Receiver URL (a secret: it often embeds a token).
    url: SecretStr
    #: Signing secret (``whsec_`` + base64, or any string); unset: requests are not signed.
    secret: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        check_http_url(value.get_secret_value())  # the error shows only scheme and host
        return value

    @field_validator("secret")
    @classmethod
    def _usable_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            signing_key(value.get_secret_value())  # ValueError names the problem, not the secret
        return value


class WebhookChannel(Channel):
    """POSTs alerts as JSON to a URL, signed when a secret is configured.

    A 410 Gone answer is a PERMANENT result with ``gone`` set, even with a
    Retry-After. The channel keeps no state of its own: the outbox worker
    records the channel as disabled in the store, so every replica stops
    sending to it (later alerts go to the dead-letter list without a request)
    until ``news-monitor channels enable`` or a new URL (:attr:`target`, a digest
    of the URL, changes); ``send-test`` still sends, to check a fixed receiver.
    """

    def __init__(
        self,
        name: str,
        url: SecretStr,
        http: httpx.AsyncClient,
        *,
        secret: SecretStr | None,
        timeout: float,
        user_agent: str,
        clock: Clock,
    ) -> None:
        super().__init__(name)
        self._url = url
        self._http = http
        # Decoded once, so a bad secret fails when the channel is built, not per alert.
        self._key = signing_key(secret.get_secret_value()) if secret is not None else None
        self._timeout = timeout
        self._user_agent = user_agent
        self._clock = clock
        self.target = target_digest(url.get_secret_value())

    @classmethod
    def from_config(
        cls,
        name: str,
        config: WebhookChannelConfig,
        settings: Settings,
        http: httpx.AsyncClient,
        clock: Clock,
    ) -> Self:
        """The channel ``name`` as ``config`` describes it (the registry's factory)."""
        return cls(
            name,
            config.url,
            http,
            secret=config.secret,
            timeout=settings.delivery_timeout.total_seconds(),
            user_agent=settings.user_agent,
            clock=clock,
        )

    def __repr__(self) -> str:
        signed = self._key is not None
        return f"WebhookChannel(name={self.name!r}, url={self._url!r}, signed={signed})"

    def headers(self, alert: Alert, body: bytes) -> dict[str, str]:
        """The request headers of one attempt at delivering ``alert`` with ``body``."""
        timestamp = int(self._clock())
        headers = {
            "content-type": "application/json",
            "user-agent": self._user_agent,
            "webhook-id": alert.id,
            "webhook-timestamp": str(timestamp),
        }
        if self._key is not None:
            headers["webhook-signature"] = sign(self._key, alert.id, timestamp, body)
        return headers

    async def send(self, alert: Alert) -> DeliveryResult:
        body = encode_payload(alert)
        answered: list[int] = []
        result = await post(
            self._http,
            self._url,
            body,
            self.headers(alert, body),
            alert=alert,
            channel=self.name,
            timeout=self._timeout,
            clock=self._clock,
            on_status=answered.append,
        )
        if answered != [GONE]:
            return result
        # Even with a Retry-After: Gone is the receiver's word that no retry is wanted.
        return replace(result, status=DeliveryStatus.PERMANENT, retry_after=None, gone=True)
