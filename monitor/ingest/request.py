"""A feed's own request settings: extra headers, User-Agent, cookies, auth and proxy.

:class:`FeedRequest` is what :func:`monitor.ingest.fetch.fetch_feed` receives for a feed
that sets ``headers:``, ``user_agent:``, ``cookies:``, ``auth:`` or ``proxy:`` in the
watch config (``FeedConfig.request`` builds it). The fetch hands it to the request as an
extension; httpx copies extensions onto every redirect, and the fetch client's request
hook (:func:`request_hook`) applies it to each hop as that hop goes out:

- the User-Agent goes to every hop (it is no secret, and a CDN a feed redirects to may
  refuse the default one just as the feed's server would);
- headers, cookies and the Authorization header go only to the *origin* of the feed's
  configured URL (scheme, host and port; an ``http://`` origin also to its ``https://``
  upgrade). A redirect to another host gets none of them, the server's own Cookie jar
  aside: a feed's API key must not follow a redirect to a host it was not meant for.
  (httpx alone would carry custom headers to any host and drop a request's cookies on
  every redirect, even to the same host.)

The proxy is not applied here: the transport (:mod:`monitor.ingest.netpolicy`) reads it
from the request's extensions, so it applies to every hop as well.

Every value here but the User-Agent may be a secret: :meth:`FeedRequest.secrets` lists
them for log redaction, and ``repr`` shows none of them.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import httpx

#: The request extension carrying a feed's :class:`FeedRequest` (copied onto redirects).
FEED_REQUEST = "news_monitor.feed_request"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True, repr=False)
class FeedRequest:
    """How to ask one feed's server, beyond the shared client's defaults."""

    #: ``(scheme, host, port)`` of the feed's configured URL: where secrets may go.
    origin: tuple[str, str, int]
    #: Extra headers, in config order (names as written).
    headers: tuple[tuple[str, str], ...] = ()
    #: This feed's User-Agent; "" for MONITOR_USER_AGENT.
    user_agent: str = ""
    #: The value of the Cookie header the feed's cookies make; "" for none.
    cookie: str = ""
    #: The value of the Authorization header (``Basic …`` or ``Bearer …``); "" for none.
    authorization: str = ""
    #: ``http(s)://[user:password@]host:port`` of the proxy every hop goes through; "".
    proxy: str = ""
    #: Strings that must never reach a log line (values, credentials, encoded forms).
    _secrets: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def build(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        user_agent: str = "",
        cookies: Mapping[str, str] | None = None,
        basic: tuple[str, str] | None = None,
        bearer: str = "",
        proxy: str = "",
    ) -> FeedRequest:
        """The settings of a feed at ``url`` (its configured URL: the origin of secrets)."""
        header_items = tuple((headers or {}).items())
        cookie = "; ".join(f"{name}={value}" for name, value in (cookies or {}).items())
        authorization = ""
        if basic is not None:
            pair = f"{basic[0]}:{basic[1]}".encode()
            authorization = "Basic " + base64.b64encode(pair).decode("ascii")
        elif bearer:
            authorization = f"Bearer {bearer}"
        secrets = [value for _, value in header_items]
        secrets += [*(cookies or {}).values(), cookie, authorization, bearer, proxy]
        if basic is not None:
            secrets.append(basic[1])
        if proxy:
            proxy_url = httpx.URL(proxy)
            secrets += [proxy_url.password or "", proxy_url.userinfo.decode("ascii", "replace")]
        return cls(
            origin=origin_of(url),
            headers=header_items,
            user_agent=user_agent,
            cookie=cookie,
            authorization=authorization,
            proxy=proxy,
            _secrets=tuple(s for s in secrets if s),
        )

    def __repr__(self) -> str:
        scheme, host, port = self.origin
        names = ", ".join(name for name, _ in self.headers)
        return (
            f"FeedRequest(origin='{scheme}://{host}:{port}', headers=[{names}], "
            f"user_agent={self.user_agent!r}, cookie={'***' if self.cookie else ''!r}, "
            f"authorization={'***' if self.authorization else ''!r}, "
            f"proxy={'***' if self.proxy else ''!r})"
        )

    def secrets(self) -> tuple[str, ...]:
        """Every secret string these settings hold, for redaction."""
        return self._secrets

    def sends_to(self, url: httpx.URL) -> bool:
        """Whether headers, cookies and auth may go to ``url``: the configured origin, or
        its https upgrade."""
        scheme, host, port = origin_of(url)
        if (scheme, host, port) == self.origin:
            return True
        mine_scheme, mine_host, mine_port = self.origin
        upgraded = mine_scheme == "http" and mine_port == 80 and scheme == "https"
        return upgraded and host == mine_host and port == 443

    def apply(self, request: httpx.Request, defaults: httpx.Headers) -> None:
        """Set this feed's headers on one outgoing hop (see the module); ``defaults`` are
        the client's own headers, put back where a configured one is withheld."""
        if self.user_agent:
            request.headers["User-Agent"] = self.user_agent
        if self.sends_to(request.url):
            for name, value in self.headers:
                request.headers[name] = value
            if self.authorization:
                request.headers["Authorization"] = self.authorization
            if self.cookie:
                # Cookies the server set (the client's jar) stay, after the configured ones.
                jar = request.headers.get("Cookie")
                request.headers["Cookie"] = f"{self.cookie}; {jar}" if jar else self.cookie
            return
        for name, _ in self.headers:
            if name in defaults:
                request.headers[name] = defaults[name]
            else:
                request.headers.pop(name, None)
        if self.authorization:
            request.headers.pop("Authorization", None)


def origin_of(url: str | httpx.URL) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a URL, the port made explicit."""
    parsed = httpx.URL(url)
    scheme = parsed.scheme.lower()
    return scheme, parsed.host.lower(), parsed.port or _DEFAULT_PORTS.get(scheme, 0)


def request_hook(defaults: httpx.Headers) -> Callable[[httpx.Request], Awaitable[None]]:
    """The request event hook that applies each hop's :class:`FeedRequest` (if it has one)."""

    async def apply_feed_request(request: httpx.Request) -> None:
        settings = request.extensions.get(FEED_REQUEST)
        if isinstance(settings, FeedRequest):
            settings.apply(request, defaults)

    return apply_feed_request
