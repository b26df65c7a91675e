"""Which viewer each dashboard kernel was served to, so only they can talk to it.

The Voila process trusts whatever the Jupyter server forwards with a viewer pass; it does not
know which browser a kernel's page went to. The proxy (``dashboards.proxy``) learns each kernel
id from the page it streams to a viewer and records a *lease* here: kernel id → (viewer's actor
id, dashboard id). Every later request naming that kernel (its websocket, its model, its
shutdown) is forwarded only for the same actor; anyone else gets 404, as if it did not exist.

A lease ends, and the proxy then shuts its kernel down, when:

- the page was served but no socket connected within ``connect_window`` (a script fetching
  pages would otherwise pin one kernel per request);
- the last socket closed and none reconnected within ``reconnect_grace`` (JupyterLab's kernel
  connection reconnects by itself after a network blip, so this is not immediate);
- the viewer's page shut the kernel down (Voila's ``beforeunload`` beacon);
- ``lifetime`` passed (the dashboard kernel's token lasts that long, so the kernel could not
  load data after it anyway).

It also remembers which actors were recently served a dashboard page: Voila's static assets
are forwarded only to them (a "viewer session"), so the route is no open door to the Voila
process for every account on the server.

All of it is in memory, on the event loop thread, per server process: a kernel belongs to the
Voila process this server supervises, which no other server process talks to.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

CONNECT_WINDOW_SECONDS = 120.0
RECONNECT_GRACE_SECONDS = 30.0


@dataclass
class KernelLease:
    """A dashboard kernel and the one viewer it was served to."""

    kernel_id: str
    actor_id: str
    dashboard_id: str
    ends_at: float
    """The hard end (monotonic clock): the dashboard kernel lifetime."""
    idle_until: float | None = None
    """When no socket is connected: the moment the lease ends unless one connects."""
    sockets: int = 0
    page_done: bool = False


@dataclass
class ViewerRegistry:
    """Kernel leases and recent viewers; ``on_expire`` hears of each lease that ends by time."""

    lifetime: float
    connect_window: float = CONNECT_WINDOW_SECONDS
    reconnect_grace: float = RECONNECT_GRACE_SECONDS
    on_expire: Callable[[KernelLease], None] | None = None
    clock: Callable[[], float] = time.monotonic
    _leases: dict[str, KernelLease] = field(default_factory=dict)
    _viewers: dict[str, float] = field(default_factory=dict)

    # -- viewer sessions ------------------------------------------------------------------------

    def saw_viewer(self, actor_id: str) -> None:
        """``actor_id`` passed the access check for a dashboard page just now."""
        self._viewers[actor_id] = self.clock() + self.lifetime

    def has_viewer_session(self, actor_id: str) -> bool:
        self.sweep()
        return actor_id in self._viewers

    def end_leases(self, actor_id: str, dashboard_id: str) -> None:
        """End ``actor_id``'s leases of ``dashboard_id`` (their access ended): ``on_expire``
        shuts those kernels down."""
        for lease in list(self._leases.values()):
            if lease.actor_id == actor_id and lease.dashboard_id == dashboard_id:
                self._expire(lease)

    # -- kernel leases --------------------------------------------------------------------------

    def lease(self, kernel_id: str, actor_id: str, dashboard_id: str) -> bool:
        """Tie ``kernel_id`` to ``actor_id``; False if it already belongs to someone else (a
        kernel is served once, so that would be a page claiming another viewer's kernel)."""
        self.sweep()
        held = self._leases.get(kernel_id)
        if held is not None:
            return held.actor_id == actor_id and held.dashboard_id == dashboard_id
        self._leases[kernel_id] = KernelLease(
            kernel_id, actor_id, dashboard_id, ends_at=self.clock() + self.lifetime
        )
        return True

    def holder(self, kernel_id: str) -> KernelLease | None:
        """The live lease of ``kernel_id``, if any."""
        self.sweep()
        return self._leases.get(kernel_id)

    def leases(self) -> list[KernelLease]:
        self.sweep()
        return list(self._leases.values())

    def page_finished(self, kernel_id: str) -> None:
        """The page naming ``kernel_id`` has been sent (or abandoned): its browser has
        ``connect_window`` to connect."""
        lease = self._leases.get(kernel_id)
        if lease is not None:
            lease.page_done = True
            if lease.sockets == 0:
                lease.idle_until = self.clock() + self.connect_window

    def socket_opened(self, kernel_id: str) -> None:
        lease = self._leases.get(kernel_id)
        if lease is not None:
            lease.sockets += 1
            lease.idle_until = None

    def socket_closed(self, kernel_id: str) -> None:
        lease = self._leases.get(kernel_id)
        if lease is not None:
            lease.sockets = max(0, lease.sockets - 1)
            if lease.sockets == 0:
                lease.idle_until = self.clock() + self.reconnect_grace

    def release(self, kernel_id: str) -> KernelLease | None:
        """End the lease now (its kernel was shut down); no ``on_expire``."""
        return self._leases.pop(kernel_id, None)

    def sweep(self) -> None:
        """End leases and viewer sessions whose time is up."""
        now = self.clock()
        for actor_id, until in list(self._viewers.items()):
            if until <= now:
                del self._viewers[actor_id]
        for lease in list(self._leases.values()):
            if lease.ends_at <= now or (lease.idle_until is not None and lease.idle_until <= now):
                self._expire(lease)

    def _expire(self, lease: KernelLease) -> None:
        if self._leases.pop(lease.kernel_id, None) is not None and self.on_expire is not None:
            self.on_expire(lease)
