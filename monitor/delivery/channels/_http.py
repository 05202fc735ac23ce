"""One HTTP POST of one alert, as the Slack and webhook channels both need it.

Owns what those channels share: redirects are never followed, one attempt has
a total deadline, only the first few KiB of an answer are read, httpx's
exceptions are translated into RETRY/PERMANENT at this boundary, and the
receiver URL (a secret: it usually embeds a token) is redacted from every
``DeliveryResult.detail``. The status-code decision itself is
``monitor.delivery.retry.classify_http``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import httpx
from pydantic import SecretStr

from monitor.delivery.channel_config import http_url_problem
from monitor.delivery.render import one_line, truncate
from monitor.delivery.retry import classify_http, parse_retry_after
from monitor.model import Alert, Clock, DeliveryResult, DeliveryStatus

#: Bytes of an answer read at most: enough for an error message, never a flood.
MAX_ANSWER_BYTES = 4096
#: Characters of an answer kept in a detail.
MAX_DETAIL_CHARS = 200
REDACTED = "[redacted]"
#: Judges a 2xx answer's body (bytes, content type): None if fine, else what is wrong.
BodyCheck = Callable[[bytes, str], str | None]


def secret_parts(url: str) -> list[str]:
    """Substrings of ``url`` that must never appear in a detail, longest first.

    The whole URL, its path and query (where tokens live), a password, and
    every longer path segment, in case an error message quotes only a piece.
    """
    parts = {url}
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return [url]
    parts.add(str(parsed))
    path = parsed.raw_path.decode("ascii", "replace")
    parts.update({path, parsed.path, parsed.query.decode("ascii", "replace"), parsed.password})
    parts.update(seg for seg in parsed.path.split("/") if len(seg) >= 8)
    return sorted((p for p in parts if p and len(p) >= 4 and p != "/"), key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every occurrence of every secret replaced by ``[redacted]``."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


async def _read_capped(response: httpx.Response, into: bytearray, limit: int) -> None:
    """Append at most ``limit`` bytes of the answer to ``into`` (kept if we are cut short)."""
    async for chunk in response.aiter_bytes():
        into += chunk[: limit - len(into)]
        if len(into) >= limit:
            break


def _answer_excerpt(body: bytes) -> str:
    return truncate(one_line(body.decode("utf-8", "replace")), MAX_DETAIL_CHARS)


async def post(
    http: httpx.AsyncClient,
    url: SecretStr,
    body: bytes,
    headers: Mapping[str, str],
    *,
    alert: Alert,
    channel: str,
    timeout: float,  # noqa: ASYNC109 - applied below with asyncio.timeout, and to httpx
    clock: Clock,
    check_body: BodyCheck | None = None,
    on_status: Callable[[int], None] | None = None,
) -> DeliveryResult:
    """POST ``body`` to ``url`` once and say what happened; never raises for a failure.

    ``on_status`` hears the status code of every answer judged by its code (not
    of transport failures), for a channel that acts on a code beyond this one
    attempt (the webhook channel disables itself on 410 Gone).
    """
    target = url.get_secret_value()
    secrets = secret_parts(target)

    def result(
        status: DeliveryStatus, detail: str, retry_after: float | None = None
    ) -> DeliveryResult:
        return DeliveryResult(alert.id, channel, status, redact(detail, secrets), retry_after)

    if (problem := http_url_problem(target)) is not None:
        # Refused by `check` already; a URL that still gets here cannot work on any retry
        # (an out-of-range port would otherwise surface as an ExceptionGroup from the
        # connection pool, and be retried as if the receiver were down).
        return result(DeliveryStatus.PERMANENT, f"the channel's URL {problem}")
    response: httpx.Response | None = None
    answer = bytearray()
    try:
        # asyncio.timeout bounds the whole attempt: httpx's timeouts are per phase,
        # and a receiver dripping one byte at a time would never trip them.
        async with (
            asyncio.timeout(timeout),
            http.stream(
                "POST",
                target,
                content=body,
                headers=headers,
                timeout=timeout,
                follow_redirects=False,
            ) as response,
        ):
            await _read_capped(response, answer, MAX_ANSWER_BYTES)
    except TimeoutError:
        # If the status line arrived and only the answer's body was slow, the status
        # decides (a retry after a 2xx would duplicate the alert), unless the body is
        # itself the verdict, as Slack's "ok" is.
        if response is None or (
            check_body is not None
            and classify_http(response.status_code, response.headers) is DeliveryStatus.DELIVERED
        ):
            return result(DeliveryStatus.RETRY, f"timed out after {timeout:g}s")
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
        # A malformed URL or header comes from the config: retrying cannot fix it.
        return result(DeliveryStatus.PERMANENT, f"{type(exc).__name__}: {exc}")
    except httpx.HTTPError as exc:
        # Refused, reset, DNS failure, per-phase timeouts: the receiver may be back later.
        return result(DeliveryStatus.RETRY, f"{type(exc).__name__}: {exc}")

    assert response is not None  # every path without an answer has returned
    code = response.status_code
    if on_status is not None:
        on_status(code)
    status = classify_http(code, response.headers)
    if status is DeliveryStatus.DELIVERED:
        content_type = response.headers.get("content-type", "")
        problem = check_body(bytes(answer), content_type) if check_body else None
        if problem is None:
            return result(status, f"HTTP {code}")
        return result(DeliveryStatus.PERMANENT, f"HTTP {code} but {problem}")
    detail = f"HTTP {code}"
    if 300 <= code < 400:
        detail += " (redirects are not followed; fix the configured URL)"
    if excerpt := _answer_excerpt(bytes(answer)):
        detail += f": {excerpt}"
    retry_after = None
    if status is DeliveryStatus.RETRY:
        retry_after = parse_retry_after(response.headers.get("retry-after"), clock())
    return result(status, detail, retry_after)
