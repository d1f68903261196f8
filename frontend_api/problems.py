"""Every error is RFC 9457 problem details: ``type``, ``title``, ``status``, ``detail``, a
stable ``code``, and for validation errors the ``errors`` list naming each field."""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from core.kernel.errors import DomainError
from core.kernel.logs import request_id_var

__all__ = ["exception_handlers", "problem"]

log = logging.getLogger("huike.http")
PROBLEM_JSON = "application/problem+json"
_AT = re.compile(r"- at `\$\.?([^`]*)`")
_NAMED = re.compile(r"field `([^`]+)`")
_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("body_too_large", "Request body too large"),
    412: ("precondition_failed", "Precondition failed"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("too_many_requests", "Too many requests"),
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        **(extensions or {}),
        "type": f"https://huike.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _domain(_: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    errors = [{"field": e.field, "reason": e.reason} for e in exc.errors]
    return problem(exc.status, exc.code, exc.title, exc.message, errors, exc.headers, exc.extensions)


def _field_of(message: str) -> str:
    named = _NAMED.search(message)
    at = _AT.search(message)
    path = at.group(1) if at else ""
    if named:
        return f"{path}.{named.group(1)}" if path else named.group(1)
    return path or "body"


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors: list[dict[str, str]] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        key = item.get("key")
        field = str(key) if key not in (None, "", "data") else _field_of(message)
        errors.append({"field": field, "reason": _AT.sub("", message).strip()})
    detail = str(exc.detail)
    if not errors:
        if "JSON" in detail or "decode" in detail.lower() or "malformed" in detail.lower():
            return problem(400, "malformed_body", "Malformed body", "The request body is not valid JSON.")
        errors = [{"field": _field_of(detail), "reason": detail}]
    return problem(422, "validation_failed", "Validation failed", errors[0]["reason"], errors)


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    detail = str(exc.detail) if exc.detail else title
    if exc.status_code == 400 and "malformed" in detail.lower():
        return problem(400, "malformed_body", "Malformed body", "The request body is not valid JSON.")
    if exc.status_code == 404:
        detail = "The resource does not exist."
    return problem(exc.status_code, code, title, detail, headers=exc.headers)


def _integrity(_: Request[Any, Any, Any], exc: IntegrityError) -> Response[dict[str, Any]]:
    log.warning("integrity error turned into 409", extra={"constraint": str(exc.orig)[:200]})
    return problem(
        409, "conflict", "Conflict", "The change conflicts with another one; reload and try again."
    )


def _stale(_: Request[Any, Any, Any], exc: StaleDataError) -> Response[dict[str, Any]]:
    """Another request changed the row between this one's read and its write (the version
    check in the UPDATE matched nothing): this write did not land."""
    return problem(
        412,
        "version_mismatch",
        "Precondition failed",
        "The resource changed while you were changing it; read it again and re-apply your change.",
    )


def _unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error")
    return problem(
        500, "internal_error", "Internal error", "Something went wrong on our side; it was logged."
    )


exception_handlers: dict[type[Exception] | int, Any] = {
    DomainError: _domain,
    ValidationException: _validation,
    HTTPException: _http,
    IntegrityError: _integrity,
    StaleDataError: _stale,
    Exception: _unexpected,
}
