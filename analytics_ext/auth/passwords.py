"""Passwords of team-server accounts: the policy a new password must meet, and argon2id hashing.

Two halves, both used by login, registration and password reset:

- :func:`check_password_policy` refuses passwords that are too short, too long, among the most
  common ones, trivially patterned, or the same as the account's username or email. It raises
  :class:`~analytics_ext.errors.Invalid` on the field ``password`` with a reason the person can
  act on, and never repeats the password in it (messages end up in logs and screenshots).
- :class:`PasswordHasher` hashes and verifies with argon2id **in one low-priority worker
  process**. Argon2 is deliberately expensive; on these two-core machines, hashing on the event
  loop or in threads let four simultaneous logins raise every other request's p99 6-25x
  (TOOLCHAIN.md). One worker process at ``nice`` +10 with parallelism 1 keeps the server's own
  process responsive: concurrent logins queue behind each other instead of competing with
  everything else.

Passwords are normalised to Unicode NFKC before they are measured or hashed (as NIST SP 800-63B
advises), so the same password typed on two keyboards that produce different code points for it
still verifies. They are never truncated: argon2 hashes every UTF-8 byte, and the policy caps the
length instead.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
import multiprocessing
import os
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from importlib import resources
from typing import ParamSpec, TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import Invalid, Unavailable

P = ParamSpec("P")
T = TypeVar("T")

MIN_PASSWORD_LENGTH = 8
"""Fewest characters (NFKC code points) a password may have; NIST SP 800-63B's minimum."""

MAX_PASSWORD_LENGTH = 1024
"""Most characters a password may have: long passphrases welcome, megabyte bodies are not."""

COMMON_PASSWORDS_RESOURCE = ("data", "common-passwords.txt")
"""Where the shipped common-password list lives, relative to this package (see its header)."""

COMMON_PASSWORDS_SOURCE_SIZE = "30,000"
"""How many top passwords the shipped list was cut from, for the refusal message."""

# OWASP's minimum argon2id configuration (Password Storage Cheat Sheet): 19 MiB, 2 passes, 1 lane.
# One worker serialises every hash on the server, so the cost of one hash sets both the login
# throughput (about 40 per second on a two-core machine, ~23 ms each) and how long the last of a
# burst of logins waits. The OWASP minimum keeps that short while staying memory-hard against
# GPU cracking of a stolen store; raise it with the constructor arguments, and ``needs_rehash``
# upgrades each stored hash at its owner's next login.
DEFAULT_MEMORY_COST_KIB = 19_456
DEFAULT_TIME_COST = 2
DEFAULT_PARALLELISM = 1
DEFAULT_WORKER_NICENESS = 10
DEFAULT_MAX_PENDING = 64

# A stored hash asking for more than this is treated as corrupt rather than run: a tampered row
# must not be able to make the worker allocate unbounded memory or spin for minutes.
_MAX_STORED_MEMORY_COST_KIB = 1 << 20  # 1 GiB
_MAX_STORED_TIME_COST = 16
_MAX_STORED_PARALLELISM = 16

_FIELD = "password"  # the input field every refusal names


# --- policy ------------------------------------------------------------------------------------


