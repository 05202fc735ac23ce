"""The WebSub callback on the daemon's HTTP server: ``/websub/<feed id>/<token>``.

- ``GET``: a hub verifies an intent (``hub.mode`` subscribe or unsubscribe, with a
  ``hub.challenge``) or reports a denial (``hub.mode=denied``). The challenge is echoed
  (200, text/plain) only for a request this daemon made and has not seen verified yet;
  anything else is a 404, so a hub (or anyone) cannot subscribe us to what we did not ask
  for.
- ``POST``: a hub pushes content. A body larger than ``MONITOR_MAX_FEED_BYTES`` is a 413
  (read no further); an unknown feed or token a 404. A body whose ``X-Hub-Signature`` is
  missing or wrong is answered **202 and discarded**, as WebSub 8 asks (a hub retrying a
  refused delivery would gain nothing, and the answer tells a forger nothing), counted
  as ``bad_signature`` and logged; so is a valid one (``accepted``). A store that does
  not answer is a 503: the hub delivers again later.

No ``MONITOR_HTTP_TOKEN`` is asked for (a hub cannot send one): the callback's token,
kept with the subscription in the store, is what opens it, and a push's signature is
what makes its content trusted. What the routes do with a request is the daemon's
(:class:`WebSubReceiver`, implemented by ``monitor.app.websub``); every push is counted
in ``news_monitor_websub_pushes_total``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from monitor.errors import StoreError
from monitor.ingest.websub import CALLBACK_PREFIX, SIGNATURE_HEADER
from monitor.log import get_logger
from monitor.polling.push import PushReport
from monitor.web.metrics import Metrics

log = get_logger("monitor.websub")


@dataclass(frozen=True, slots=True)
class PushResult:
    """What became of one push."""

    #: One of :data:`monitor.web.metrics.PUSH_OUTCOMES`.
    outcome: str
    #: What processing its body did (outcome "accepted" or "not_a_feed").
    report: PushReport | None = None


class WebSubReceiver(Protocol):
    """What the callback routes ask the daemon."""

    #: Largest pushed body read (MONITOR_MAX_FEED_BYTES).
    max_body: int

    async def verify(self, feed_id: str, token: str, params: Mapping[str, str]) -> str | None:
        """The text to answer a hub's GET with (the challenge; "" for a denial noted), or
        None to refuse it (404)."""

    async def receive(
        self, feed_id: str, token: str, body: bytes, content_type: str, signature: str | None
    ) -> PushResult:
        """Check and process one push."""


class _TooLarge(Exception):
    pass


async def _read_capped(request: Request, cap: int) -> bytes:
    """The request body, or _TooLarge as soon as it passes ``cap`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def websub_routes(receiver: WebSubReceiver, metrics: Metrics) -> list[BaseRoute]:
    """The callback route, answering from ``receiver``."""

    async def callback(request: Request) -> Response:
        feed_id = str(request.path_params["feed_id"])
        token = str(request.path_params["token"])
        try:
            if request.method == "GET":
                answer = await receiver.verify(feed_id, token, dict(request.query_params))
                if answer is None:
                    return PlainTextResponse("no such subscription request", status_code=404)
                # The challenge is the hub's text echoed: never to be sniffed as markup.
                return PlainTextResponse(answer, headers={"X-Content-Type-Options": "nosniff"})
            try:
                body = await _read_capped(request, receiver.max_body)
            except _TooLarge:
                metrics.observe_push("too_large")
                log.warning("websub_push", feed=feed_id, outcome="too_large")
                return PlainTextResponse("body too large", status_code=413)
            content_type = request.headers.get("content-type", "")
            signature = request.headers.get(SIGNATURE_HEADER)
            result = await receiver.receive(feed_id, token, body, content_type, signature)
        except StoreError as e:
            log.warning("websub_callback", feed=feed_id, status="store_error", error=str(e))
            return PlainTextResponse("state store unavailable", status_code=503)
        metrics.observe_push(result.outcome, result.report)
        if result.outcome == "unknown":
            return PlainTextResponse("no such subscription", status_code=404)
        return Response(status_code=202)

    return [Route(CALLBACK_PREFIX + "{feed_id}/{token}", callback, methods=["GET", "POST"])]
