"""Client calls off the kernel's event loop, for widget callbacks.

A button's callback runs on the kernel's own loop: a blocking call there (a query that runs for a
minute, a server that does not answer) freezes the kernel, and the Cancel button with it. So a
widget hands each blocking piece of work to ``Background.start``, which runs it in a daemon
thread and passes its result or exception to callbacks, called in that thread (ipywidgets
sends trait changes from any thread).

The whole API, for every widget of this package::

    background = Background(timeout=60)
    job = background.start(work, on_result=show, on_error=fail, key="page")
    job.cancel()              # work sees it at its next job.check() / job.sleep()
    background.join(10)       # wait until no job is left (tests, close)

``work(job)`` is cooperative: between steps it calls ``job.check()`` or ``job.sleep(s)``, which
raise ``JobCancelled`` once the job is cancelled and ``JobTimeout`` (a ``JobCancelled``) past
its deadline, so it can stop its query on the server before it ends. Each HTTP request is itself
bounded by the client's timeout, so no job outlives ``timeout`` by more than one request.

``key`` makes jobs supersede each other: starting a job cancels the running job of the same key
and drops its late result (a page asked for after another shows only the last one). A job that
was superseded calls neither callback; one cancelled by ``cancel`` calls ``on_error`` with
``JobCancelled``, so the widget can say so. ``describe_error`` turns any failure into the one
line a widget shows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ..client.errors import (
    AnalyticsError,
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    QueryCancelled,
    QueryFailed,
    RateLimited,
    ServerUnreachable,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_TIMEOUT = 600.0
"""The longest any one job may run (a query's run included), in seconds."""


class JobCancelled(Exception):
    """The job was cancelled (by the user, or by a newer job of the same key)."""


class JobTimeout(JobCancelled):
    """The job ran past its deadline."""


class Job(Generic[T]):
    """One piece of work in its own thread: cancel it, wait for it, read what it gave."""

    def __init__(self, name: str, timeout: float | None) -> None:
        self.name = name
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.result: T | None = None
        self.error: BaseException | None = None
        self.superseded = False
        """A newer job of the same key replaced this one: its outcome is dropped."""
        self._cancel = threading.Event()
        self._done = threading.Event()
        self.thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "done" if self.done else "cancelled" if self.cancelled else "running"
        return f"<Job {self.name} {state}>"

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def cancel(self) -> None:
        """Ask the work to stop at its next ``check`` or ``sleep``."""
        self._cancel.set()

    def check(self) -> None:
        """Raise ``JobCancelled`` if cancelled, ``JobTimeout`` if past the deadline."""
        if self._cancel.is_set():
            raise JobCancelled(f"{self.name} was cancelled")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise JobTimeout(f"{self.name} timed out after {self.timeout:g} s")

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (less if the deadline comes first), waking at once on cancel."""
        if self.deadline is not None:
            seconds = max(0.0, min(seconds, self.deadline - time.monotonic()))
        self._cancel.wait(seconds)
        self.check()

    def wait(self, timeout: float | None = None) -> bool:
        """Until the job (and its callbacks) finished; False if ``timeout`` came first."""
        return self._done.wait(timeout)


class Background:
    """The threads of one widget's jobs (see the module docstring)."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._jobs: set[Job[Any]] = set()
        self._keyed: dict[str, Job[Any]] = {}

    def start(
        self,
        work: Callable[[Job[T]], T],
        *,
        on_result: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        key: str | None = None,
        timeout: float | None = None,
        name: str | None = None,
    ) -> Job[T]:
        """Run ``work(job)`` in a thread; ``timeout`` defaults to the Background's own."""
        job: Job[T] = Job(name or key or getattr(work, "__name__", "job"), timeout or self.timeout)
        with self._lock:
            if key is not None:
                previous = self._keyed.get(key)
                if previous is not None and not previous.done:
                    previous.superseded = True
                    previous.cancel()
                self._keyed[key] = job
            self._jobs.add(job)
        thread = threading.Thread(
            target=self._run, args=(job, work, on_result, on_error), daemon=True,
            name=f"analytics-widget-{job.name}",
        )  # fmt: skip
        job.thread = thread
        thread.start()
        return job

    def _run(
        self,
        job: Job[T],
        work: Callable[[Job[T]], T],
        on_result: Callable[[T], None] | None,
        on_error: Callable[[BaseException], None] | None,
    ) -> None:
        try:
            try:
                job.result = work(job)
                if job.cancelled and not job.superseded:
                    job.check()  # cancelled after its last step: still a cancel, not a result
            except Exception as error:  # every failure goes to on_error
                job.error = error
            if job.superseded:
                return
            if job.error is None:
                if on_result is not None:
                    on_result(job.result)  # type: ignore[arg-type]
            elif on_error is not None:
                on_error(job.error)
            elif not isinstance(job.error, JobCancelled):
                log.error("widget job %s failed: %s", job.name, describe_error(job.error))
        except Exception:
            log.exception("a callback of widget job %s failed", job.name)
        finally:
            with self._lock:
                self._jobs.discard(job)
            job._done.set()

    @property
    def active(self) -> list[Job[Any]]:
        """Jobs whose thread has not finished yet."""
        with self._lock:
            return [job for job in self._jobs if not job.done]

    def running(self, key: str) -> Job[Any] | None:
        """The unfinished job of ``key``, if any."""
        with self._lock:
            job = self._keyed.get(key)
        return job if job is not None and not job.done else None

    def cancel(self, key: str | None = None) -> None:
        """Cancel the job of ``key``, or every job."""
        for job in self.active:
            if key is None or self._keyed.get(key) is job:
                job.cancel()

    def join(self, timeout: float = 30.0) -> bool:
        """Wait until every job has finished (including jobs their callbacks started); False
        if some are still running after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            jobs = self.active
            if not jobs:
                return True
            for job in jobs:
                if not job.wait(max(0.0, deadline - time.monotonic())):
                    return False


def describe_error(error: BaseException) -> str:
    """The one readable line a widget shows for a failure (no traceback)."""
    message = str(getattr(error, "message", None) or error) or type(error).__name__
    if isinstance(error, JobTimeout):
        return _sentence(f"Timed out: {message}")
    if isinstance(error, JobCancelled | QueryCancelled):
        return "Cancelled."
    if isinstance(error, ServerUnreachable):
        return _sentence(message[:1].upper() + message[1:]) + " Is the server running?"
    if isinstance(error, AuthenticationFailed):
        return _sentence(f"Not signed in: the server refused this kernel's credential ({message})")
    if isinstance(error, PermissionDenied):
        return _sentence(f"Permission denied: {message}")
    if isinstance(error, NotFound):
        return _sentence(f"Not found (or not shared with you): {message}")
    if isinstance(error, RateLimited):
        wait = f" Try again in {error.retry_after:g} s." if error.retry_after else ""
        return _sentence(f"Too many requests: {message}") + wait
    if isinstance(error, QueryFailed):
        return f"The query failed: {message}"
    if isinstance(error, AnalyticsError | ValueError):  # the server's, or the form's, own words
        return message
    return f"{type(error).__name__}: {message}"


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."
