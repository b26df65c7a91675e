"""Passwords: the policy's rules, and argon2id hashing in a low-priority worker process.

Real argon2 and real worker processes throughout (no mocks); async tests run on the event loop
that pytest-jupyter's plugin provides.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
from collections.abc import Iterator
from importlib import resources

import argon2
import pytest

from analytics_ext.auth import passwords
from analytics_ext.auth.passwords import (
    DEFAULT_MEMORY_COST_KIB,
    DEFAULT_PARALLELISM,
    DEFAULT_TIME_COST,
    PasswordHasher,
    check_password_policy,
    common_passwords,
)
from analytics_ext.errors import Invalid, Unavailable

GOOD = "violet tractor umbrella 42"
ENCODED = re.compile(
    r"^\$(?P<type>argon2(?:id|i|d))\$v=(?P<v>\d+)\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<tag>[A-Za-z0-9+/]+)$"
)


@pytest.fixture(scope="module")
def hasher() -> Iterator[PasswordHasher]:
    """One hasher (one worker process) shared by the module's tests; it holds no loop state."""
    shared = PasswordHasher()
    yield shared
    shared.close()


@pytest.fixture
def own_hasher() -> Iterator[PasswordHasher]:
    """A hasher of the test's own, for tests that start, kill or close its worker."""
    fresh = PasswordHasher()
    yield fresh
    fresh.close()


def _b64_len(text: str) -> int:
    return len(base64.b64decode(text + "=" * (-len(text) % 4)))


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# --- hashing ----------------------------------------------------------------------------------


async def test_hash_then_verify_roundtrip(hasher: PasswordHasher) -> None:
    stored = await hasher.hash(GOOD)
    assert await hasher.verify(stored, GOOD) is True


async def test_wrong_password_is_false_not_an_error(hasher: PasswordHasher) -> None:
    stored = await hasher.hash(GOOD)
    assert await hasher.verify(stored, GOOD + "!") is False
    assert await hasher.verify(stored, GOOD.upper()) is False
    assert await hasher.verify(stored, "") is False


async def test_hash_is_argon2id_with_at_least_the_chosen_parameters(
    hasher: PasswordHasher,
) -> None:
    stored = await hasher.hash(GOOD)
    match = ENCODED.match(stored)
    assert match, stored
    assert match["type"] == "argon2id"
    assert int(match["v"]) == 19
    assert int(match["m"]) >= 19_456  # OWASP minimum: 19 MiB
    assert int(match["t"]) >= 2
    assert int(match["p"]) >= 1
    assert (int(match["m"]), int(match["t"]), int(match["p"])) == (
        DEFAULT_MEMORY_COST_KIB,
        DEFAULT_TIME_COST,
        DEFAULT_PARALLELISM,
    )
    assert _b64_len(match["salt"]) >= 16
    assert _b64_len(match["tag"]) >= 32
    assert GOOD not in stored
    # A fresh salt each time: the same password never hashes the same twice.
    assert await hasher.hash(GOOD) != stored


async def test_long_passwords_are_hashed_whole_not_truncated(hasher: PasswordHasher) -> None:
    longest = "correct horse " * 73 + "ab"  # 1024 characters
    assert len(longest) == passwords.MAX_PASSWORD_LENGTH
    check_password_policy(longest)
    stored = await hasher.hash(longest)
    assert await hasher.verify(stored, longest) is True
    assert await hasher.verify(stored, longest[:-1] + "c") is False
    assert await hasher.verify(stored, longest[:-1]) is False
    # Multi-byte characters: the 1024 code points are 3072 UTF-8 bytes, all of them hashed.
    wide = "€" * 1023 + "a"
    stored_wide = await hasher.hash(wide)
    assert await hasher.verify(stored_wide, wide) is True
    assert await hasher.verify(stored_wide, "€" * 1023 + "b") is False


async def test_passwords_over_the_limit_are_refused_not_truncated(hasher: PasswordHasher) -> None:
    too_long = "x" * (passwords.MAX_PASSWORD_LENGTH + 1)
    with pytest.raises(Invalid) as refused:
        await hasher.hash(too_long)
    assert refused.value.field == "password"
    stored = await hasher.hash("x" * passwords.MAX_PASSWORD_LENGTH)
    assert await hasher.verify(stored, too_long) is False


async def test_unicode_is_normalised_so_equivalent_spellings_verify(
    hasher: PasswordHasher,
) -> None:
    composed = "Caf\u00e9 au lait, s'il vous pla\u00eet"
    decomposed = "Cafe\u0301 au lait, s'il vous plai\u0302t"
    assert composed != decomposed
    stored = await hasher.hash(composed)
    assert await hasher.verify(stored, decomposed) is True


