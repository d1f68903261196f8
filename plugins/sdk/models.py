"""What a plugin's own tables are built from. A model that inherits ``TenantOwned`` gets the
``(tenant_id, id)`` primary key, the ORM tenant filter and auditing; its migration must call
``enable_tenant_rls`` for the table (PostgreSQL row-level security)."""

from core.kernel.ids import new_id
from core.kernel.models import Base, JSONType, TenantOwned, UTCDateTime
from core.migrations.rls import enable_tenant_rls

__all__ = ["Base", "JSONType", "TenantOwned", "UTCDateTime", "enable_tenant_rls", "new_id"]
