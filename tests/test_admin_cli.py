"""``jupyter analytics users ...``: accounts managed from the command line, on the store the server
is configured with, through the same services (and rules) as ``/api/admin/users``.

Each test runs the real command in a subprocess (``python -m analytics_ext.app``) with its own
Jupyter config and data dirs, then reads the store.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher as Argon2
from sqlalchemy import select as sql_select

from analytics_ext.store import Database
from analytics_ext.store.models import ActivityEvent, ApiKey, AuthSession, User
from analytics_ext.store.types import utcnow

PASSWORD = "correct horse battery staple"  # a test account's password
OTHER_PASSWORD = "a different horse, stapled"


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "analytics_ext.app", "users", *args]


def users(
    *args: str, store: str | None, tmp_path: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    flags = [f"--AnalyticsExtension.db_url={store}"] if store else []
    return subprocess.run(
        _command(*args, *flags),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True, text=True, env=_env(tmp_path), timeout=120, check=False,
    )  # fmt: skip


def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines
    for word in words:
        assert word in lines[0], lines


def _user(store: str, username: str) -> User | None:
    db = Database(store)
    try:
        with db.transaction() as tx:
            return tx.scalars(sql_select(User).where(User.username == username)).first()
    finally:
        db.dispose()


def test_create_reads_the_password_from_stdin(store_url: str, tmp_path: Path):
    result = users(
        "create", "Ada", "--email=Ada@Example.ORG", "--display-name=Ada Lovelace", "--admin",
        "--notebook", "--password-stdin", store=store_url, tmp_path=tmp_path, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "created 'ada'" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    ada = _user(store_url, "ada")
    assert ada is not None
    assert (ada.email, ada.display_name, ada.is_admin, ada.notebook_role) == (
        "ada@example.org", "Ada Lovelace", True, True,
    )  # fmt: skip
    assert ada.email_verified_at is not None
    assert ada.password_hash.startswith("$argon2id$")
    assert Argon2().verify(ada.password_hash, PASSWORD)
    db = Database(store_url)
    try:
        with db.transaction() as tx:
            events = tx.execute(
                sql_select(ActivityEvent.type, ActivityEvent.details).where(
                    ActivityEvent.user_id == ada.id
                )
            ).all()
            assert [(kind, details["by"]) for kind, details in events] == [("user.created", "cli")]
    finally:
        db.dispose()


def test_conflicts_and_refusals_are_one_line_errors(sqlite_url: str, tmp_path: Path):
    def create(username: str | None, password: str | None = PASSWORD, *extra: str):
        names = [username] if username else []
        if password is None:  # no --password-stdin, and no terminal to prompt on
            return users("create", *names, store=sqlite_url, tmp_path=tmp_path)
        return users("create", *names, "--password-stdin", *extra, store=sqlite_url,
                     tmp_path=tmp_path, stdin=password + "\n")  # fmt: skip

    assert create("ada", PASSWORD, "--email=ada@example.org").returncode == 0
    # One of each kind; the rules themselves are tested over HTTP (tests/test_admin_users.py).
    refusals = {
        ("\uff21\uff24\uff21",): ("username", "taken"),  # fullwidth ADA
        ("grace", "password"): ("password:", "common"),
        ("bob smith",): ("username:",),
        ("grace", ""): ("no password",),
        ("grace", None): ("--password-stdin",),
        (None,): ("exactly one username",),
    }
    # None of them writes anything, so they run at once: the command takes seconds to start.
    with ThreadPoolExecutor(len(refusals)) as pool:
        results = dict(zip(refusals, pool.map(lambda args: create(*args), refusals), strict=True))
    for args, words in refusals.items():
        _one_line_error(results[args], *words)
    assert _user(sqlite_url, "grace") is None


def _in_terminal(args: list[str], env: dict[str, str], answers: list[str]) -> tuple[int, str]:
    """Run a command on a pseudo-terminal, answering each password prompt; (status, output)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the command, with the terminal as its controlling tty
        os.execve(args[0], args, {**os.environ, **env})
    output = b""
    deadline = time.monotonic() + 120

    def read_more() -> bool:
        nonlocal output
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError(output.decode(errors="replace"))
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the command exited and closed the terminal
            return False
        output += chunk
        return bool(chunk)

    try:
        for answer in answers:
            asked = output.count(b"assword: ")
            while output.count(b"assword: ") == asked:
                if not read_more():
                    break
            os.write(fd, answer.encode() + b"\n")
        while read_more():
            pass
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_prompt_asks_twice_and_never_echoes(sqlite_url: str, tmp_path: Path):
    flag = f"--AnalyticsExtension.db_url={sqlite_url}"
    status, output = _in_terminal(
        _command("create", "grace", flag), _env(tmp_path), [PASSWORD, PASSWORD]
    )
    assert status == 0, output
    assert output.count("assword: ") == 2
    assert PASSWORD not in output
    assert Argon2().verify(_user(sqlite_url, "grace").password_hash, PASSWORD)

    status, output = _in_terminal(
        _command("create", "hedy", flag), _env(tmp_path), [PASSWORD, OTHER_PASSWORD]
    )
    assert status == 1, output
    assert "differ" in output
    assert PASSWORD not in output
    assert OTHER_PASSWORD not in output
    assert _user(sqlite_url, "hedy") is None