def normalize_password(password: str) -> str:
    """The form of ``password`` that is measured and hashed: Unicode NFKC, nothing removed."""
    return unicodedata.normalize("NFKC", password)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped common-password list, read once from the package (works from a wheel or zip).

    Entries are NFKC-normalised and lowercase, so a case-folded password can be looked up as is.
    """
    resource = resources.files(__package__).joinpath(*COMMON_PASSWORDS_RESOURCE)
    text = resource.read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def check_password_policy(
    password: str, *, username: str | None = None, email: str | None = None
) -> None:
    """Refuse a new password that is easy to guess, with a reason the person can act on.

    Rules, checked in this order on the NFKC form: 8 to 1024 characters; not the username, the
    email address or its local part (case-insensitive); not one of the most common passwords
    (case-insensitive); not one short block repeated or a straight run such as ``abcdefgh``
    (the shipped list leaves those out, because its source detects them by pattern instead).
    No composition rules (digits, symbols): they make passwords harder to remember, not to guess.

    Raises:
        Invalid: on the field ``password``; the message never contains the password.
    """
    if not _is_valid_text(password):
        raise Invalid(_FIELD, "contains characters that are not valid Unicode text")
    normalized = normalize_password(password)
    length = len(normalized)
    if length < MIN_PASSWORD_LENGTH:
        raise Invalid(_FIELD, f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if length > MAX_PASSWORD_LENGTH:
        raise Invalid(_FIELD, f"must be at most {MAX_PASSWORD_LENGTH:,} characters long")

    folded = normalized.casefold()
    if username and folded == _fold(username):
        raise Invalid(_FIELD, "must not be the same as your username")
    if email:
        local_part, at, _domain = email.rpartition("@")
        if folded == _fold(email):
            raise Invalid(_FIELD, "must not be the same as your email address")
        if at and local_part and folded == _fold(local_part):
            raise Invalid(_FIELD, "must not be the same as the name part of your email address")
    if folded in common_passwords():
        raise Invalid(
            _FIELD,
            f"is one of the {COMMON_PASSWORDS_SOURCE_SIZE} most common passwords and would be "
            "guessed quickly; choose something less predictable, such as several unrelated words",
        )
    if _is_trivial_pattern(folded):
        raise Invalid(
            _FIELD,
            "is only one character or a short group repeated, or a run of consecutive letters "
            "or digits, and would be guessed quickly; choose something less predictable",
        )


def _fold(text: str) -> str:
    return normalize_password(text).casefold()


def _is_valid_text(password: str) -> bool:
    """False for strings UTF-8 cannot encode (lone surrogates, which JSON can carry)."""
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_trivial_pattern(folded: str) -> bool:
    """``aaaaaaaa``, ``12121212``, ``abcabcab``, ``abcdefgh``, ``87654321`` and the like."""
    length = len(folded)
    for block in range(1, 5):
        if (folded[:block] * (length // block + 1))[:length] == folded:
            return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(folded)}
    return steps in ({1}, {-1})


# --- hashing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerStatus:
    """What the hashing worker reports about itself: its process id and its niceness."""

    pid: int
    niceness: int


class PasswordHasher:
    """argon2id hashing and verification in one lazily started, low-priority worker process.

    Use one instance per server and call :meth:`close` when the server stops. All coroutines
    may be awaited concurrently from the event loop; the work queues for the single worker, so
    the server process never spends a core on argon2.

    The worker is started with ``spawn`` (never ``fork``: the server is multi-threaded, and a
    forked child could inherit a lock some other thread held). A spawned child re-imports the
    parent's main script, which under ``jupyter lab`` imports JupyterLab: the worker took 2.5 s to
    start and ~100 MB here (0.1 s and ~45 MB under a bare script). That happens outside the event
    loop, but the first login would wait for it, so await :meth:`worker_status` when the server
    starts. If the worker dies, the next call starts a new one. After :meth:`close`, the next call
    starts a new worker too, so ``close`` is safe to call at any time.

    Args:
        memory_cost: argon2 memory in KiB (default 19456 = 19 MiB, OWASP's minimum).
        time_cost: argon2 passes (default 2).
        parallelism: argon2 lanes (default 1: one core, matching the one worker).
        niceness: added to the worker's niceness, so the scheduler favours the server.
        max_pending: calls allowed to wait for the worker at once; beyond that they raise
            :class:`~analytics_ext.errors.Unavailable` (503) at once rather than queue for
            seconds. ``None`` for no limit.
    """

    def __init__(
        self,
        *,
        memory_cost: int = DEFAULT_MEMORY_COST_KIB,
        time_cost: int = DEFAULT_TIME_COST,
        parallelism: int = DEFAULT_PARALLELISM,
        niceness: int = DEFAULT_WORKER_NICENESS,
        max_pending: int | None = DEFAULT_MAX_PENDING,
    ) -> None:
        self.parameters = argon2.Parameters(
            type=argon2.Type.ID,
            version=argon2.low_level.ARGON2_VERSION,
            salt_len=argon2.DEFAULT_RANDOM_SALT_LENGTH,
            hash_len=argon2.DEFAULT_HASH_LENGTH,
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
        )
        # Fails here, in the server process, on parameters argon2 would refuse.
        self._argon2 = argon2.PasswordHasher.from_parameters(self.parameters)
        self.niceness = niceness
        self.max_pending = max_pending
        self._dummy_hash = _unmatchable_hash(self.parameters)
        self._executor: ProcessPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._pending = 0

    async def hash(self, password: str) -> str:
        """The encoded argon2id hash of ``password`` (NFKC), with a fresh random salt.

        Check :func:`check_password_policy` first; this only refuses what cannot be hashed
        faithfully (invalid Unicode, more than ``MAX_PASSWORD_LENGTH`` characters).

        Raises:
            Invalid: the password cannot be hashed as given.
            Unavailable: too many password operations are waiting, or the worker cannot start.
        """
        if not _is_valid_text(password):
            raise Invalid(_FIELD, "contains characters that are not valid Unicode text")
        secret = normalize_password(password)
        if len(secret) > MAX_PASSWORD_LENGTH:
            raise Invalid(_FIELD, f"must be at most {MAX_PASSWORD_LENGTH:,} characters long")
        return await self._run(_hash_in_worker, self.parameters, secret.encode("utf-8"))

    async def verify(self, stored_hash: str, password: str) -> bool:
        """Whether ``password`` matches ``stored_hash``.

        False, never an exception, for a wrong password, a password no policy could have
        accepted, and a stored hash that is malformed, not argon2, or absurdly expensive.

        Raises:
            Unavailable: too many password operations are waiting, or the worker cannot start.
        """
        secret = self._verifiable(password)
        if secret is None or not self._plausible(stored_hash):
            return False
        return await self._run(_verify_in_worker, stored_hash, secret)

    async def verify_dummy(self, password: str) -> bool:
        """Spend what :meth:`verify` spends, for a login naming an account that does not exist.

        It verifies ``password`` against a hash with the current parameters that matches no
        password, through the same queue, so a login answers in about the same time whether or
        not the account exists. Always returns False.
        """
        secret = self._verifiable(password)
        if secret is None:
            return False
        await self._run(_verify_in_worker, self._dummy_hash, secret)
        return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether ``stored_hash`` was made with other parameters than this hasher's.

        Call it after a successful :meth:`verify` and store :meth:`hash` of the password if so:
        that is how raised (or deliberately lowered) parameters and other argon2 variants reach
        existing accounts. A malformed hash needs replacing too. Cheap: no hashing, no worker.
        """
        if not isinstance(stored_hash, str):
            return True
        try:
            return self._argon2.check_needs_rehash(stored_hash)
        except (InvalidHashError, ValueError):
            return True

    async def worker_status(self) -> WorkerStatus:
        """The worker's pid and niceness, starting it if needed (a warm-up at server start)."""
        return await self._run(_worker_status)

    def close(self) -> None:
        """Stop the worker process: cancel queued work, wait for the running hash, reap it.

        Blocks for at most one hash. Idempotent; a later call on this hasher starts a new worker.
        """
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    # --- internals ---

    @staticmethod
    def _verifiable(password: str) -> bytes | None:
        """The bytes to verify, or None when no stored hash can match this password."""
        if not isinstance(password, str) or not _is_valid_text(password):
            return None
        secret = normalize_password(password)
        if len(secret) > MAX_PASSWORD_LENGTH:
            return None
        return secret.encode("utf-8")

    @staticmethod
    def _plausible(stored_hash: str) -> bool:
        """Whether ``stored_hash`` parses as argon2 with parameters worth running."""
        if not isinstance(stored_hash, str):
            return False
        try:
            parameters = argon2.extract_parameters(stored_hash)
        except (InvalidHashError, ValueError):
            return False
        return (
            1 <= parameters.time_cost <= _MAX_STORED_TIME_COST
            and 1 <= parameters.parallelism <= _MAX_STORED_PARALLELISM
            and 8 * parameters.parallelism <= parameters.memory_cost <= _MAX_STORED_MEMORY_COST_KIB
        )

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` in the worker; restart a worker that died, once, then give up with 503."""
        if self.max_pending is not None and self._pending >= self.max_pending:
            raise Unavailable("too many password checks are waiting; try again in a moment")
        self._pending += 1
        try:
            for _attempt in range(2):
                executor = self._get_executor()
                try:
                    future = executor.submit(fn, *args, **kwargs)
                    return await asyncio.wrap_future(future, loop=asyncio.get_running_loop())
                except BrokenProcessPool:
                    # The worker died (killed, out of memory): start a fresh one and retry once.
                    self._discard(executor)
            raise Unavailable("password checking is unavailable; try again shortly")
        finally:
            self._pending -= 1

    def _get_executor(self) -> ProcessPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker,
                    initargs=(self.niceness,),
                )
            return self._executor

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        with self._executor_lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)


def _unmatchable_hash(parameters: argon2.Parameters) -> str:
    """An encoded argon2id hash with ``parameters``, a random salt and a random tag.

    Verifying any password against it costs exactly one argon2 computation with those
    parameters and fails (a match would need a 256-bit collision). No hashing needed to make it.
    """

    def b64(nbytes: int) -> str:
        return base64.b64encode(os.urandom(nbytes)).decode("ascii").rstrip("=")

    return (
        f"$argon2id$v={parameters.version}"
        f"$m={parameters.memory_cost},t={parameters.time_cost},p={parameters.parallelism}"
        f"${b64(parameters.salt_len)}${b64(parameters.hash_len)}"
    )


# --- worker process (module-level so they pickle by reference) ---------------------------------


def _init_worker(niceness: int) -> None:
    """Lower the worker's priority: under load the scheduler serves the server first."""
    if niceness and hasattr(os, "nice"):  # os.nice does not exist on Windows
        os.nice(niceness)


def _hash_in_worker(parameters: argon2.Parameters, secret: bytes) -> str:
    return argon2.PasswordHasher.from_parameters(parameters).hash(secret)


def _verify_in_worker(stored_hash: str, secret: bytes) -> bool:
    try:
        return argon2.PasswordHasher().verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def _worker_status() -> WorkerStatus:
    niceness = os.nice(0) if hasattr(os, "nice") else 0
    return WorkerStatus(pid=os.getpid(), niceness=niceness)
