"""On PostgreSQL the application role can add to the log but not rewrite it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core.kernel.database import Database

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


@pytest.mark.parametrize("statement", ["UPDATE audit_entries SET action = 'x'", "DELETE FROM audit_entries"])
async def test_the_application_role_cannot_edit_or_delete_entries(db: Database, statement: str) -> None:
    with pytest.raises(DBAPIError, match="permission denied"):
        async with db.engine.begin() as conn:
            await conn.execute(text(statement))
