"""Each kernel the server starts learns where the server is and gets a token for its user.

The token (``services.kernel_tokens``) is written into the kernel's environment as
``ANALYTICS_EXT_TOKEN`` next to ``ANALYTICS_EXT_URL``, so ``analytics_ext.client`` connects with
no arguments. It belongs to whoever's request started the kernel (read from jupyter_server's
``CallContext``, which holds the handler of the request being served), is revoked when the
kernel shuts down, and every token this process issued is revoked when the server stops.

The kernel manager is wrapped on the instance, not subclassed, so a deployment's own kernel
manager class (a gateway, a pending-kernels setup) keeps working.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

from jupyter_server.base.call_context import CallContext

from ..services import Services
from .identity import AnalyticsUser

ENV_URL = "ANALYTICS_EXT_URL"
ENV_TOKEN = "ANALYTICS_EXT_TOKEN"  # noqa: S105 -- the variable's name, not a secret

log = logging.getLogger(__name__)


class KernelCredentials:
    """Wraps a kernel manager's ``start_kernel`` and ``shutdown_kernel``."""

    def __init__(self, kernel_manager: Any, services: Services, server_url: str) -> None:
        self._km = kernel_manager
        self._services = services
        self._server_url = server_url
        self._issued: set[str] = set()
        """Kernels this process gave a token to (revoked at stop)."""

    def install(self) -> None:
        start, shutdown = self._km.start_kernel, self._km.shutdown_kernel

        async def start_kernel(*args: Any, **kwargs: Any) -> str:
            kernel_id = kwargs.get("kernel_id")
            if kernel_id is not None and kernel_id in self._km:
                return await start(*args, **kwargs)  # an existing kernel: nothing starts
            user_id = await self._requesting_user()
            if user_id is None:
                return await start(*args, **kwargs)
            kernel_id = kernel_id or str(uuid.uuid4())
            token = await self._services.run(self._services.kernel_tokens.issue, user_id, kernel_id)
            env = dict(kwargs.get("env") or os.environ)
            env.update({ENV_URL: self._server_url, ENV_TOKEN: token})
            kwargs.update(kernel_id=kernel_id, env=env)
            try:
                started = await start(*args, **kwargs)
            except BaseException:
                await self._revoke(kernel_id)
                raise
            self._issued.add(started)
            return started

        async def shutdown_kernel(kernel_id: str, now: bool = False, restart: bool = False) -> Any:
            try:
                return await shutdown(kernel_id, now=now, restart=restart)
            finally:
                if not restart:  # a restarted kernel keeps its environment, and its token
                    self._issued.discard(kernel_id)
                    await self._revoke(kernel_id)

        self._km.start_kernel = start_kernel
        self._km.shutdown_kernel = shutdown_kernel

    async def _requesting_user(self) -> str | None:
        """The analytics account of the request starting the kernel (None outside a request,
        or for a share-link guest, which cannot start kernels anyway)."""
        handler = CallContext.get(CallContext.JUPYTER_HANDLER)
        user = getattr(handler, "current_user", None) if handler is not None else None
        if isinstance(user, AnalyticsUser):
            return user.user_id if user.user_id and user.share_link is None else None
        if user is None or not getattr(user, "username", None):
            return None
        # Another IdentityProvider's user (JupyterHub): the account of the same username.
        hub_user = getattr(user, "hub_user", None)
        is_admin = bool(hub_user.get("admin")) if isinstance(hub_user, dict) else False
        account = await self._services.run(
            self._services.users.ensure_external,
            user.username,
            getattr(user, "display_name", "") or user.username,
            is_admin,
        )
        return account.id

    async def _revoke(self, kernel_id: str) -> None:
        try:
            await self._services.run(self._services.kernel_tokens.revoke_kernel, kernel_id)
        except Exception:
            log.exception("could not revoke the analytics token of kernel %s", kernel_id)

    def revoke_all(self) -> None:
        """Revoke every token this process issued (the server is stopping; blocking)."""
        issued, self._issued = list(self._issued), set()
        try:
            self._services.kernel_tokens.revoke_kernels(issued)
        except Exception:
            log.exception("could not revoke the analytics tokens of %d kernels", len(issued))
