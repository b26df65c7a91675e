"""Configuration: every trait documented and listed by `jupyter analytics --help-all`; secrets."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_server.extension.application import ExtensionApp
from traitlets.config import Config

from analytics_ext.app import AnalyticsExtension
from analytics_ext.auth.authorizer import AnalyticsAuthorizer
from analytics_ext.auth.identity import LocalIdentityProvider
from analytics_ext.auth.secrets import InsecureSecretFile, load_or_create_secret
from analytics_ext.auth.team_identity import TeamIdentityProvider
from tests.support import services as service_checks

OWN_TRAITS = sorted(
    set(AnalyticsExtension.class_traits(config=True)) - set(ExtensionApp.class_traits(config=True))
)
"""Our traits, those of the option mixins (``analytics_ext.options``) included."""


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


def test_multi_user_installs_team_identity_and_our_authorizer(jp_serverapp):
    assert isinstance(jp_serverapp.identity_provider, TeamIdentityProvider)
    assert isinstance(jp_serverapp.authorizer, AnalyticsAuthorizer)


def test_local_mode_keeps_local_identity(jp_serverapp):
    assert type(jp_serverapp.identity_provider) is LocalIdentityProvider


def test_short_jwt_signing_key_is_refused_at_configuration():
    with pytest.raises(Exception, match="at least 32 bytes"):
        AnalyticsExtension(config=Config({"AnalyticsExtension": {"jwt_signing_key": "short"}}))


def test_configured_jwt_key_is_used_and_none_is_written(tmp_path):
    key = "k" * 40
    extension = AnalyticsExtension(config=Config({"AnalyticsExtension": {"jwt_signing_key": key}}))
    assert extension.jwt_key(tmp_path / "secrets") == key.encode()
    assert not (tmp_path / "secrets").exists()


def test_generated_jwt_key_is_private_and_stable(tmp_path):
    extension = AnalyticsExtension()
    first = extension.jwt_key(tmp_path / "secrets")
    assert first == extension.jwt_key(tmp_path / "secrets")
    mode = stat.S_IMODE(os.stat(tmp_path / "secrets" / "jwt-signing-key").st_mode)
    assert mode == 0o600


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


def test_query_engine_traits_reach_the_engine(
    jp_server_config, jp_configurable_serverapp, tmp_path
):
    jp_server_config.AnalyticsExtension.update(
        query_runs_per_user=1,
        query_max_rows=5,
        query_memory_mb=3,
        query_spill_dir=str(tmp_path / "spill"),
    )
    app = jp_configurable_serverapp(config=jp_server_config)
    engine = app.web_app.settings["analytics_ext_services"].queries.engine
    assert (engine.per_user_limit, engine.max_rows) == (1, 5)
    assert engine.budget.limit_bytes == 3 * 1024 * 1024
    assert engine.spill_dir == tmp_path / "spill"
    assert stat.S_IMODE(os.stat(tmp_path / "spill").st_mode) == 0o700
