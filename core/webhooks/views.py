"""Read models of endpoints, deliveries and attempts."""

from __future__ import annotations

from typing import Any

import msgspec

from core.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from core.webhooks.schemas import AttemptView, DeliveryDetail, DeliveryView, EndpointView, EndpointWithSecret

__all__ = ["attempt_view", "delivery_detail", "delivery_view", "endpoint_view", "endpoint_with_secret"]


def _endpoint_fields(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "owner_kind": endpoint.owner_kind,
        "owner_ref": endpoint.owner_ref,
        "previous_secret_expires_at": endpoint.previous_secret_expires_at,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
        "version": endpoint.version,
    }


def endpoint_view(endpoint: WebhookEndpoint) -> EndpointView:
    return EndpointView(**_endpoint_fields(endpoint))


def endpoint_with_secret(endpoint: WebhookEndpoint, secret: str) -> EndpointWithSecret:
    return EndpointWithSecret(**_endpoint_fields(endpoint), secret=secret)


def _delivery_fields(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "endpoint_id": delivery.endpoint_id,
        "event_id": delivery.event_id,
        "event_name": delivery.event_name,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "series": delivery.series,
        "next_attempt_at": delivery.next_attempt_at,
        "last_status_code": delivery.last_status_code,
        "last_response": delivery.last_response,
        "last_error": delivery.last_error,
        "last_duration_ms": delivery.last_duration_ms,
        "created_at": delivery.created_at,
        "updated_at": delivery.updated_at,
        "delivered_at": delivery.delivered_at,
        "replayed_at": delivery.replayed_at,
    }


def delivery_view(delivery: WebhookDelivery) -> DeliveryView:
    return DeliveryView(**_delivery_fields(delivery))


def attempt_view(attempt: WebhookAttempt) -> AttemptView:
    return AttemptView(
        id=attempt.id,
        series=attempt.series,
        number=attempt.number,
        outcome=attempt.outcome,
        status_code=attempt.status_code,
        response_excerpt=attempt.response_excerpt,
        error=attempt.error,
        duration_ms=attempt.duration_ms,
        started_at=attempt.started_at,
        finished_at=attempt.finished_at,
    )


def delivery_detail(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> DeliveryDetail:
    payload = msgspec.json.decode(str(delivery.body).encode(), type=dict[str, Any])
    return DeliveryDetail(
        **_delivery_fields(delivery), payload=payload, attempt_log=[attempt_view(a) for a in attempts]
    )
