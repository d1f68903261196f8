"""Authentication use cases: sign in, refresh, switch tenant, sign out, resolve a credential.

Accounts are platform-wide; a token pair is always for one tenant, the one in its ``tid``.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, Uuid, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.audit.context import ActorType, current_audit_context
from core.crypto.keyring import adopt_fingerprint, key_fingerprint
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.errors import Invalid, Unauthorized
from core.kernel.models import Tenant
from core.kernel.tenancy import ALL_TENANTS, current_tenant_id, set_rls_user, tenant_context
from core.security import accounts, two_factor
from core.security.jwt import TokenSigner
from core.security.models import Membership, MembershipRole, PlatformAdmin, RefreshToken, Role, User
from core.security.opaque import new_secret
from core.security.passwords import hash_password_sync, verify_password
from core.security.principal import Principal
from core.security.rbac import widest
from core.security.schemas import LoginCommand, TenantChoice, TokenPair
from core.security.throttle import LoginThrottling, throttle_keys

__all__ = ["Authenticator", "TokenPolicy"]

_BAD_LOGIN = "Email or password is incorrect."


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    access_ttl: int
    refresh_ttl: int


class Authenticator:
    """Everything about credentials, built once by the app factory."""

    def __init__(
        self, db: Database, signer: TokenSigner, policy: TokenPolicy, throttling: LoginThrottling
    ) -> None:
        self.db = db
        self.signer = signer
        self.policy = policy
        self.throttling = throttling
        # Verified against when the email is unknown, so both answers take as long.
        self._dummy_hash = hash_password_sync(new_secret())

    async def login(self, command: LoginCommand, ip: str | None) -> TokenPair:
        email = accounts.normalize_email(command.email)
        keys = throttle_keys(email, ip)
        async with self.db.transaction() as session:
            await self.throttling.check(session, keys)
            user = await accounts.find_by_email(session, email)
            valid = await verify_password(user.password_hash if user else self._dummy_hash, command.password)
            if user is not None and valid and user.is_active and user.totp_enabled:
                valid = await self._check_otp(user, command.otp)
        if user is None or not valid or not user.is_active:
            async with self.db.transaction() as session:
                await self.throttling.record_failure(session, keys)
                if user is not None:
                    await _record_failed_login(session, user, command.tenant)
            raise Unauthorized(_BAD_LOGIN, code="invalid_credentials")
        async with self.db.transaction() as session:
            await self.throttling.record_success(session, keys[0])
            tenant, membership = await self._pick_membership(session, user.id, command.tenant)
        return await self._issue_in_tenant(user, tenant.id, membership.id, "auth.login")

    async def platform_login(self, email: str, password: str, otp: str | None, ip: str | None) -> str:
        """Sign a platform admin in; returns a short-lived platform token."""
        email = accounts.normalize_email(email)
        keys = throttle_keys(email, ip)
        async with self.db.transaction() as session:
            await self.throttling.check(session, keys)
            user = await accounts.find_by_email(session, email)
            valid = await verify_password(user.password_hash if user else self._dummy_hash, password)
            if user is not None and valid:
                valid = user.is_active and await session.get(PlatformAdmin, user.id) is not None
            if user is not None and valid and user.totp_enabled:
                valid = await self._check_otp(user, otp)
        if user is None or not valid:
            async with self.db.transaction() as session:
                await self.throttling.record_failure(session, keys)
            raise Unauthorized(_BAD_LOGIN, code="invalid_credentials")
        async with self.db.transaction() as session:
            await self.throttling.record_success(session, keys[0])
        return self.signer.sign("platform", {"sub": str(user.id)}, self.policy.access_ttl)

    async def switch_tenant(self, principal: Principal, tenant_ref: str) -> TokenPair:
        if principal.user_id is None:
            raise Invalid("Only a person can switch tenants.", code="not_a_person")
        async with self.db.transaction() as session:
            user = await session.get_one(User, principal.user_id)
            tenant, membership = await self._pick_membership(session, user.id, tenant_ref)
        return await self._issue_in_tenant(user, tenant.id, membership.id, "auth.switch_tenant")

    async def refresh(self, refresh_token: str) -> TokenPair:
        claims = self.signer.verify(refresh_token, "refresh")
        tenant_id, token_id = uuid.UUID(claims["tid"]), uuid.UUID(claims["jti"])
        with tenant_context(tenant_id):
            async with self.db.transaction() as session:
                spent = await session.execute(
                    update(RefreshToken)
                    .where(
                        RefreshToken.id == token_id,
                        RefreshToken.used_at.is_(None),
                        RefreshToken.revoked_at.is_(None),
                        RefreshToken.expires_at > utcnow(),
                    )
                    .values(used_at=utcnow())
                    .returning(RefreshToken.user_id, RefreshToken.family_id)
                )
                row = spent.first()
                if row is None:
                    await self._revoke_family(session, uuid.UUID(claims["fam"]))
                else:
                    membership = await _active_membership(session, row.user_id)
                    if membership is not None:
                        return await self._issue(
                            session, row.user_id, tenant_id, membership.id, row.family_id
                        )
        raise Unauthorized(
            "The refresh token was already used or revoked; sign in again.", code="refresh_token_revoked"
        )

    async def logout(self, principal: Principal, family_id: uuid.UUID) -> None:
        with tenant_context(principal.tenant_id):
            async with self.db.transaction() as session:
                await self._revoke_family(session, family_id, principal.user_id)
                await audit.record(
                    session, "auth.logout", entity_type="memberships", entity_id=principal.membership_id
                )

    async def _revoke_family(
        self, session: AsyncSession, family_id: uuid.UUID, user_id: uuid.UUID | None = None
    ) -> None:
        stmt = update(RefreshToken).where(
            RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None)
        )
        if user_id is not None:
            stmt = stmt.where(RefreshToken.user_id == user_id)
        await session.execute(stmt.values(revoked_at=utcnow()))

    async def _check_otp(self, user: User, otp: str | None) -> bool:
        if not otp:
            raise Unauthorized(
                "Enter the code from your authenticator app.", code="otp_required", field="otp"
            )
        return two_factor.verify(user, otp)

    async def _pick_membership(
        self, session: AsyncSession, user_id: uuid.UUID, tenant_ref: str | None
    ) -> tuple[Tenant, Membership]:
        await set_rls_user(session, user_id)
        rows = (
            await session.execute(
                select(Tenant, Membership)
                .join(Membership, Membership.tenant_id == Tenant.id)
                .where(Membership.user_id == user_id, Membership.is_active.is_(True))
                .order_by(Tenant.name)
                .execution_options(**ALL_TENANTS)
            )
        ).all()
        if not rows:
            raise Unauthorized("This account does not belong to any business.", code="no_membership")
        if tenant_ref is None:
            if len(rows) == 1:
                first_tenant, first_membership = rows[0]
                return first_tenant, first_membership
            raise Invalid(
                "This account belongs to several businesses; choose one.",
                field="tenant",
                code="tenant_required",
            )
        for row in rows:
            tenant = row[0]
            if tenant_ref in (str(tenant.id), tenant.slug):
                return tenant, row[1]
        raise Invalid("You are not a member of that business.", field="tenant", code="not_a_member")

    async def _issue_in_tenant(
        self, user: User, tenant_id: uuid.UUID, membership_id: uuid.UUID, action: str
    ) -> TokenPair:
        with tenant_context(tenant_id):
            async with self.db.transaction() as session:
                await audit.record(
                    session,
                    action,
                    entity_type="memberships",
                    entity_id=membership_id,
                    context=current_audit_context().with_actor(ActorType.USER, user.id),
                )
                return await self._issue(session, user.id, tenant_id, membership_id, None)

    async def issue(
        self, session: AsyncSession, user_id: uuid.UUID, tenant_id: uuid.UUID, membership_id: uuid.UUID
    ) -> TokenPair:
        """Issue a new token pair inside the caller's transaction (signup, invitations)."""
        return await self._issue(session, user_id, tenant_id, membership_id, None)

    async def _issue(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID,
        membership_id: uuid.UUID,
        family_id: uuid.UUID | None,
    ) -> TokenPair:
        family_id = family_id or uuid.uuid4()
        row = RefreshToken(
            user_id=user_id,
            family_id=family_id,
            expires_at=utcnow() + timedelta(seconds=self.policy.refresh_ttl),
        )
        session.add(row)
        await session.flush()
        common = {
            "sub": str(user_id),
            "tid": str(tenant_id),
            "mid": str(membership_id),
            "fam": str(family_id),
        }
        return TokenPair(
            access_token=self.signer.sign("access", common, self.policy.access_ttl),
            refresh_token=self.signer.sign(
                "refresh", {**common, "jti": str(row.id)}, self.policy.refresh_ttl
            ),
            tenant_id=tenant_id,
            expires_in=self.policy.access_ttl,
        )

    async def principal_for_access_token(self, session: AsyncSession, claims: dict[str, Any]) -> Principal:
        """Resolve verified access-token claims inside a transaction in the token's tenant."""
        user_id, family_id = uuid.UUID(claims["sub"]), uuid.UUID(claims["fam"])
        return await load_member_principal(session, user_id, signed_in_as=family_id)


