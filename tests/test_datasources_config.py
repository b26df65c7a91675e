"""Datasource configuration: the credential key (generated 0600, separate from the JWT key,
bound to its row), the default folders, and the store's own file kept out."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from traitlets.config import Config

from analytics_ext.app import AnalyticsExtension
from analytics_ext.errors import Invalid
from analytics_ext.services.credentials import CredentialCipher, CredentialError


def extension(**traits) -> AnalyticsExtension:
    return AnalyticsExtension(config=Config({"AnalyticsExtension": traits}))


def test_generated_key_is_private_stable_and_not_the_jwt_key(tmp_path):
    app = extension()
    store = make_url(f"sqlite:///{tmp_path}/store.sqlite")
    first = app.datasource_settings(tmp_path / "secrets", str(tmp_path / "demo"), store)
    again = app.datasource_settings(tmp_path / "secrets", str(tmp_path / "demo"), store)
    assert first.key == again.key
    key_file = tmp_path / "secrets" / "datasource-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.key != app.jwt_key(tmp_path / "secrets")


def test_configured_key_is_used_and_a_short_one_refused(tmp_path):
    app = extension(datasource_key="k" * 40)
    settings = app.datasource_settings(tmp_path, str(tmp_path), make_url("sqlite://"))
    assert settings.key == b"k" * 40
    assert not (tmp_path / "datasource-key").exists()
    with pytest.raises(Exception, match="at least 32 bytes"):
        extension(datasource_key="short")


def test_ciphertexts_are_bound_to_their_datasource_and_key():
    cipher = CredentialCipher(os.urandom(32))
    # '!' and '#' are outside base64url, so the secret cannot appear in a ciphertext by chance
    # (a two-letter secret did, once in about 60 runs).
    secret = "s3cret!pass#word"
    sealed = cipher.encrypt({"password": secret}, "A" * 22)
    assert secret not in sealed
    assert cipher.decrypt(sealed, "A" * 22) == {"password": secret}
    with pytest.raises(CredentialError):
        cipher.decrypt(sealed, "B" * 22)  # copied onto another row
    with pytest.raises(CredentialError):
        CredentialCipher(os.urandom(32)).decrypt(sealed, "A" * 22)  # another key
    with pytest.raises(CredentialError):
        cipher.decrypt(sealed[:-4] + "AAAA", "A" * 22)  # tampered


def test_default_folder_is_the_demo_data_and_the_store_file_never_allowed(tmp_path):
    demo = tmp_path / "demo"
    demo.mkdir()
    store = demo / "analytics.sqlite"
    for path in (store, demo / "retail.sqlite", demo / "analytics.sqlite-wal"):
        path.write_bytes(b"")
    settings = extension().datasource_settings(
        tmp_path / "secrets", str(demo), make_url(f"sqlite:///{store}")
    )
    policy = settings.policy
    assert policy.check(make_url(f"sqlite:///{demo}/retail.sqlite"), is_admin=True)
    for name in ("analytics.sqlite", "analytics.sqlite-wal"):
        with pytest.raises(Invalid, match="server's own files"):
            policy.check(make_url(f"sqlite:///{demo}/{name}"), is_admin=True)
    none_allowed = extension(datasource_dirs=[]).datasource_settings(
        tmp_path / "secrets", str(demo), make_url("sqlite://")
    )
    with pytest.raises(Invalid, match="outside the folders"):
        none_allowed.policy.check(make_url(f"sqlite:///{demo}/retail.sqlite"), is_admin=True)


def test_denylist_can_be_replaced_and_dialects_extended(tmp_path: Path):
    app = extension(host_denylist=["10.0.0.0/8"], allowed_dialects=["postgresql", "trino"])
    policy = app.datasource_settings(tmp_path, str(tmp_path), make_url("sqlite://")).policy
    assert policy.allowed_dialects == frozenset({"postgresql", "trino"})
    assert policy.host_denylist == ("10.0.0.0/8",)
    with pytest.raises(Invalid, match="not allowed"):
        policy.check(make_url("mysql+pymysql://root@127.0.0.1/test"), is_admin=True)
