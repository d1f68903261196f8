"""The litestar side of the OAuth server: authlib's requests built from litestar's, its
answers and RFC 6749 errors turned into litestar responses, and the OpenAPI description of
the form-encoded endpoints (which read their body themselves, to keep repeated parameters
and to answer a wrong content type with an OAuth error rather than a problem)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from litestar import Request, Response
from litestar.enums import MediaType
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

from core.apps.oauth_models import OAuthRequest
from core.apps.oauth_store import Answer

__all__ = ["authorization_request", "form_operation", "form_request", "oauth_error", "oauth_response"]

_FORM = "application/x-www-form-urlencoded"


def authorization_request(request: Request[Any, Any, Any]) -> OAuthRequest:
    """An authorization request: its parameters are the query string's."""
    return OAuthRequest(
        request.method, str(request.url), request.headers, list(request.query_params.multi_items())
    )


async def form_request(request: Request[Any, Any, Any]) -> OAuthRequest:
    """A token, revocation or introspection request: parameters in a form body (RFC 6749 §3.2).

    Raises:
        InvalidRequestError: the body is not ``application/x-www-form-urlencoded``.
    """
    if not request.headers.get("content-type", "").lower().startswith(_FORM):
        raise InvalidRequestError(f"Send the parameters as {_FORM}.")
    form = await request.form()
    params = [(key, value) for key, value in form.multi_items() if isinstance(value, str)]
    return OAuthRequest(request.method, str(request.url), request.headers, params)


def oauth_response(answer: Answer) -> Response[Any]:
    status, body, headers = answer
    return Response(
        content=body if body != "" else None,
        status_code=status,
        media_type=MediaType.JSON,
        headers={k: v for k, v in headers if k.lower() != "content-type"},
    )


def oauth_error(_: Request[Any, Any, Any], error: OAuth2Error) -> Response[Any]:
    """An RFC 6749 error as JSON. When the error may go back to the app (the client and its
    redirect URI are valid), ``redirect_to`` is where the front end sends the browser."""
    body: dict[str, Any] = dict(error.get_body())
    if error.redirect_uri:
        body["redirect_to"] = add_params_to_uri(error.redirect_uri, error.get_body(), error.redirect_fragment)
    return oauth_response((error.status_code, body, error.get_headers()))


def form_operation(fields: dict[str, str], required: list[str]) -> type[Operation]:
    """An Operation whose request body is the form ``fields`` (name: description)."""
    body = RequestBody(
        required=True,
        content={
            _FORM: OpenAPIMediaType(
                schema=Schema(
                    type=OpenAPIType.OBJECT,
                    properties={
                        name: Schema(type=OpenAPIType.STRING, description=text)
                        for name, text in fields.items()
                    },
                    required=required,
                )
            )
        },
    )

    @dataclass
    class FormOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    return FormOperation
