"""Domain errors. Each carries a stable machine ``code``, a message and, when one field is
at fault, its name. The HTTP layer turns them into RFC 9457 problem details."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Conflict",
    "DomainError",
    "FieldError",
    "Forbidden",
    "Invalid",
    "Locked",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionFailed",
    "TooManyRequests",
    "Unauthorized",
    "one_of",
]


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    reason: str


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.errors = list(errors or [])
        if field is not None:
            self.errors.insert(0, FieldError(field, message))
        self.headers = dict(headers or {})
        #: Extra members of the problem body (RFC 9457 extensions), e.g. ``existing_id``.
        self.extensions = dict(extensions or {})


class Invalid(DomainError):
    status = 422
    code = "validation_failed"
    title = "Validation failed"


class NotFound(DomainError):
    """Also the answer for another tenant's object, with the very same body."""

    status = 404
    code = "not_found"
    title = "Not found"

    def __init__(self, message: str = "The resource does not exist.", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class PreconditionFailed(DomainError):
    """An ``If-Match`` (or another precondition) does not hold: nothing was changed."""

    status = 412
    code = "precondition_failed"
    title = "Precondition failed"


class PayloadTooLarge(DomainError):
    """The request body is larger than the limit of its route."""

    status = 413
    code = "body_too_large"
    title = "Request body too large"


class Locked(DomainError):
    """The tenant is suspended: reads work, writes answer 423."""

    status = 423
    code = "tenant_suspended"
    title = "Tenant suspended"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"


def one_of(value: str, allowed: tuple[str, ...], field: str) -> str:
    """``value`` when it is one of ``allowed``; otherwise 422 ``invalid_choice`` naming ``field``."""
    if value not in allowed:
        raise Invalid(f"Choose one of: {', '.join(allowed)}.", field=field, code="invalid_choice")
    return value
