"""WebSub (W3C, formerly PubSubHubbub) from the subscriber's side: the pure parts, and the
one request a subscriber sends.

- Discovery (:func:`discover_hub`): a feed names its hub with ``Link: <...>; rel="hub"``
  headers, or ``<link rel="hub" href="...">`` (Atom, or ``atom:link`` in RSS) in the feed
  itself, and its topic URL with ``rel="self"``; a JSON Feed lists ``hubs`` and names
  itself with ``feed_url``. The headers win (WebSub 4: a subscriber checks them first).
  Only the feed's head is read, before its first item or entry, where feed-level links
  stand, as :func:`monitor.polling.schedule.rss_ttl` peeks at ``<ttl>``; the parser stays
  the parser's business.
- Signatures (:func:`verify_signature`): pushed content carries ``X-Hub-Signature:
  <method>=<hex HMAC of the raw body>`` keyed with our ``hub.secret``; sha1, sha256, sha384
  and sha512 are accepted (the spec's list), compared in constant time.
- Leases (:func:`renew_at`): a subscription is renewed once :data:`RENEW_FRACTION` of the
  lease the hub granted has passed, so a hub that is slow to verify still has time.
- The request (:func:`send_hub_request`): a form POST of ``hub.mode``, ``hub.topic``,
  ``hub.callback``, ``hub.secret`` and ``hub.lease_seconds``, through the client it is
  given (the daemon's feed client: the address policy of ``netpolicy`` applies to hubs
  as to feeds, and a feed's ``allow_private_addresses`` to its hub). A hub answers 202
  and verifies the intent later with a GET on the callback.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

from monitor.ingest.netpolicy import ALLOW_PRIVATE, AddressRefused

#: The header carrying the HMAC of pushed content.
SIGNATURE_HEADER = "X-Hub-Signature"
#: Path under which callbacks are served: ``/websub/<feed id>/<token>``.
CALLBACK_PREFIX = "/websub/"
#: Part of the granted lease after which a subscription is renewed.
RENEW_FRACTION = 0.85
#: Bytes at the start of a body searched for feed-level links.
HEAD_PEEK_BYTES = 64 * 1024
#: Most characters of a hub's answer kept in an error message.
MAX_ERROR_TEXT = 200
#: Hash functions WebSub names for signatures (its section 7.1), by their name there.
SIGNATURE_METHODS = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}

_FIRST_ENTRY = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s/>]", re.IGNORECASE)
_LINK_TAG = re.compile(r"<(?:[\w.-]+:)?link(?=[\s/>])([^>]*)>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
# One link-value of an HTTP Link header: <uri-reference> then ;-separated parameters.
_LINK_VALUE = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_LINK_PARAM = re.compile(r"""\s*;\s*([\w*-]+)\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""")


@dataclass(frozen=True, slots=True)
class HubLinks:
    """Where a feed says it is pushed from, and the URL it is pushed as."""

    #: The hub to subscribe at (the first one the feed names).
    hub: str
    #: The topic URL (``rel="self"``), or the URL the feed was fetched from.
    topic: str


def discover_hub(body: bytes, headers: Mapping[str, str], url: str) -> HubLinks | None:
    """The hub and topic a feed fetched from ``url`` advertises, or None if it names no hub.

    ``headers`` are the response's (any case; a ``Link`` header with several values
    joined by commas, as HTTP allows). Relative URLs are resolved against ``url``; only
    http(s) ones count.
    """
    link = next((v for k, v in headers.items() if k.lower() == "link"), "")
    head_hubs, head_self = _rels(_header_links(link), url)
    body_hubs, body_self = _body_links(body, url)
    hubs = head_hubs or body_hubs
    if not hubs:
        return None
    return HubLinks(hub=hubs[0], topic=head_self or body_self or url)


def _rels(links: list[tuple[str, str]], base: str) -> tuple[list[str], str]:
    """(hub URLs, self URL) of ``(href, rel)`` pairs, resolved against ``base``."""
    hubs: list[str] = []
    self_url = ""
    for href, rel in links:
        absolute = _absolute(href, base)
        if not absolute:
            continue
        tokens = rel.lower().split()
        if "hub" in tokens and absolute not in hubs:
            hubs.append(absolute)
        if "self" in tokens and not self_url:
            self_url = absolute
    return hubs, self_url


def _absolute(href: str, base: str) -> str:
    try:
        absolute = urljoin(base, href.strip())
        parts = urlsplit(absolute)
    except ValueError:
        return ""
    return absolute if parts.scheme in ("http", "https") and parts.hostname else ""


def _header_links(value: str) -> list[tuple[str, str]]:
    """``(href, rel)`` of each link-value of a Link header (RFC 8288)."""
    out = []
    for found in _LINK_VALUE.finditer(value):
        params = {
            m.group(1).lower(): m.group(2) or m.group(3) or ""
            for m in _LINK_PARAM.finditer(found.group(2))
        }
        if "rel" in params:
            out.append((found.group(1), params["rel"]))
    return out


def _body_links(body: bytes, url: str) -> tuple[list[str], str]:
    head = body[:HEAD_PEEK_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"["):
        return _json_links(body, url)
    if first := _FIRST_ENTRY.search(head):
        head = head[: first.start()]
    text = head.decode("utf-8", "replace")
    links = []
    for tag in _LINK_TAG.finditer(text):
        attributes = {
            m.group(1).lower(): html.unescape(m.group(2) if m.group(2) is not None else m.group(3))
            for m in _ATTRIBUTE.finditer(tag.group(1))
        }
        if "href" in attributes and "rel" in attributes:
            links.append((attributes["href"], attributes["rel"]))
    return _rels(links, url)


def _json_links(body: bytes, url: str) -> tuple[list[str], str]:
    """A JSON Feed's ``hubs`` (type WebSub) and ``feed_url``."""
    try:
        doc: Any = json.loads(body)
    except (ValueError, RecursionError):
        return [], ""
    if not isinstance(doc, dict):
        return [], ""
    links = []
    hubs = doc.get("hubs")
    for hub in hubs if isinstance(hubs, list) else []:
        kind = hub.get("type") if isinstance(hub, dict) else None
        websub = isinstance(kind, str) and kind.lower() in ("websub", "pubsubhubbub")
        if websub and isinstance(hub.get("url"), str):
            links.append((hub["url"], "hub"))
    if isinstance(doc.get("feed_url"), str):
        links.append((doc["feed_url"], "self"))
    return _rels(links, url)


