"""Every route handler of the API, in one list the app factory mounts."""

from __future__ import annotations

from typing import Any

from frontend_api.routes.activities import ActivityController, TimelineController
from frontend_api.routes.api_keys import ApiKeyController
from frontend_api.routes.apps import AppController, AppInstallationController
from frontend_api.routes.audit import AuditController
from frontend_api.routes.auth import AuthController
from frontend_api.routes.custom_fields import CustomFieldController
from frontend_api.routes.customers import ContactController, CustomerController
from frontend_api.routes.dead_letters import DeadLetterController
from frontend_api.routes.health import healthz, readyz
from frontend_api.routes.imports import ExportController, ImportController
from frontend_api.routes.invitations import InvitationController
from frontend_api.routes.leads import (
    LeadAssignmentRuleController,
    LeadController,
    LeadFormController,
    submit_lead_form,
)
from frontend_api.routes.me import me, update_me
from frontend_api.routes.members import MemberController
from frontend_api.routes.oauth import OAuthController, authorization_server_metadata
from frontend_api.routes.opportunities import BoardController, OpportunityController
from frontend_api.routes.password_reset import PasswordResetController
from frontend_api.routes.pipelines import PipelineController
from frontend_api.routes.platform import PlatformAppController, PlatformController, platform_token
from frontend_api.routes.pool import CustomerPoolController
from frontend_api.routes.reports import ReportController
from frontend_api.routes.roles import RoleController, list_permissions
from frontend_api.routes.signup import signup
from frontend_api.routes.teams import TeamController
from frontend_api.routes.tenant import TenantController
from frontend_api.routes.tenant_plugins import TenantPluginController
from frontend_api.routes.two_factor import TwoFactorController

__all__ = ["ROUTES"]

ROUTES: list[Any] = [
    healthz,
    readyz,
    signup,
    AuthController,
    me,
    update_me,
    TwoFactorController,
    TenantController,
    TenantPluginController,
    list_permissions,
    RoleController,
    MemberController,
    InvitationController,
    PasswordResetController,
    TeamController,
    PipelineController,
    ApiKeyController,
    AppController,
    AppInstallationController,
    OAuthController,
    authorization_server_metadata,
    AuditController,
    CustomFieldController,
    CustomerController,
    ContactController,
    ImportController,
    ExportController,
    CustomerPoolController,
    ActivityController,
    TimelineController,
    LeadController,
    LeadFormController,
    LeadAssignmentRuleController,
    submit_lead_form,
    OpportunityController,
    BoardController,
    ReportController,
    platform_token,
    PlatformAppController,
    PlatformController,
    DeadLetterController,
]