async def test_invalid_unicode_is_refused_by_hash_and_false_for_verify(
    hasher: PasswordHasher,
) -> None:
    lone_surrogate = "abc\ud800defghij"  # json.loads lets a client send this
    with pytest.raises(Invalid) as refused:
        await hasher.hash(lone_surrogate)
    assert refused.value.field == "password"
    stored = await hasher.hash(GOOD)
    assert await hasher.verify(stored, lone_surrogate) is False


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0",  # no tag
        "$argon2id$v=19$m=19456,t=2,p=1$!!!!$????",  # not base64
        "$argon2id$v=19$m=lots,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$dGFn",
        "$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$dGFndGFndGFndGFn",  # 4 TiB
        "$argon2id$v=19$m=19456,t=100000,p=1$c2FsdHNhbHRzYWx0c2FsdA$dGFndGFndGFndGFn",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$dGFndGFndGFndGFndGFndGFndGFndGFndGE",
    ],
)
async def test_malformed_stored_hash_is_false(hasher: PasswordHasher, stored: str) -> None:
    assert await hasher.verify(stored, GOOD) is False


async def test_non_string_stored_hash_is_false(hasher: PasswordHasher) -> None:
    assert await hasher.verify(None, GOOD) is False  # type: ignore[arg-type]


async def test_needs_rehash_for_weaker_or_other_parameters(hasher: PasswordHasher) -> None:
    current = await hasher.hash(GOOD)
    assert hasher.needs_rehash(current) is False

    weaker = argon2.PasswordHasher(time_cost=1, memory_cost=8_192, parallelism=1).hash(GOOD)
    assert hasher.needs_rehash(weaker) is True
    assert await hasher.verify(weaker, GOOD) is True  # old hashes still log their owners in

    legacy_argon2i = argon2.PasswordHasher(
        time_cost=DEFAULT_TIME_COST,
        memory_cost=DEFAULT_MEMORY_COST_KIB,
        parallelism=DEFAULT_PARALLELISM,
        type=argon2.Type.I,
    ).hash(GOOD)
    assert hasher.needs_rehash(legacy_argon2i) is True
    assert await hasher.verify(legacy_argon2i, GOOD) is True

    stronger = PasswordHasher(memory_cost=DEFAULT_MEMORY_COST_KIB * 2)
    assert stronger.needs_rehash(current) is True
    assert hasher.needs_rehash("not a hash") is True
    assert hasher.needs_rehash(None) is True  # type: ignore[arg-type]


async def test_verify_dummy_is_always_false_and_runs_the_same_argon2(
    hasher: PasswordHasher,
) -> None:
    assert await hasher.verify_dummy(GOOD) is False
    assert await hasher.verify_dummy("") is False
    # It verifies against a hash with the current parameters, so it costs what verify costs.
    assert hasher.needs_rehash(hasher._dummy_hash) is False
    assert passwords.PasswordHasher._plausible(hasher._dummy_hash)


async def test_worker_runs_in_another_process_at_lowered_priority(
    hasher: PasswordHasher,
) -> None:
    status = await hasher.worker_status()
    assert status.pid != os.getpid()
    expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + passwords.DEFAULT_WORKER_NICENESS)
    assert status.niceness == expected
    # Seen from outside too, not only as the worker reports it.
    assert os.getpriority(os.PRIO_PROCESS, status.pid) == expected
    # The hashing really happens there: the same worker answers after a hash.
    await hasher.hash(GOOD)
    assert (await hasher.worker_status()).pid == status.pid


async def test_close_releases_the_worker_process(own_hasher: PasswordHasher) -> None:
    pid = (await own_hasher.worker_status()).pid
    assert _process_exists(pid)
    own_hasher.close()
    assert not _process_exists(pid)
    own_hasher.close()  # idempotent
    # A later call starts a new worker rather than failing.
    stored = await own_hasher.hash(GOOD)
    assert await own_hasher.verify(stored, GOOD) is True
    assert (await own_hasher.worker_status()).pid != pid


async def test_a_killed_worker_is_replaced(own_hasher: PasswordHasher) -> None:
    stored = await own_hasher.hash(GOOD)
    pid = (await own_hasher.worker_status()).pid
    os.kill(pid, signal.SIGKILL)
    # Whether the pool has noticed yet or not, the next call gets a fresh worker and succeeds.
    assert await own_hasher.verify(stored, GOOD) is True
    assert (await own_hasher.worker_status()).pid != pid


