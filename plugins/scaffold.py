"""``huike plugin new NAME``: an installable plugin package with a hook, a route, a
migration, a configuration schema and a passing test, to start from."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

__all__ = ["NAME", "scaffold"]

NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")

_FILES: dict[str, str] = {
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "huike-$dash"
version = "0.1.0"
description = "$title: a Huike plugin."
requires-python = ">=3.11"
dependencies = []

[project.entry-points."huike.plugins"]
$name = "huike_$name.plugin"

[tool.setuptools.packages.find]
include = ["huike_$name*"]

[tool.setuptools.package-data]
"huike_$name" = ["migrations/*.py"]

[tool.pytest.ini_options]
pythonpath = ["."]
testpaths = ["tests"]
""",
    "README.md": """\
# $title

A Huike plugin. Install it next to Huike and restart; a business's admin then enables it:

```sh
pip install -e .
curl -X POST $$API/tenant/plugins/$name/enable -H "$$AUTH" -H 'Content-Type: application/json' \\
  -d '{"config": {"greeting": "Welcome"}}'
```

Run its tests with `pytest` (from this folder, in Huike's environment).
See Huike's docs/plugins/ for every hook.
""",
    "huike_$name/__init__.py": '"""$title: a Huike plugin."""\n',
    "huike_$name/models.py": '''\
"""The plugin's own table: a greeting for each new customer."""

from __future__ import annotations

import uuid

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from plugins.sdk.models import Base, TenantOwned


class Greeting(TenantOwned, Base):
    __tablename__ = "${name}_greetings"

    customer_id: Mapped[uuid.UUID]
    text: Mapped[str] = mapped_column(String(200))
''',
    "huike_$name/migrations/${name}_0001_greetings.py": '''\
"""$name: the greetings table

Revision ID: ${name}_0001
Revises:
Create Date: 2026-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from plugins.sdk.models import enable_tenant_rls

revision: str = "${name}_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("$name",)
depends_on: str | Sequence[str] | None = "0016_plugins"


def upgrade() -> None:
    op.create_table(
        "${name}_greetings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    enable_tenant_rls("${name}_greetings")


def downgrade() -> None:
    op.drop_table("${name}_greetings")
''',
    "huike_$name/plugin.py": '''\
"""The hooks of $title."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import get
from sqlalchemy import select

from core.customers.schemas import CustomerView
from core.security.rbac import Permission
from plugins.sdk import SECRET, HookContext, PluginInfo, hookimpl
from plugins.sdk.events import CustomerCreated, DomainEvent
from plugins.sdk.routes import SessionDep

from huike_$name.models import Greeting


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    greeting: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] = "Welcome"
    #: Customers whose name contains one of these are refused.
    refuse: list[str] = []
    #: An example secret: stored encrypted, never returned in clear.
    api_token: Annotated[str, SECRET] | None = None


class GreetingView(msgspec.Struct):
    customer_id: str
    text: str


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(name="$name", title="$title", version="0.1.0", config=Config)


@hookimpl
def register_permissions() -> Iterable[Permission]:
    return [Permission("$name.read", "See $title's greetings.", {"admin": "all"})]


@get("/greetings", opt={"permission": "$name.read"}, summary="List the greetings")
async def list_greetings(session: SessionDep) -> list[GreetingView]:
    rows = await session.scalars(select(Greeting).order_by(Greeting.id))
    return [GreetingView(str(row.customer_id), row.text) for row in rows]


@hookimpl
def register_routes() -> Iterable[Any]:
    return [list_greetings]


@hookimpl
def register_migrations() -> str:
    return str(Path(__file__).parent / "migrations")


@hookimpl
def before_customer_create(ctx: HookContext, customer: CustomerView) -> str | None:
    if any(word.casefold() in customer.name.casefold() for word in ctx.config.refuse):
        return f"$title does not accept {customer.name!r}."
    return None


@hookimpl
async def on_event(ctx: HookContext, event: DomainEvent) -> None:
    if isinstance(event, CustomerCreated):
        ctx.session.add(Greeting(customer_id=event.customer_id, text=ctx.config.greeting))
''',
    "tests/conftest.py": """\
import pytest

import huike_$name.plugin

pytest_plugins = ["plugins.sdk.testing"]


@pytest.fixture
def huike_plugins() -> list[object]:
    return [huike_$name.plugin]
""",
    "tests/test_plugin.py": """\
from plugins.sdk.testing import Huike


def test_new_customers_are_greeted_where_the_plugin_is_enabled(huike: Huike) -> None:
    acme, other = huike.signup("Acme"), huike.signup("Other")
    huike.enable(acme, "$name", {"greeting": "Welcome aboard", "refuse": ["Spam"]})
    created = huike.client.post("/api/v1/customers", headers=acme.headers, json={"kind": "company", "name": "Globex"})
    assert created.status_code == 201, created.text
    huike.drain()
    greetings = huike.client.get("/api/v1/plugins/$name/greetings", headers=acme.headers)
    assert greetings.json() == [{"customer_id": created.json()["id"], "text": "Welcome aboard"}]
    # Not enabled there: the route is not found, nothing is refused.
    assert huike.client.get("/api/v1/plugins/$name/greetings", headers=other.headers).status_code == 404
    spam = {"kind": "company", "name": "Spam Ltd"}
    assert huike.client.post("/api/v1/customers", headers=other.headers, json=spam).status_code == 201


def test_the_check_refuses_and_names_the_plugin(huike: Huike) -> None:
    acme = huike.signup("Acme")
    huike.enable(acme, "$name", {"refuse": ["Spam"]})
    refused = huike.client.post("/api/v1/customers", headers=acme.headers, json={"kind": "company", "name": "Spam Ltd"})
    assert refused.status_code == 422
    assert refused.json()["plugin"] == "$name"
""",
}


def scaffold(name: str, directory: Path) -> Path:
    """Write the package ``huike-<name>`` into ``directory``; returns its folder.

    Raises:
        ValueError: the name is not a valid plugin name, or the folder exists.
    """
    if not NAME.match(name):
        raise ValueError(f"plugin name {name!r} must match {NAME.pattern} (lowercase, digits, _)")
    root = directory / f"huike-{name.replace('_', '-')}"
    if root.exists():
        raise ValueError(f"{root} already exists")
    values = {"name": name, "dash": name.replace("_", "-"), "title": name.replace("_", " ").capitalize()}
    for relative, content in _FILES.items():
        path = root / Template(relative).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(content).substitute(values), encoding="utf-8")
    return root
