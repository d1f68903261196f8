"""Accounts: one per person, found by normalized email."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.errors import Conflict, Invalid
from core.security.models import User
from core.security.passwords import check_password_policy, hash_password

__all__ = ["create_account", "find_by_email", "normalize_email", "validated_email"]


def normalize_email(email: str) -> str:
    return email.strip().lower()


def validated_email(email: str, field: str = "email") -> str:
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid(f"Not a valid email address: {exc}", field=field, code="invalid_email") from exc
    return normalize_email(result.normalized)


async def find_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


async def create_account(
    session: AsyncSession,
    *,
    email: str,
    full_name: str,
    password: str,
    min_password_length: int,
    locale: str = "zh-CN",
) -> User:
    """Create an account. Raises :class:`Conflict` if the email is taken."""
    email = validated_email(email)
    if not full_name.strip():
        raise Invalid("Name must not be empty.", field="full_name", code="required")
    check_password_policy(password, min_length=min_password_length, email=email)
    if await find_by_email(session, email) is not None:
        raise Conflict(
            "An account with this email already exists; sign in instead.", field="email", code="email_taken"
        )
    user = User(
        email=email, full_name=full_name.strip(), password_hash=await hash_password(password), locale=locale
    )
    session.add(user)
    await session.flush()
    return user
