"""The console's pages, rendered on the server with Jinja2 (:mod:`monitor.web.render`).

=====================  ============================================================
``/``                  overview: feeds up and down, alerts in 24 h by status, outbox,
                       dead letters, silences, the latest alerts
``/feeds``             health table: status, last error, last success, next poll;
                       full text; WebSub push state (when WebSub is on)
``/alerts``            history: search by text, rule, channel, status; paging
``/alerts/{id}``       one alert: article with its hits, story outlets, events, retry
``/dead-letters``      the dead-letter list, each with a Retry button
``/channels``          each channel: ok, or disabled by its receiver's 410 (with an
                       Enable button), its alerts queued and dead-lettered
``/rules``             rules with hits in 24 h and 7 d, last match, a playground link
``/playground``        a query over the archive as you type: matches, explain, errors
``/silences``          silences, a form to create one, an Expire button on each
``/login``             the token form, when MONITOR_HTTP_TOKEN is set
=====================  ============================================================

Every page needs a logged-in session when the daemon has a token; every POST
carries the session's CSRF token (:mod:`monitor.web.auth`). A POST answers with a
redirect (303) and a one-time message, so reloading a page never posts again.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from monitor.errors import QuerySyntaxError
from monitor.model import ALERT_STATUSES, SILENCE_KINDS, HistoryEntry
from monitor.settings import parse_duration
from monitor.web import service
from monitor.web.auth import Auth, check_csrf, csrf_token, safe_next
from monitor.web.context import ConsoleContext
from monitor.web.preview import ArchiveCache, Preview, preview
from monitor.web.render import environment

#: The navigation bar: (path, label).
NAV = (
    ("/", "Overview"),
    ("/feeds", "Feeds"),
    ("/alerts", "Alerts"),
    ("/dead-letters", "Dead letters"),
    ("/channels", "Channels"),
    ("/rules", "Rules"),
    ("/playground", "Playground"),
    ("/silences", "Silences"),
)
#: The playground's windows (label, duration).
WINDOWS = (("1 hour", "1h"), ("24 hours", "24h"), ("7 days", "7d"), ("30 days", "30d"))
#: Matches shown in the playground.
PLAYGROUND_LIMIT = 50
#: Alerts shown on the overview.
LATEST = 8


def pages_router(ctx: ConsoleContext, auth: Auth, cache: ArchiveCache) -> APIRouter:
    """The pages over ``ctx``, each behind ``auth``'s login check."""
    templates = Jinja2Templates(env=environment())
    guard = [Depends(auth.page)]
    form = [Depends(auth.page), Depends(check_csrf)]
    pages = APIRouter(include_in_schema=False)

    def render(request: Request, name: str, status: int = 200, **values: Any) -> Response:
        path = request.url.path
        active = next((p for p, _ in reversed(NAV) if p == path or path.startswith(p + "/")), "/")
        context = {
            "nav": NAV,
            "active": active,
            "csrf_token": csrf_token(request),
            "login": auth.enabled,
            "logged_in": auth.logged_in(request),
            "flash": request.session.pop("flash", None),
            "now": ctx.clock(),
            **values,
        }
        return templates.TemplateResponse(request, name, context, status_code=status)

    def feed_names() -> dict[str, str]:
        return {f.id: f.name or f.id for f in ctx.loaded().config.feeds}

    def back(to: str, message: str, request: Request) -> Response:
        request.session["flash"] = message
        return RedirectResponse(to, status_code=303)

    # -- reading -------------------------------------------------------------------

    @pages.get("/", dependencies=guard)
    async def overview(request: Request) -> Response:
        summary = await service.overview(ctx)
        latest = await ctx.store.search_history(service.history_query(ctx, limit=LATEST))
        return render(request, "overview.html", summary=summary, latest=latest.entries)

    @pages.get("/feeds", dependencies=guard)
    async def feeds(request: Request) -> Response:
        rows = await service.feed_rows(ctx, websub=True)
        return render(request, "feeds.html", rows=rows, websub=ctx.subscriptions is not None)

    @pages.get("/alerts", dependencies=guard)
    async def alerts(
        request: Request,
        q: str = "",
        rule: str = "",
        channel: str = "",
        status: str = "",
        since: str = "",
        cursor: str = "",
    ) -> Response:
        params = {"q": q, "rule": rule, "channel": channel, "status": status, "since": since}
        error, next_cursor = "", None
        entries: tuple[HistoryEntry, ...] = ()
        try:
            query = service.history_query(
                ctx, q=q, rule=rule, channel=channel, status=status, since=since, cursor=cursor
            )
            page = await service.search(ctx, query)
        except service.InputError as e:
            error = str(e)
        else:
            entries, next_cursor = page.entries, page.next_cursor
        config = ctx.loaded().config
        return render(
            request,
            "alerts.html",
            status=422 if error else 200,
            error=error,
            entries=entries,
            next_cursor=next_cursor,
            cursor=cursor,
            params=params,
            rules=[r.id for r in config.rules],
            channels=list(config.channels),
            statuses=ALERT_STATUSES,
        )

    @pages.get("/alerts/{alert_id}", dependencies=guard)
    async def alert(request: Request, alert_id: str) -> Response:
        view = await service.find_alert(ctx, alert_id)
        if view is None:
            message = f"No alert {alert_id} in the history or the outbox."
            return render(request, "error.html", status=404, title="Not found", message=message)
        return render(request, "alert.html", view=view, names=feed_names())

    @pages.get("/dead-letters", dependencies=guard)
    async def dead_letters(request: Request) -> Response:
        return render(request, "dead.html", entries=await ctx.store.dead_letters())

    @pages.get("/channels", dependencies=guard)
    async def channels(request: Request) -> Response:
        return render(request, "channels.html", rows=await service.channel_rows(ctx))

    @pages.get("/rules", dependencies=guard)
    async def rules(request: Request) -> Response:
        return render(request, "rules.html", rows=await service.rule_rows(ctx))

    async def run_preview(q: str, since: str) -> tuple[Preview | None, Any]:
        if not q.strip():
            return None, None
        try:
            seconds = parse_duration(since).total_seconds() if since else ctx.archive_retention
        except ValueError as e:
            return None, str(e)
        try:
            result = await preview(
                q,
                archive=ctx.store,
                catalog=ctx.loaded().catalog,
                now=ctx.clock(),
                since=seconds if seconds > 0 else timedelta(days=7).total_seconds(),
                limit=PLAYGROUND_LIMIT,
                cache=cache,
            )
        except QuerySyntaxError as e:
            return None, e
        return result, None

    @pages.get("/playground", dependencies=guard)
    async def playground(request: Request, q: str = "", since: str = "24h") -> Response:
        result, error = await run_preview(q, since)
        return render(
            request,
            "playground.html",
            q=q,
            since=since,
            windows=WINDOWS,
            result=result,
            error=error,
            names=feed_names(),
        )

    @pages.get("/playground/results", dependencies=guard)
    async def playground_results(request: Request, q: str = "", since: str = "24h") -> Response:
        result, error = await run_preview(q, since)
        return render(request, "_results.html", q=q, result=result, error=error, names=feed_names())

    @pages.get("/silences", dependencies=guard)
    async def silences(
        request: Request, kind: str = "rule", target: str = "", comment: str = ""
    ) -> Response:
        return render(request, "silences.html", **await _silence_page(ctx, kind, target, comment))

    # -- acting (forms) ------------------------------------------------------------

    @pages.post("/alerts/{alert_id}/retry", dependencies=form)
    async def retry(request: Request, alert_id: str) -> Response:
        to = safe_next(str((await request.form()).get("back") or "/dead-letters"))
        if await service.retry_alert(ctx, alert_id, "web") is None:
            return back(to, f"{alert_id} is not a dead letter (already retried?).", request)
        return back(to, f"Alert {alert_id} is queued again.", request)

    @pages.post("/channels/{name}/enable", dependencies=form)
    async def enable_channel(request: Request, name: str) -> Response:
        to = safe_next(str((await request.form()).get("back") or "/channels"))
        try:
            row = await service.enable_channel(ctx, name, "web")
        except service.InputError as e:
            return back(to, f"Cannot enable: {e}.", request)
        if row is None:
            return back(to, f"Channel {name} is not disabled (already enabled?).", request)
        waiting = f"{row.dead} of its alerts are" if row.dead != 1 else "1 of its alerts is"
        return back(
            to,
            f"Channel {name} is enabled: every daemon sends to it again from its next delivery "
            f"pass. {waiting} in the dead-letter list until retried.",
            request,
        )

    @pages.post("/silences", dependencies=form)
    async def add_silence(request: Request) -> Response:
        data = await request.form()
        fields = {k: str(data.get(k) or "") for k in ("kind", "target", "duration", "comment")}
        try:
            silence = await service.create_silence(ctx, **fields, by="web")
        except service.InputError as e:
            values = await _silence_page(ctx, fields["kind"], fields["target"], fields["comment"])
            values.update(duration=fields["duration"], error=str(e))
            return render(request, "silences.html", status=422, **values)
        return back("/silences", f"Silence {silence.id} added.", request)

    @pages.post("/silences/{silence_id}/expire", dependencies=form)
    async def expire(request: Request, silence_id: str) -> Response:
        if await service.expire_silence(ctx, silence_id, "web") is None:
            return back("/silences", f"No silence {silence_id}.", request)
        return back("/silences", f"Silence {silence_id} expired.", request)

    # -- login -------------------------------------------------------------------

    @pages.get("/login")
    async def login_form(request: Request, next: str = "/") -> Response:
        if auth.logged_in(request):
            return RedirectResponse(safe_next(next), status_code=303)
        return render(request, "login.html", next=safe_next(next), error="")

    @pages.post("/login", dependencies=[Depends(check_csrf)])
    async def login(request: Request) -> Response:
        data = await request.form()
        to = safe_next(str(data.get("next") or "/"))
        if not auth.enabled:
            return RedirectResponse(to, status_code=303)
        if not auth.accepts(str(data.get("token") or "")):
            await asyncio.sleep(0.25)  # slows guessing a little; the token must be long anyway
            return render(request, "login.html", status=401, next=to, error="Wrong token.")
        auth.log_in(request)
        return RedirectResponse(to, status_code=303)

    @pages.post("/logout", dependencies=[Depends(check_csrf)])
    async def logout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    return pages


async def _silence_page(
    ctx: ConsoleContext, kind: str, target: str, comment: str
) -> dict[str, Any]:
    config = ctx.loaded().config
    return {
        "silences": await service.list_silences(ctx),
        "kinds": SILENCE_KINDS,
        "kind": kind if kind in SILENCE_KINDS else "rule",
        "target": target,
        "comment": comment,
        "duration": "2h",
        "error": "",
        "rules": [r.id for r in config.rules],
        "channels": list(config.channels),
    }


def error_page(status: int, title: str, message: str) -> HTMLResponse:
    """A bare error page (for a refused form, outside any route's context)."""
    env = environment()
    body = env.get_template("bare_error.html").render(title=title, message=message)
    return HTMLResponse(body, status_code=status)
