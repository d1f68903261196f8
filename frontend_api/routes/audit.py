"""The audit log: list it with filters, or export it (CSV, JSON Lines) as a stream."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, get
from litestar.params import FromQuery
from litestar.response import Stream

from core.audit import service as audit
from core.audit.schemas import AuditEntryView, AuditFilter
from core.kernel.pagination import Page
from frontend_api.deps import PageDep, PrincipalDep, ServicesDep, SessionDep

__all__ = ["AuditController"]


def _filter(
    actor_type: str | None,
    actor: str | None,
    action: str | None,
    entity_type: str | None,
    entity_id: str | None,
    since: str | None,
    until: str | None,
) -> AuditFilter:
    return audit.make_filter(
        actor_type=actor_type,
        actor_id=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        since=since,
        until=until,
    )


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]

    @get(
        "/",
        permission="audit.read",
        summary="List audit entries",
        description="Filters: `actor_type`, `actor` (user or API key id), `action`, `entity_type`, "
        "`entity_id`, `since`/`until` (ISO 8601, `until` exclusive). Oldest first; `sort=-seq` "
        "for newest first.",
    )
    async def list_entries(
        self,
        session: SessionDep,
        page: PageDep,
        actor_type: FromQuery[str | None] = None,
        actor: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        entity_type: FromQuery[str | None] = None,
        entity_id: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
        until: FromQuery[str | None] = None,
    ) -> Page[AuditEntryView]:
        where = _filter(actor_type, actor, action, entity_type, entity_id, since, until)
        return await audit.list_entries(session, where, page)

    @get(
        "/export",
        permission="audit.read",
        summary="Export audit entries as CSV or JSON Lines (streamed)",
        description="`format=csv` (default) or `format=jsonl`; the same filters as the list.",
    )
    async def export(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        format: FromQuery[str] = "csv",
        actor_type: FromQuery[str | None] = None,
        actor: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        entity_type: FromQuery[str | None] = None,
        entity_id: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
        until: FromQuery[str | None] = None,
    ) -> Stream:
        where = _filter(actor_type, actor, action, entity_type, entity_id, since, until)
        chunks = await audit.export(services.db, principal.tenant_id, where, format)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return Stream(
            chunks,
            media_type=audit.EXPORT_FORMATS[format],
            headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.{format}"'},
        )
