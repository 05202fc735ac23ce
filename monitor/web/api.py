"""The REST API under ``/api/v1`` (JSON; the OpenAPI document is ``/api/v1/openapi.json``).

=======  ==========================  ===============================================
GET      /feeds                      feeds: config and health (status, last error, next poll),
                                     full text, WebSub push state
GET      /rules                      rules with their hits in 24 h and 7 d, last match
GET      /alerts                     history search: q, rule, channel, status, since,
                                     limit, cursor
GET      /alerts/{id}                one alert: article, hits, story outlets, events
POST     /alerts/{id}/retry          requeue a dead letter (404 if it is not one)
GET      /dead-letters               the dead-letter list
GET      /channels                   channels: ok, or disabled by a 410 (since, reason),
                                     alerts queued and dead-lettered
POST     /channels/{name}/enable     send again to a channel a 410 disabled (404 unknown,
                                     409 not disabled)
POST     /match                      a query over the archive: matches, highlights,
                                     explain trees; 422 with the error's position
GET      /silences                   active, pending and recently ended silences
POST     /silences                   create one (kind, target, duration, comment)
DELETE   /silences/{id}              expire one now
=======  ==========================  ===============================================

Every call needs ``Authorization: Bearer <MONITOR_HTTP_TOKEN>`` when the daemon has a
token (:mod:`monitor.web.auth`). The work is done by :mod:`monitor.web.service` and
:mod:`monitor.web.preview`, shared with the pages.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from monitor.errors import QuerySyntaxError
from monitor.settings import parse_duration
from monitor.web import service
from monitor.web.auth import Auth
from monitor.web.context import ConsoleContext
from monitor.web.preview import ArchiveCache, preview
from monitor.web.schemas import (
    AlertDetailOut,
    AlertOut,
    AlertPageOut,
    ChannelListOut,
    ChannelOut,
    ErrorOut,
    FeedListOut,
    FeedOut,
    MatchIn,
    MatchOut,
    QueryErrorOut,
    RetryOut,
    RuleListOut,
    RuleOut,
    SilenceIn,
    SilenceListOut,
    SilenceOut,
)

PREFIX = "/api/v1"
#: The answers every call may give besides its own.
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or wrong bearer token."}
}


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def api_router(ctx: ConsoleContext, auth: Auth, cache: ArchiveCache) -> APIRouter:
    """The API's routes over ``ctx``, each behind ``auth``'s bearer check."""
    api = APIRouter(
        prefix=PREFIX, dependencies=[Depends(auth.bearer)], responses=UNAUTHORIZED, tags=["api"]
    )

    @api.get("/feeds", response_model=FeedListOut, summary="Feeds, their health and push")
    async def feeds() -> FeedListOut:
        rows = await service.feed_rows(ctx, websub=True)
        now = ctx.clock()
        return FeedListOut(feeds=[FeedOut.of(row, now) for row in rows])

    @api.get("/rules", response_model=RuleListOut, summary="Rules and their hits")
    async def rules() -> RuleListOut:
        return RuleListOut(rules=[RuleOut.of(row) for row in await service.rule_rows(ctx)])

    @api.get(
        "/alerts",
        response_model=AlertPageOut,
        summary="Search the alert history",
        responses={422: {"model": ErrorOut}},
    )
    async def alerts(
        q: Annotated[str, Query(description="Words in the title, text or query")] = "",
        rule: Annotated[str | None, Query(description="A rule id")] = None,
        channel: Annotated[str | None, Query(description="A channel name")] = None,
        status: Annotated[
            str | None,
            Query(description="pending, retrying, delivered, dead or silenced"),
        ] = None,
        since: Annotated[
            str | None, Query(description="A duration back from now (24h) or an ISO time")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
        cursor: Annotated[str | None, Query(description="next_cursor of the last page")] = None,
    ) -> AlertPageOut | JSONResponse:
        try:
            query = service.history_query(
                ctx,
                q=q,
                rule=rule,
                channel=channel,
                status=status,
                since=since,
                limit=limit,
                cursor=cursor,
            )
            page = await service.search(ctx, query)
        except service.InputError as e:
            return _error(422, str(e))
        return AlertPageOut(
            alerts=[
                AlertOut.of(e.alert, e.status, e.created_at, e.updated_at) for e in page.entries
            ],
            next_cursor=page.next_cursor,
        )

    @api.get(
        "/alerts/{alert_id}",
        response_model=AlertDetailOut,
        summary="One alert",
        responses={404: {"model": ErrorOut}},
    )
    async def alert(alert_id: str) -> AlertDetailOut | JSONResponse:
        view = await service.find_alert(ctx, alert_id)
        if view is None:
            return _error(404, f"no alert {alert_id!r} in the history or the outbox")
        return AlertDetailOut.of_view(view)

    @api.post(
        "/alerts/{alert_id}/retry",
        response_model=RetryOut,
        summary="Requeue a dead letter",
        responses={404: {"model": ErrorOut, "description": "Not a dead letter."}},
    )
    async def retry(alert_id: str) -> RetryOut | JSONResponse:
        if await service.retry_alert(ctx, alert_id, "api") is None:
            return _error(404, f"{alert_id!r} is not in the dead-letter list")
        return RetryOut(id=alert_id)

    @api.get("/dead-letters", response_model=AlertPageOut, summary="The dead-letter list")
    async def dead_letters() -> AlertPageOut:
        entries = await ctx.store.dead_letters()
        return AlertPageOut(
            alerts=[
                AlertOut.of(e.alert, "dead", e.alert.created_at.timestamp(), e.due_at)
                for e in entries
            ],
            next_cursor=None,
        )

    @api.get("/channels", response_model=ChannelListOut, summary="Channels and their state")
    async def channels() -> ChannelListOut:
        rows = await service.channel_rows(ctx)
        return ChannelListOut(channels=[ChannelOut.of(row) for row in rows])

    @api.post(
        "/channels/{name}/enable",
        response_model=ChannelOut,
        summary="Send again to a channel its receiver disabled (410 Gone)",
        responses={
            404: {"model": ErrorOut, "description": "No such channel."},
            409: {"model": ErrorOut, "description": "The channel is not disabled."},
        },
    )
    async def enable_channel(name: str) -> ChannelOut | JSONResponse:
        try:
            row = await service.enable_channel(ctx, name, "api")
        except service.InputError as e:
            return _error(404, str(e))
        if row is None:
            return _error(409, f"channel {name!r} is not disabled")
        return ChannelOut.of(row)

    @api.post(
        "/match",
        response_model=MatchOut,
        summary="Run a query over the article archive",
        responses={422: {"model": QueryErrorOut, "description": "The query does not parse."}},
    )
    async def match(body: MatchIn) -> MatchOut | JSONResponse:
        try:
            since = _window(body.since, ctx.archive_retention)
        except ValueError as e:
            return _error(422, f"since: {e}")
        try:
            result = await preview(
                body.query,
                archive=ctx.store,
                catalog=ctx.loaded().catalog,
                now=ctx.clock(),
                since=since,
                limit=body.limit,
                cache=cache,
            )
        except QuerySyntaxError as e:
            error = QueryErrorOut(message=e.message, query=e.query, position=e.position)
            return JSONResponse(error.model_dump(), status_code=422)
        return MatchOut.of(result)

    @api.get("/silences", response_model=SilenceListOut, summary="Silences")
    async def silences() -> SilenceListOut:
        now = ctx.clock()
        found = await service.list_silences(ctx)
        return SilenceListOut(silences=[SilenceOut.of(s, now) for s in found])

    @api.post(
        "/silences",
        response_model=SilenceOut,
        status_code=201,
        summary="Create a silence",
        responses={422: {"model": ErrorOut}},
    )
    async def add_silence(body: SilenceIn) -> SilenceOut | JSONResponse:
        try:
            silence = await service.create_silence(
                ctx, body.kind, body.target, body.duration, body.comment, "api"
            )
        except service.InputError as e:
            return _error(422, str(e))
        return SilenceOut.of(silence, ctx.clock())

    @api.delete(
        "/silences/{silence_id}",
        response_model=SilenceOut,
        summary="Expire a silence now",
        responses={404: {"model": ErrorOut}},
    )
    async def expire(silence_id: str) -> SilenceOut | JSONResponse:
        silence = await service.expire_silence(ctx, silence_id, "api")
        if silence is None:
            return _error(404, f"no silence {silence_id!r}")
        return SilenceOut.of(silence, ctx.clock())

    return api


def _window(since: str | None, retention: float) -> float:
    """The seconds a ``since`` duration names (default: the archive's retention)."""
    if since is None or not since.strip():
        return retention if retention > 0 else float(timedelta(days=7).total_seconds())
    seconds = parse_duration(since).total_seconds()
    if seconds <= 0:
        raise ValueError(f"expected a duration longer than 0, got {since!r}")
    return seconds
