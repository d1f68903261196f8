"""Invitations: a tenant admin invites a person by email to join with one role.

Only a SHA-256 of the secret is stored. The token mailed to the invitee carries the tenant
(``<tenant hex>.<invitation hex>.<secret>``), because accepting is public: the tenant context
is set from the token before any query, so the walls hold for the public route too.

Accepting creates the account when none exists for the invited email; when one exists, the
invitee proves it with the account's password (and code, with 2FA), so an invitation never
hands someone else's account over.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

import msgspec
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.crypto.fields import matches
from core.kernel.clock import utcnow
from core.kernel.concurrency import ensure_version
from core.kernel.database import Database
from core.kernel.errors import Conflict, Forbidden, Invalid, Locked, NotFound, Unauthorized
from core.kernel.models import Tenant, TenantStatus
from core.kernel.pagination import Page, PageRequest, paginate
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.mail import Message, render_message
from core.mail.jobs import send_after_commit
from core.security import accounts, two_factor
from core.security.members import add_member
from core.security.models import Invitation, Membership, Role, User
from core.security.opaque import digest, new_secret, same_digest
from core.security.passwords import verify_password
from core.security.principal import Principal
from core.security.roles import OWNER, ensure_may_grant
from core.security.schemas import TokenPair
from core.security.service import Authenticator
from core.security.throttle import throttle_keys

__all__ = [
    "InvitationAccept",
    "InvitationCreate",
    "InvitationView",
    "accept_invitation",
    "create_invitation",
    "invite",
    "list_invitations",
    "revoke_invitation",
]

_TOKEN = re.compile(r"^([0-9a-f]{32})\.([0-9a-f]{32})\.([A-Za-z0-9_-]{16,128})$")
_INVALID = "This invitation link is not valid: it may have expired, been used or been revoked."


class InvitationCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    role_id: uuid.UUID


class InvitationAccept(msgspec.Struct, forbid_unknown_fields=True):
    token: str
    password: str
    #: Needed only when no account exists yet for the invited email.
    full_name: str = ""
    #: Current TOTP code, when the existing account has two-factor authentication on.
    otp: str | None = None


class InvitationView(msgspec.Struct):
    """What admins see of an invitation: never its secret or token."""

    id: uuid.UUID
    email: str
    role_id: uuid.UUID
    invited_by: uuid.UUID
    expires_at: datetime
    created_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class _Token:
    tenant_id: uuid.UUID
    invitation_id: uuid.UUID
    secret: str


def _view(invitation: Invitation) -> InvitationView:
    return InvitationView(
        id=invitation.id,
        email=invitation.email,
        role_id=invitation.role_id,
        invited_by=invitation.invited_by,
        expires_at=invitation.expires_at,
        created_at=invitation.created_at,
        version=invitation.version,
    )


def _invalid() -> Invalid:
    return Invalid(_INVALID, field="token", code="invalid_invitation")


def _pending() -> list[ColumnElement[bool]]:
    now = utcnow()
    return [Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at > now]


async def create_invitation(
    session: AsyncSession,
    principal: Principal,
    command: InvitationCreate,
    *,
    ttl_seconds: int,
    public_url: str,
) -> tuple[InvitationView, Message]:
    """Record an invitation in the current tenant; returns its view and the mail to send."""
    if principal.user_id is None:
        raise Forbidden("Invitations are sent by a person, not an API key.", code="not_a_person")
    email = accounts.validated_email(command.email)
    role = await session.scalar(select(Role).where(Role.id == command.role_id))
    if role is None:
        raise Invalid("The role does not exist.", field="role_id", code="unknown_role")
    if role.template == OWNER and not principal.can("tenant.transfer_ownership"):
        raise Forbidden("Only an owner can invite someone as owner.", field="role_id", code="owner_only")
    ensure_may_grant(principal, role.grants, "role_id")
    member = await session.scalar(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(func.lower(User.email) == email, Membership.is_active.is_(True))
    )
    if member is not None:
        raise Conflict("This person is already a member.", field="email", code="already_member")
    pending = await session.scalar(
        select(Invitation.id).where(await matches(session, Invitation.email, email), *_pending())
    )
    if pending is not None:
        raise Conflict(
            "This person already has a pending invitation; revoke it to send a new one.",
            field="email",
            code="already_invited",
        )
    secret = new_secret()
    invitation = Invitation(
        email=email,
        role_id=role.id,
        secret_hash=digest(secret),
        invited_by=principal.user_id,
        expires_at=utcnow() + timedelta(seconds=ttl_seconds),
    )
    session.add(invitation)
    await session.flush()
    tenant = await session.get_one(Tenant, principal.tenant_id)
    inviter = await session.get_one(User, principal.user_id)
    token = f"{principal.tenant_id.hex}.{invitation.id.hex}.{secret}"
    link = f"{public_url.rstrip('/')}/accept-invitation?{urlencode({'token': token})}"
    invitee = await accounts.find_by_email(session, email)
    message = render_message(
        "invitation",
        # The invitee's own language when they have an account, else the inviter's.
        invitee.locale if invitee is not None else inviter.locale,
        to=email,
        inviter_name=inviter.full_name,
        inviter_email=inviter.email,
        tenant_name=tenant.name,
        role_name=role.name,
        link=link,
        expires_at=f"{invitation.expires_at:%Y-%m-%d %H:%M}",
    )
    return _view(invitation), message


async def invite(
    db: Database,
    settings: Settings,
    principal: Principal,
    command: InvitationCreate,
) -> InvitationView:
    """Create the invitation and enqueue its mail in one transaction: no link is ever sent
    for an invitation that was rolled back, and none is lost once it committed. Run in the
    principal's tenant."""
    async with db.transaction() as session:
        view, message = await create_invitation(
            session,
            principal,
            command,
            ttl_seconds=settings.invitation_ttl_seconds,
            public_url=settings.public_url,
        )
        await send_after_commit(session, settings, message)
    return view


