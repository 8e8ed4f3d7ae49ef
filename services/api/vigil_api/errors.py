"""Uniform JSON errors: ``{"detail": "<reason>"}``; never a traceback, never echoed input."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

_LOC_KIND = {"query": "query parameter", "path": "path parameter", "body": "body field", "header": "header"}
MAX_MSG = 200


def _where(loc: Sequence[Any]) -> str:
    if not loc:
        return "request"
    kind, rest = str(loc[0]), [str(p) for p in loc[1:]]
    if kind == "body" and not rest:
        return "request body"
    label = _LOC_KIND.get(kind, kind)
    return f"{label} '{'.'.join(rest)}'" if rest else label


def describe_validation_errors(errors: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """A one-line reason plus a sanitized list (loc/msg/type only: no input echoed back)."""
    items: list[dict[str, Any]] = []
    for err in errors:
        loc = [p if isinstance(p, int) else str(p) for p in err.get("loc", ())]
        msg = str(err.get("msg", "invalid value"))
        ctx = err.get("ctx") or {}
        if err.get("type") == "json_invalid" and "error" in ctx:
            msg = f"invalid JSON: {ctx['error']}"
        items.append({"loc": loc, "msg": msg[:MAX_MSG], "type": str(err.get("type", "value_error"))})
    reasons = [f"{_where(i['loc'])}: {i['msg']}" for i in items[:3]]
    if len(items) > 3:
        reasons.append(f"and {len(items) - 3} more")
    return "; ".join(reasons) or "invalid request", items


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return error_response(exc.status_code, detail, dict(exc.headers or {}))


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    detail, items = describe_validation_errors(exc.errors())
    return JSONResponse({"detail": detail, "errors": items}, status_code=422)


async def _database_down(_request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", type(exc).__name__)
    return error_response(503, "database unavailable; try again shortly", {"Retry-After": "5"})


async def _redis_down(_request: Request, exc: Exception) -> Response:
    log.warning("redis unavailable: %s", type(exc).__name__)
    return error_response(503, "redis unavailable; try again shortly", {"Retry-After": "5"})


async def _bad_value(_request: Request, exc: Exception) -> Response:
    # Input validation should have caught it; this is the safety net (e.g. a NUL byte).
    log.warning("database rejected a value: %s", type(exc).__name__)
    return error_response(400, "a value in the request cannot be stored or searched")


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(InterfaceError, _database_down)
    app.add_exception_handler(DataError, _bad_value)
    app.add_exception_handler(RedisConnectionError, _redis_down)
    app.add_exception_handler(RedisTimeoutError, _redis_down)


class CatchAllMiddleware:
    """Last line: any uncaught exception is logged with its traceback and answered with a
    generic 500 (if the response has not started yet). Nothing about it reaches the client.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await error_response(500, "internal error")(scope, receive, send)