def _add_session_and_key(store: str, user_id: str) -> None:
    db = Database(store)
    now = utcnow()
    try:
        with db.transaction() as tx:
            tx.add(AuthSession(user_id=user_id, expires_at=now + timedelta(days=1)))
            tx.add(ApiKey(user_id=user_id, name="script", lookup="k" * 16, secret_hash="h" * 64,
                          scopes=["read"]))  # fmt: skip
    finally:
        db.dispose()


def _access(store: str, user_id: str) -> tuple[list, list]:
    """(revoked_at of each session, revoked_at of each API key) of the user."""
    db = Database(store)
    try:
        with db.transaction() as tx:
            sessions = list(
                tx.scalars(sql_select(AuthSession.revoked_at).where(AuthSession.user_id == user_id))
            )
            keys = list(tx.scalars(sql_select(ApiKey.revoked_at).where(ApiKey.user_id == user_id)))
            return sessions, keys
    finally:
        db.dispose()


def _add_user(store: str, username: str, **fields) -> str:
    db = Database(store)
    try:
        with db.transaction() as tx:
            user = User(username=username, display_name=username, **fields)
            tx.add(user)
            tx.flush()
            return user.id
    finally:
        db.dispose()


def test_list_disable_and_enable(sqlite_url: str, tmp_path: Path):
    _add_user(_migrated(sqlite_url), "ada", is_admin=True)
    bob = _add_user(sqlite_url, "bob")
    _add_session_and_key(sqlite_url, bob)

    disabled = users("disable", "BOB", store=sqlite_url, tmp_path=tmp_path)
    assert disabled.returncode == 0, disabled.stderr
    assert _user(sqlite_url, "bob").disabled_at is not None
    sessions, keys = _access(sqlite_url, bob)
    assert len(sessions + keys) == 2
    assert all(at is not None for at in sessions + keys)

    with ThreadPoolExecutor(3) as pool:  # reads and refusals: at once
        listed, last_admin, nobody = pool.map(
            lambda args: users(*args, store=sqlite_url, tmp_path=tmp_path),
            [("list",), ("disable", "ada"), ("enable", "nobody")],
        )
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert set(rows) == {"ada", "bob"}
    assert "disabled" in rows["bob"]
    assert "admin" in rows["ada"]
    assert "enabled" in rows["ada"]
    _one_line_error(last_admin, "last enabled administrator")
    assert _user(sqlite_url, "ada").disabled_at is None
    _one_line_error(nobody, "no account")

    enabled = users("enable", "bob", store=sqlite_url, tmp_path=tmp_path)
    assert enabled.returncode == 0, enabled.stderr
    assert _user(sqlite_url, "bob").disabled_at is None


def _migrated(store: str) -> str:
    from analytics_ext.store import upgrade_schema

    db = Database(store)
    upgrade_schema(db)
    db.dispose()
    return store


def test_set_password_ends_sessions(sqlite_url: str, tmp_path: Path):
    _add_user(_migrated(sqlite_url), "bob")
    bob = _user(sqlite_url, "bob")
    _add_session_and_key(sqlite_url, bob.id)
    weak = users(
        "set-password", "bob", "--password-stdin", store=sqlite_url, tmp_path=tmp_path, stdin="bob"
    )
    _one_line_error(weak, "password:")
    assert _access(sqlite_url, bob.id)[0] == [None]  # a refused password changes nothing

    changed = users("set-password", "bob", "--password-stdin", store=sqlite_url, tmp_path=tmp_path,
                    stdin=OTHER_PASSWORD + "\n")  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert OTHER_PASSWORD not in changed.stdout + changed.stderr
    assert Argon2().verify(_user(sqlite_url, "bob").password_hash, OTHER_PASSWORD)
    sessions, keys = _access(sqlite_url, bob.id)
    assert sessions[0] is not None  # ended
    assert keys == [None]  # a new password leaves API keys alone, as a password change does


def test_reads_the_server_config_file(sqlite_url: str, tmp_path: Path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "jupyter_server_config.py").write_text(
        f"c.AnalyticsExtension.db_url = {sqlite_url!r}\n"
    )
    created = users(
        "create", "ada", "--password-stdin", store=None, tmp_path=tmp_path, stdin=PASSWORD
    )
    assert created.returncode == 0, created.stderr
    assert _user(sqlite_url, "ada") is not None


def test_a_broken_config_file_stops_the_command(tmp_path: Path):
    """Not a silent fall-back to the default store (which it would also create)."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "jupyter_server_config.py").write_text(
        "import os\nc.AnalyticsExtension.db_url = os.environ['ANALYTICS_DB_URL']\n"
    )
    result = users(
        "create", "ada", "--password-stdin", store=None, tmp_path=tmp_path, stdin=PASSWORD
    )
    _one_line_error(result, "jupyter_server_config", "KeyError", "ANALYTICS_DB_URL")
    assert not (tmp_path / "data" / "analytics_ext" / "analytics.sqlite").exists()


def test_users_without_a_known_subcommand_lists_them(tmp_path: Path):
    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _command(*args), capture_output=True, text=True, check=False, env=_env(tmp_path),
            timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    with ThreadPoolExecutor(2) as pool:
        for result in pool.map(run, [[], ["frobnicate"]]):
            assert result.returncode != 0
            assert "set-password" in result.stdout + result.stderr