async def test_calls_beyond_max_pending_are_refused_with_503() -> None:
    limited = PasswordHasher(max_pending=2)
    try:
        results = await asyncio.gather(
            *(limited.hash(f"{GOOD} {i}") for i in range(3)), return_exceptions=True
        )
        refused = [r for r in results if isinstance(r, Unavailable)]
        assert len(refused) == 1
        assert refused[0].status == 503
        assert sum(isinstance(r, str) for r in results) == 2
        # Once the queue drains, calls are accepted again.
        assert await limited.verify(await limited.hash(GOOD), GOOD) is True
    finally:
        limited.close()


async def test_event_loop_stays_responsive_while_four_hashes_run(
    own_hasher: PasswordHasher,
) -> None:
    # A cold hasher: starting the worker must not block the loop either.
    loop = asyncio.get_running_loop()
    worst = 0.0
    ticks = 0
    hashing = True

    async def ticker() -> None:
        nonlocal worst, ticks
        while hashing:
            before = loop.time()
            await asyncio.sleep(0.01)
            worst = max(worst, loop.time() - before - 0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        hashes = await asyncio.gather(*(own_hasher.hash(f"{GOOD} {i}") for i in range(4)))
    finally:
        hashing = False
        await ticking
    assert len(set(hashes)) == 4
    assert ticks >= 3, "the ticker barely ran: the hashes did not take the time they should"
    assert worst < 0.2, f"event loop stalled {worst * 1000:.0f} ms while hashing"


# --- policy -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "kwargs", "reason"),
    [
        ("short", {}, "at least 8 characters"),
        ("\uff41\uff42\uff43\uff44\uff45\uff46\uff47", {}, "at least 8 characters"),
        ("y" * 1025, {}, "at most 1,024 characters"),
        ("football", {}, "most common passwords"),
        ("PassWord1", {}, "most common passwords"),
        ("\uff30\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff11", {}, "most common passwords"),
        ("Ada-Lovelace", {"username": "ada-lovelace"}, "your username"),
        ("countess.ada", {"email": "Countess.Ada@example.com"}, "name part of your email"),
        ("countess.ada@EXAMPLE.com", {"email": "Countess.Ada@example.com"}, "email address"),
        ("aaaaaaaaaaaa", {}, "repeated"),
        ("12341234", {}, "repeated"),
        ("xyzxyzxyzx", {}, "repeated"),
        ("abcdefgh", {}, "consecutive"),
        ("87654321", {}, "consecutive"),
        ("abc\ud800defghij", {}, "not valid Unicode"),
    ],
)
def test_policy_refuses_each_rule_without_echoing_the_password(
    password: str, kwargs: dict[str, str], reason: str
) -> None:
    with pytest.raises(Invalid) as refused:
        check_password_policy(password, **kwargs)
    error = refused.value
    assert error.field == "password"
    assert error.status == 422
    assert reason in error.message
    assert error.message.startswith("password: ")
    assert password.casefold() not in error.message.casefold()


@pytest.mark.parametrize(
    "password",
    [
        GOOD,
        "Tr0ub4dor&3 but longer",
        "Grüße aus Köln, 2024!",
        "\u65e5\u672c\u8a9e\u306e\u30d1\u30b9\u30d5\u30ec\u30fc\u30ba",  # 日本語のパスフレーズ
    ],
)
def test_policy_accepts_good_passwords(password: str) -> None:
    check_password_policy(password, username="ada", email="ada@example.com")


def test_policy_ignores_missing_or_odd_account_fields() -> None:
    check_password_policy(GOOD, username=None, email=None)
    check_password_policy(GOOD, username="", email="")
    check_password_policy(GOOD, email="no-at-sign")
    with pytest.raises(Invalid, match="email address"):
        check_password_policy("no-at-sign-here", email="no-at-sign-here")


def test_common_list_is_loaded_from_the_package() -> None:
    resource = resources.files("analytics_ext.auth").joinpath("data", "common-passwords.txt")
    assert resource.is_file()
    lines = resource.read_text(encoding="utf-8").splitlines()
    header = [line for line in lines if line.startswith("#")]
    assert any("zxcvbn" in line for line in header)
    assert any("License: MIT" in line for line in header)

    common = common_passwords()
    assert isinstance(common, frozenset)
    assert len(common) == 11_611
    assert common_passwords() is common  # read once
    assert {"password", "12345678", "baseball", "trustno1", "iloveyou"} <= common
    assert all(
        passwords.MIN_PASSWORD_LENGTH <= len(entry) <= passwords.MAX_PASSWORD_LENGTH
        for entry in common
    )
    assert all(entry == entry.casefold() == entry.strip() for entry in common)
