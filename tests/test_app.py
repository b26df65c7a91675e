"""Configuration: every trait documented and listed by `jupyter analytics --help-all`; secrets."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from traitlets.config import Config

from analytics_ext.app import AnalyticsExtension
from analytics_ext.auth.secrets import InsecureSecretFile, load_or_create_secret
from tests.support import services as service_checks

OWN_TRAITS = sorted(AnalyticsExtension.class_own_traits(config=True))


def test_every_trait_has_help():
    assert {"db_url", "multi_user", "secrets_dir", "auto_upgrade_db"} <= set(OWN_TRAITS)
    for name in OWN_TRAITS:
        assert AnalyticsExtension.class_traits()[name].help.strip(), name


def test_help_all_lists_every_trait():
    result = subprocess.run(
        [sys.executable, "-m", "analytics_ext.app", "--help-all"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    for name in OWN_TRAITS:
        assert f"--AnalyticsExtension.{name}=" in result.stdout, name
    assert "--LocalIdentityProvider.owner_username=" in result.stdout


def test_default_store_lives_in_the_jupyter_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path))
    extension = AnalyticsExtension()
    assert extension.db_url == f"sqlite:///{tmp_path}/analytics_ext/analytics.sqlite"
    assert extension.secrets_dir == str(tmp_path / "analytics_ext" / "secrets")


def test_malformed_db_url_is_refused_at_configuration():
    with pytest.raises(Exception, match="Could not parse"):
        AnalyticsExtension(config=Config({"AnalyticsExtension": {"db_url": "not a url"}}))


@pytest.fixture
def jp_server_config(jp_server_config: Config, request: pytest.FixtureRequest) -> Config:
    if "multi_user" in request.node.name:
        jp_server_config.AnalyticsExtension.multi_user = True
    return jp_server_config


def test_multi_user_is_refused_until_team_login_exists(jp_configurable_serverapp):
    with pytest.raises(RuntimeError, match="multi_user"):
        jp_configurable_serverapp()


def test_secret_is_created_once_with_private_permissions(tmp_path):
    first = load_or_create_secret(tmp_path / "secrets", "jwt_key")
    again = load_or_create_secret(tmp_path / "secrets", "jwt_key")
    assert first == again
    assert len(first) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / "secrets" / "jwt_key").st_mode)
    assert mode == 0o600
    assert load_or_create_secret(tmp_path / "secrets", "other") != first


def test_secret_readable_by_others_is_refused(tmp_path):
    load_or_create_secret(tmp_path, "jwt_key")
    os.chmod(tmp_path / "jwt_key", 0o644)
    with pytest.raises(InsecureSecretFile, match="chmod 600"):
        load_or_create_secret(tmp_path, "jwt_key")


def test_unreachable_service_fails_in_ci_and_skips_elsewhere(monkeypatch):
    nowhere = ("127.0.0.1", 9)  # discard port: nothing listens there
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        service_checks.require_service("postgresql", nowhere)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        service_checks.require_service("postgresql", nowhere)


def test_readme_documents_every_trait():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name in OWN_TRAITS:
        assert f"`AnalyticsExtension.{name}`" in readme, name