# --- subscriptions ----------------------------------------------------------------------


def new_token() -> str:
    """The unguessable part of a callback URL (192 random bits)."""
    return secrets.token_urlsafe(24)


def new_secret() -> str:
    """A ``hub.secret``: 256 random bits as hex (the spec wants fewer than 200 bytes)."""
    return secrets.token_hex(32)


def callback_url(public_url: str, feed_id: str, token: str) -> str:
    """The callback of one feed's subscription: ``<public url>/websub/<feed id>/<token>``."""
    return f"{public_url.rstrip('/')}{CALLBACK_PREFIX}{quote(feed_id, safe='')}/{token}"


def hub_form(
    mode: str, topic: str, callback: str, *, secret: str = "", lease_seconds: int = 0
) -> dict[str, str]:
    """The form of a subscribe or unsubscribe request (WebSub 5.1)."""
    form = {"hub.mode": mode, "hub.topic": topic, "hub.callback": callback}
    if secret:
        form["hub.secret"] = secret
    if lease_seconds > 0:
        form["hub.lease_seconds"] = str(lease_seconds)
    return form


def renew_at(verified_at: float, lease_seconds: float) -> float:
    """When a subscription verified at ``verified_at`` for ``lease_seconds`` is renewed."""
    return verified_at + RENEW_FRACTION * max(lease_seconds, 0.0)


def retry_delay(failures: int, *, base: float = 60.0, cap: float = 3600.0) -> float:
    """Seconds before asking a hub again after ``failures`` failed requests in a row."""
    doublings = max(min(failures, 20) - 1, 0)
    return float(min(base * 2.0**doublings, cap))


def sign(body: bytes, secret: str, method: str = "sha256") -> str:
    """The ``X-Hub-Signature`` value a hub sends with ``body`` (tests, and the spec's
    example of what is verified)."""
    digest = hmac.new(secret.encode("utf-8"), body, SIGNATURE_METHODS[method]).hexdigest()
    return f"{method}={digest}"


def verify_signature(header: str | None, body: bytes, secret: str) -> str:
    """Why ``header`` does not sign ``body`` with ``secret``, or "" when it does.

    The reasons: ``missing``, ``malformed``, ``unsupported method <name>``, ``mismatch``.
    """
    if not header:
        return "missing"
    method, sep, given = header.strip().partition("=")
    if not sep or not given:
        return "malformed"
    hash_function = SIGNATURE_METHODS.get(method.strip().lower())
    if hash_function is None:
        return f"unsupported method {method.strip()[:20]!r}"
    expected = hmac.new(secret.encode("utf-8"), body, hash_function).hexdigest()
    # Both sides as ASCII bytes: compare_digest refuses non-ASCII str, and the hub's
    # header is outside input.
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode("utf-8")):
        return "mismatch"
    return ""


@dataclass(frozen=True, slots=True)
class HubAnswer:
    """What a hub answered a subscription request."""

    #: The hub accepted the request (2xx); it verifies the intent separately.
    accepted: bool
    #: HTTP status, None when no answer came.
    status: int | None = None
    #: Why it was not accepted ("" when it was).
    error: str = ""


async def send_hub_request(
    client: httpx.AsyncClient,
    hub: str,
    form: Mapping[str, str],
    *,
    deadline: float,
    allow_private: bool = False,
) -> HubAnswer:
    """POST ``form`` to ``hub``; never raises for network or HTTP problems.

    ``deadline`` (seconds) bounds the whole exchange. No redirect is followed (a POST
    redirected would become a GET, which is no request), and the address policy refuses
    hubs on private addresses as it refuses feeds there.
    """
    extensions = {ALLOW_PRIVATE: True} if allow_private else None
    try:
        async with asyncio.timeout(deadline):
            response = await client.post(
                hub,
                data=dict(form),
                timeout=deadline,
                follow_redirects=False,
                extensions=extensions,
            )
    except AddressRefused as exc:
        return HubAnswer(False, error=f"refused: {exc}")
    except (TimeoutError, httpx.TimeoutException):
        return HubAnswer(False, error=f"no answer within {deadline:g}s")
    except httpx.HTTPError as exc:
        return HubAnswer(False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_TEXT])
    if response.is_success:
        return HubAnswer(True, response.status_code)
    text = " ".join(response.text.split())[:MAX_ERROR_TEXT]
    return HubAnswer(False, response.status_code, f"HTTP {response.status_code}: {text}".strip())