async def _record_failed_login(session: AsyncSession, user: User, tenant_ref: str | None) -> None:
    """A failed sign-in to an existing account goes into the log of each business it belongs
    to (or of the one it asked for). The caller's answer is the same as for an unknown email."""
    await set_rls_user(session, user.id)
    rows = (
        await session.execute(
            select(Tenant.id, Tenant.slug, Membership.id)
            .join(Membership, Membership.tenant_id == Tenant.id)
            .where(Membership.user_id == user.id)
            .execution_options(**ALL_TENANTS)
        )
    ).all()
    if tenant_ref is not None and any(tenant_ref in (str(r[0]), r[1]) for r in rows):
        rows = [r for r in rows if tenant_ref in (str(r[0]), r[1])]
    context = current_audit_context().with_actor(ActorType.USER, user.id)
    for tenant_id, _, membership_id in rows:
        await audit.record(
            session,
            "auth.login_failed",
            entity_type="memberships",
            entity_id=membership_id,
            tenant_id=tenant_id,
            context=context,
        )


async def _active_membership(session: AsyncSession, user_id: uuid.UUID) -> Membership | None:
    return await session.scalar(
        select(Membership).where(Membership.user_id == user_id, Membership.is_active.is_(True))
    )


@functools.cache
def _principal_query() -> Select[*tuple[Any, ...]]:
    """The query behind every authenticated request, built once: building it cost more than
    running it. Its tenant is written out (the current one, as a parameter), so it runs
    without the ORM's tenant filter, which would make a new statement of it each time; RLS
    still applies on PostgreSQL. A null ``family_id`` (no sign-in to check) matches nothing."""
    tenant_id = bindparam("tenant_id", type_=Uuid())
    signed_out = (
        select(RefreshToken.id)
        .where(
            RefreshToken.tenant_id == tenant_id,
            RefreshToken.family_id == bindparam("family_id", type_=Uuid()),
            RefreshToken.revoked_at.is_not(None),
        )
        .exists()
    )
    return (
        select(
            Membership.id,
            Membership.team_id,
            Membership.is_active,
            Tenant.id.label("tenant_id"),
            Tenant.status,
            Tenant.status_reason,
            Tenant.require_two_factor,
            User.is_active.label("user_active"),
            User.totp_enabled,
            Role.grants,
            signed_out.label("signed_out"),
            key_fingerprint(Membership.tenant_id).label("key_fingerprint"),
        )
        .join(Tenant, Tenant.id == Membership.tenant_id)
        .join(User, User.id == Membership.user_id)
        .outerjoin(
            MembershipRole,
            (MembershipRole.membership_id == Membership.id)
            & (MembershipRole.tenant_id == Membership.tenant_id),
        )
        .outerjoin(Role, (Role.id == MembershipRole.role_id) & (Role.tenant_id == MembershipRole.tenant_id))
        .where(Membership.tenant_id == tenant_id, Membership.user_id == bindparam("user_id", type_=Uuid()))
        .execution_options(**ALL_TENANTS)
    )