async def list_invitations(session: AsyncSession, page: PageRequest) -> Page[InvitationView]:
    """Pending invitations of the current tenant (not accepted, revoked or expired)."""
    stmt = select(Invitation).where(*_pending())
    return await paginate(
        session,
        stmt,
        Invitation.id,
        page,
        _view,
        # The email is encrypted: it cannot be sorted on in the database.
        sortable={"expires_at": Invitation.expires_at},
    )


async def revoke_invitation(
    session: AsyncSession, invitation_id: uuid.UUID, *, expected_version: int | None = None
) -> None:
    """Revoke an invitation so its link stops working. Revoking twice is harmless."""
    invitation = await session.scalar(
        select(Invitation).where(Invitation.id == invitation_id).with_for_update()
    )
    if invitation is None:
        raise NotFound()
    ensure_version(invitation, expected_version)
    if invitation.accepted_at is not None:
        raise Conflict("The invitation was already accepted.", code="invitation_accepted")
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
    await session.flush()


def _parse(token: str) -> _Token:
    match = _TOKEN.match(token.strip())
    if match is None:
        raise _invalid()
    return _Token(uuid.UUID(hex=match[1]), uuid.UUID(hex=match[2]), match[3])


async def accept_invitation(
    db: Database,
    auth: Authenticator,
    command: InvitationAccept,
    *,
    ip: str | None,
    min_password_length: int,
) -> TokenPair:
    """Join the tenant named by the token and sign in there; one transaction in that tenant."""
    token = _parse(command.token)
    with tenant_context(token.tenant_id):
        try:
            async with db.transaction() as session:
                return await _accept(session, auth, command, token, ip, min_password_length)
        except _WrongCredentials as wrong:
            # Counted like a failed sign-in, in a transaction of its own: the accept rolled back.
            async with db.transaction() as session:
                await auth.throttling.record_failure(session, wrong.keys)
            raise Unauthorized(wrong.message, field=wrong.field, code="invalid_credentials") from None


class _WrongCredentials(Exception):
    def __init__(self, keys: list[str], message: str, field: str) -> None:
        super().__init__(message)
        self.keys = keys
        self.message = message
        self.field = field


async def _accept(
    session: AsyncSession,
    auth: Authenticator,
    command: InvitationAccept,
    token: _Token,
    ip: str | None,
    min_password_length: int,
) -> TokenPair:
    invitation = await session.scalar(select(Invitation).where(Invitation.id == token.invitation_id))
    if (
        invitation is None
        or not same_digest(invitation.secret_hash, digest(token.secret))
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= utcnow()
    ):
        raise _invalid()
    tenant = await session.get_one(Tenant, token.tenant_id)
    if tenant.status == TenantStatus.SUSPENDED:
        raise Locked(
            f"This business is suspended: {tenant.status_reason or 'contact support'}. "
            "Its invitations can be accepted once it is active again.",
            code="tenant_suspended",
        )
    user = await _invitee_account(session, auth, command, invitation.email, ip, min_password_length)
    accepted_at = utcnow()
    claimed = await session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, *_pending())
        .values(accepted_at=accepted_at)
        .returning(Invitation.id)
        # A compare-and-set, so a concurrent accept or revoke cannot both win; audited below.
        .execution_options(audited_by_caller=True)
    )
    if claimed.first() is None:  # a concurrent accept or revoke won
        raise _invalid()
    await audit.record(
        session,
        "update",
        entity_type="invitations",
        entity_id=invitation.id,
        details={"before": {"accepted_at": None}, "after": {"accepted_at": accepted_at.isoformat()}},
    )
    membership = await add_member(session, None, user, [invitation.role_id])
    return await auth.issue(session, user.id, token.tenant_id, membership.id)


async def _invitee_account(
    session: AsyncSession,
    auth: Authenticator,
    command: InvitationAccept,
    email: str,
    ip: str | None,
    min_password_length: int,
) -> User:
    """The invited email's account: created now, or proven with its password (and 2FA code)."""
    user = await accounts.find_by_email(session, email)
    if user is None:
        return await accounts.create_account(
            session,
            email=email,
            full_name=command.full_name,
            password=command.password,
            min_password_length=min_password_length,
        )
    keys = throttle_keys(email, ip)
    await auth.throttling.check(session, keys)
    if not await verify_password(user.password_hash, command.password) or not user.is_active:
        raise _WrongCredentials(
            keys,
            "An account with this email already exists; enter its password to accept.",
            "password",
        )
    if user.totp_enabled:
        if not command.otp:
            raise Unauthorized(
                "Enter the code from your authenticator app.", field="otp", code="otp_required"
            )
        if not two_factor.verify(user, command.otp):
            raise _WrongCredentials(keys, "The code from your authenticator app is wrong.", "otp")
    await auth.throttling.record_success(session, keys[0])
    return user
