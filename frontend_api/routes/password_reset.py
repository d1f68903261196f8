"""Password reset by emailed link."""

from __future__ import annotations

from litestar import Controller, Response, post
from litestar.background_tasks import BackgroundTask
from litestar.params import JSONBody

from core.security import password_reset
from core.security.accounts import validated_email
from core.security.password_reset import PasswordResetConfirm, PasswordResetRequest, PasswordResetRequested
from frontend_api.deps import ServicesDep

__all__ = ["PasswordResetController"]


class PasswordResetController(Controller):
    path = "/api/v1/auth/password-reset"
    tags = ["auth"]

    @post("/", public=True, status_code=202, summary="Mail a password reset link")
    async def request_reset(
        self, data: JSONBody[PasswordResetRequest], services: ServicesDep
    ) -> Response[PasswordResetRequested]:
        email = validated_email(data.email)
        # The look-up and the mail run after the answer is sent: the answer, and how long it
        # takes, are the same whether or not the account exists.
        work = BackgroundTask(password_reset.request_reset, services.db, services.settings, email)
        return Response(
            PasswordResetRequested(detail=password_reset.REQUESTED), status_code=202, background=work
        )

    @post("/confirm", public=True, status_code=204, summary="Set a new password with a reset link")
    async def confirm(self, data: JSONBody[PasswordResetConfirm], services: ServicesDep) -> None:
        await password_reset.confirm_reset(
            services.db, data, min_password_length=services.settings.password_min_length
        )