async def load_member_principal(
    session: AsyncSession, user_id: uuid.UUID, *, signed_in_as: uuid.UUID | None = None
) -> Principal:
    """The effective grants of ``user_id`` in the current tenant (union of their roles).

    With ``signed_in_as`` (a refresh-token family), a signed-out session is refused too. One
    query (a row per role) answers it all, of columns rather than entities (no identity map,
    no load events): this runs on every authenticated request.
    """
    parameters = {"tenant_id": current_tenant_id(), "user_id": user_id, "family_id": signed_in_as}
    rows = (await session.execute(_principal_query(), parameters)).all()
    if rows and rows[0].signed_out:
        raise Unauthorized("The session was signed out.", code="invalid_token")
    if not rows or not rows[0].is_active or not rows[0].user_active:
        raise Unauthorized("The token is invalid or expired.", code="invalid_token")
    first = rows[0]
    # The request's later reads of encrypted values need the tenant's keys: a process that
    # holds them under this fingerprint skips reading them again.
    adopt_fingerprint(session.sync_session, first.tenant_id, first.key_fingerprint)
    grants: dict[str, str] = {}
    for row in rows:
        for name, scope in (row.grants or {}).items():
            grants[name] = widest(grants.get(name, scope), scope)
    return Principal(
        kind="user",
        tenant_id=first.tenant_id,
        grants=grants,
        user_id=user_id,
        membership_id=first.id,
        team_id=first.team_id,
        tenant_status=first.status,
        tenant_status_reason=first.status_reason,
        two_factor_setup_required=first.require_two_factor and not first.totp_enabled,
    )


async def tenant_choices(session: AsyncSession, user_id: uuid.UUID) -> list[TenantChoice]:
    await set_rls_user(session, user_id)
    rows = await session.execute(
        select(Tenant.id, Tenant.slug, Tenant.name)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id, or_(Membership.is_active.is_(True)))
        .order_by(Tenant.name)
        .execution_options(**ALL_TENANTS)
    )
    return [TenantChoice(id=r.id, slug=r.slug, name=r.name) for r in rows]
