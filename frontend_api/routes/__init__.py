"""Every route handler of the API, in one list the app factory mounts."""

from __future__ import annotations

from typing import Any

from frontend_api.routes.auth import AuthController
from frontend_api.routes.health import healthz, readyz
from frontend_api.routes.me import me
from frontend_api.routes.members import MemberController
from frontend_api.routes.platform import PlatformController, platform_token
from frontend_api.routes.roles import RoleController, list_permissions
from frontend_api.routes.signup import signup

__all__ = ["ROUTES"]

ROUTES: list[Any] = [
    healthz,
    readyz,
    signup,
    AuthController,
    me,
    list_permissions,
    RoleController,
    MemberController,
    platform_token,
    PlatformController,
]
