"""User settings: a typed, versioned document with defaults, merge semantics, ETags and a schema."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import delete, select

from analytics_ext.handlers.system import openapi_document
from analytics_ext.schemas.settings import UserSettings, UserSettingsPatch
from analytics_ext.services.activity import ActivityLog
from analytics_ext.services.settings import (
    PreconditionFailed,
    SettingsService,
    settings_etag,
    upgrade_document,
)
from analytics_ext.services.users import UserService
from analytics_ext.store import Database
from analytics_ext.store.models import ActivityEvent, User, UserSettingsDocument

DEFAULTS = UserSettings().model_dump(mode="json")
DATASOURCE_ID = "A" * 22


def stored(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[str, Any]]]:
    """The settings rows and the activity events, to prove a refused request changed nothing."""
    database = Database(url)
    try:
        with database.transaction() as tx:
            rows = [
                (row.user_id, row.document, row.version, row.updated_at)
                for row in tx.scalars(select(UserSettingsDocument))
            ]
            events = [
                (event.type, event.details)
                for event in tx.scalars(select(ActivityEvent).order_by(ActivityEvent.created_at))
            ]
            return rows, events
    finally:
        database.dispose()


def settings_events(url: str) -> list[Any]:
    return [details for kind, details in stored(url)[1] if kind == "user.settings_updated"]


async def put(api, body: Any, **kwargs: Any):
    return await api.request("PUT", "/api/user/settings", body, **kwargs)


async def patch(api, body: Any, **kwargs: Any):
    return await api.request("PATCH", "/api/user/settings", body, **kwargs)


# -- reading and writing ---------------------------------------------------------------------


async def test_a_new_user_gets_every_default_and_nothing_is_stored(api, db_url):
    reply = await api.request("GET", "/api/user/settings", expect=200)
    assert reply.body == DEFAULTS
    assert reply.headers["ETag"] == settings_etag(UserSettings())
    assert stored(db_url)[0] == []


async def test_put_replaces_the_whole_document_and_omitted_fields_take_defaults(api, db_url):
    await patch(api, {"chart_theme": "dark", "sql_formatting": {"indent": 4}}, expect=200)
    reply = await put(api, {"default_row_limit": 7}, expect=200)
    assert reply.body == {**DEFAULTS, "default_row_limit": 7}
    assert await api.get("/api/user/settings") == reply.body
    # Only what differs from the defaults is stored, so a later default change reaches the user.
    ((_, document, version, _),) = stored(db_url)[0]
    assert (document, version) == ({"default_row_limit": 7}, 1)


async def test_a_get_put_round_trip_is_accepted_and_changes_nothing(api, db_url):
    await patch(api, {"chart_palette": "viridis"}, expect=200)
    current = await api.get("/api/user/settings")
    before = stored(db_url)
    assert (await put(api, current, expect=200)).body == current
    assert stored(db_url) == before


async def test_patch_merges_nested_objects_and_null_resets_to_the_default(api):
    await put(
        api,
        {
            "sql_formatting": {"keyword_case": "lower", "indent": 4},
            "notifications": {"email_on_share": False},
            "default_datasource_id": DATASOURCE_ID,
            "dashboard_refresh_seconds": 300,
        },
        expect=200,
    )
    merged = (await patch(api, {"sql_formatting": {"indent": 8}}, expect=200)).body
    assert merged["sql_formatting"] == {"keyword_case": "lower", "indent": 8}
    assert merged["notifications"] == {"email_on_share": False, "email_on_comment": True}

    reset = (await patch(api, {"sql_formatting": {"keyword_case": None}}, expect=200)).body
    assert reset["sql_formatting"] == {"keyword_case": "upper", "indent": 8}

    reset = (await patch(api, {"notifications": None, "default_datasource_id": None})).body
    assert reset["notifications"] == DEFAULTS["notifications"]
    assert reset["default_datasource_id"] is None
    assert reset["dashboard_refresh_seconds"] == 300  # untouched by the patches
    assert await api.get("/api/user/settings") == reset


async def test_changes_are_recorded_once_each_and_no_op_writes_record_nothing(api, db_url):
    await patch(api, {"chart_theme": "dark", "sql_formatting": {"indent": 4}}, expect=200)
    await patch(api, {"chart_theme": "dark"}, expect=200)  # same value: no change, no event
    await put(api, await api.get("/api/user/settings"), expect=200)  # round trip: no event
    await patch(api, {"sql_formatting": None}, expect=200)
    assert settings_events(db_url) == [
        {"fields": ["chart_theme", "sql_formatting.indent"]},
        {"fields": ["sql_formatting.indent"]},
    ]


# -- bad input ------------------------------------------------------------------------------

BAD_INPUT = [
    # (verb, raw body, content type, status, words the message must contain)
    ("PATCH", b'{"sql_formatting": {"indent": "4"}}', None, 422, ["sql_formatting.indent:"]),
    ("PATCH", b'{"sql_formatting": {"indent": 9}}', None, 422, ["sql_formatting.indent:", "8"]),
    ("PUT", b'{"sql_formatting": {"indent": 1}}', None, 422, ["sql_formatting.indent:", "2"]),
    (
        "PATCH",
        b'{"notifications": {"email_on_share": "yes"}}',
        None,
        422,
        ["notifications.email_on_share:", "boolean"],
    ),
    ("PATCH", b'{"notifications": {"sms": true}}', None, 422, ["notifications.sms:", "Extra"]),
    ("PUT", b'{"notifications": {"sms": true}}', None, 422, ["notifications.sms:", "Extra"]),
    ("PATCH", b'{"colour": "red"}', None, 422, ["colour:", "Extra"]),
    ("PUT", b'{"default_row_limit": 0}', None, 422, ["default_row_limit:"]),
    ("PUT", b'{"default_row_limit": 1000001}', None, 422, ["default_row_limit:"]),
    ("PUT", b'{"default_row_limit": 10.0}', None, 422, ["default_row_limit:", "integer"]),
    ("PATCH", b'{"default_row_limit": true}', None, 422, ["default_row_limit:"]),
    ("PUT", b'{"dashboard_refresh_seconds": 10}', None, 422, ["dashboard_refresh_seconds:", "0"]),
    ("PATCH", b'{"dashboard_refresh_seconds": -1}', None, 422, ["dashboard_refresh_seconds:"]),
    ("PUT", b'{"chart_theme": "pink"}', None, 422, ["chart_theme:", "light"]),
    ("PATCH", b'{"chart_palette": "rainbow"}', None, 422, ["chart_palette:"]),
    ("PATCH", b'{"date_format": "%Y"}', None, 422, ["date_format:"]),
    ("PUT", b'{"default_datasource_id": "short"}', None, 422, ["default_datasource_id:"]),
    ("PUT", b'{"version": 0}', None, 422, ["version:"]),
    ("PUT", b'{"version": true}', None, 422, ["version:"]),
    ("PATCH", b'{"version": 1.0}', None, 422, ["version:"]),
    ("PUT", b'{"sql_formatting": null}', None, 422, ["sql_formatting:"]),
    ("PATCH", b'{"sql_formatting": 4}', None, 422, ["sql_formatting:"]),
    ("PATCH", b"[1]", None, 422, ["body", "JSON object"]),
    ("PUT", b'{"chart_palette": "viridis"', None, 400, ["not valid JSON"]),
    ("PATCH", b"\xff\xfe", None, 400, ["not valid JSON"]),
    ("PUT", b'{"chart_theme": "dark"}', "text/plain", 400, ["Content-Type"]),
]


@pytest.mark.parametrize(("verb", "raw", "content_type", "status", "words"), BAD_INPUT)
async def test_bad_input_names_the_field_and_changes_nothing(
    api, db_url, verb, raw, content_type, status, words
):
    await patch(api, {"chart_theme": "dark"}, expect=200)  # a row exists to be left alone
    before = stored(db_url)
    headers = {"Content-Type": content_type or "application/json"}
    reply = await api.request(verb, "/api/user/settings", raw=raw, headers=headers)
    assert reply.status == status, reply.body
    assert set(reply.body) == {"message", "reason"}
    for word in words:
        assert word in reply.body["message"], reply.body
    assert stored(db_url) == before


async def test_oversized_body_is_413_and_changes_nothing(api, db_url, jp_serverapp):
    before = stored(db_url)
    limit = jp_serverapp.web_app.settings["analytics_ext_max_request_bytes"]
    huge = b'{"chart_theme": "' + b"x" * limit + b'"}'
    reply = await api.request("PUT", "/api/user/settings", raw=huge)
    assert reply.status == 413
    assert stored(db_url) == before


async def test_anonymous_callers_get_401(anonymous):
    for verb, body in (("GET", None), ("PUT", {}), ("PATCH", {})):
        await anonymous.request(verb, "/api/user/settings", body, expect=401)
    await anonymous.request("GET", "/api/user/settings/schema", expect=401)


# -- ETag and If-Match ---------------------------------------------------------------------


async def test_etag_follows_the_content_and_answers_if_none_match(api):
    first = await api.request("GET", "/api/user/settings", expect=200)
    etag = first.headers["ETag"]
    changed = await patch(api, {"chart_theme": "light"}, expect=200)
    assert changed.headers["ETag"] != etag
    assert changed.headers["ETag"] == settings_etag(UserSettings.model_validate(changed.body))
    same = await patch(api, {"chart_theme": "light"}, expect=200)
    assert same.headers["ETag"] == changed.headers["ETag"]
    back = await patch(api, {"chart_theme": None}, expect=200)
    assert back.headers["ETag"] == etag  # same document, same tag
    cached = await api.request("GET", "/api/user/settings", headers={"If-None-Match": etag})
    assert cached.status == 304


async def test_if_match_refuses_a_stale_write_with_412_and_changes_nothing(api, db_url):
    etag = (await api.request("GET", "/api/user/settings")).headers["ETag"]
    mine = await patch(api, {"chart_theme": "dark"}, headers={"If-Match": etag}, expect=200)
    before = stored(db_url)
    for verb, body in (("PATCH", {"chart_theme": "light"}), ("PUT", {"default_row_limit": 5})):
        for stale in (etag, f"W/{mine.headers['ETag']}", '"nope"'):
            reply = await api.request(verb, "/api/user/settings", body, headers={"If-Match": stale})
            assert reply.status == 412, (verb, stale, reply.body)
            assert "changed since" in reply.body["message"]
    assert stored(db_url) == before
    listed = f'"other", {mine.headers["ETag"]}'
    await patch(api, {"chart_theme": "light"}, headers={"If-Match": listed}, expect=200)
    await put(api, {"default_row_limit": 5}, headers={"If-Match": "*"}, expect=200)


# -- the schema ------------------------------------------------------------------------------


async def test_schema_endpoint_serves_the_models_json_schema(api):
    schema = await api.get("/api/user/settings/schema")
    assert schema == UserSettings.model_json_schema()


def test_schema_has_at_least_8_settings_each_with_a_default_and_a_description():
    schema = UserSettings.model_json_schema()
    settings = {name: spec for name, spec in schema["properties"].items() if name != "version"}
    assert len(settings) >= 8
    for name, spec in settings.items():
        assert spec.get("description"), name
        field = UserSettings.model_fields[name]
        assert field.default is not None or field.default_factory or name.endswith("_id"), name


def test_schema_carries_the_form_keywords():
    """The generated form reads these: ``version`` shown as text and never sent, the default
    datasource picked from the ``datasources`` choice list instead of typed as a 22-character id.
    """
    properties = UserSettings.model_json_schema()["properties"]
    assert properties["version"]["readOnly"] is True
    datasource = properties["default_datasource_id"]
    assert datasource["x-choices"] == "datasources"
    assert datasource["title"] == "Default datasource"
    readonly = [name for name, spec in properties.items() if spec.get("readOnly")]
    assert readonly == ["version"]  # nothing a user sets is marked read-only


def _constraints(spec: dict[str, Any]) -> dict[str, Any]:
    keys = ("type", "minimum", "maximum", "pattern", "default", "description", "not")
    picked = {key: spec[key] for key in keys if key in spec}
    if "enum" in spec or "const" in spec:
        picked["enum"] = spec.get("enum", [spec.get("const")])
    return picked


def test_openapi_fragment_mirrors_the_model():
    """The OpenAPI schema is written by hand; this keeps it equal to the pydantic model."""
    model = UserSettings.model_json_schema()
    components = openapi_document()["components"]["schemas"]
    documented = components["UserSettings"]["properties"]
    assert set(documented) == set(model["properties"])
    for name, spec in model["properties"].items():
        if "$ref" in spec:
            nested = model["$defs"][spec["$ref"].rsplit("/", 1)[1]]["properties"]
            ours = components[documented[name]["$ref"].rsplit("/", 1)[1]]["properties"]
            assert {k: _constraints(v) for k, v in ours.items()} == {
                k: _constraints(v) for k, v in nested.items()
            }, name
        elif "anyOf" in spec:  # optional: the non-null branch carries the constraints
            (branch,) = [b for b in spec["anyOf"] if b.get("type") != "null"]
            expected = {**_constraints(branch), **_constraints(spec)}
            actual = _constraints(documented[name])
            assert documented[name]["nullable"] is True
            assert actual == expected, name
        else:
            assert _constraints(documented[name]) == _constraints(spec), name
    patch_fields = set(components["UserSettingsPatch"]["properties"])
    assert patch_fields == set(UserSettingsPatch.model_fields) == set(model["properties"])


# -- the service, on every store backend -------------------------------------------------------


def owner_id(db: Database) -> str:
    return UserService(db, ActivityLog()).ensure_owner("ada", "Ada").id


def test_settings_persist_for_a_new_service_instance(db: Database, store_url: str):
    user = owner_id(db)
    changes = UserSettingsPatch.model_validate_json('{"default_row_limit": 7}')
    SettingsService(db, ActivityLog()).update(user, changes)
    fresh = Database(store_url)
    try:
        assert SettingsService(fresh, ActivityLog()).get(user).default_row_limit == 7
    finally:
        fresh.dispose()


def test_a_version_0_document_is_upgraded_on_read(db: Database):
    user = owner_id(db)
    version_0 = {"row_limit": 50, "theme": "dark", "uppercase_keywords": False}
    with db.transaction() as tx:
        tx.add(UserSettingsDocument(user_id=user, document=version_0, version=0))
    settings = SettingsService(db, ActivityLog()).get(user)
    assert settings.version == 1
    assert settings.default_row_limit == 50
    assert settings.chart_theme == "dark"
    assert settings.sql_formatting.keyword_case == "preserve"
    assert upgrade_document({}, 1) == {"version": 1}


def test_a_stored_field_that_no_longer_validates_falls_back_to_its_default(db: Database):
    user = owner_id(db)
    document = {"chart_theme": "neon", "default_row_limit": 9, "retired_setting": True}
    with db.transaction() as tx:
        tx.add(UserSettingsDocument(user_id=user, document=document, version=1))
    settings = SettingsService(db, ActivityLog()).get(user)
    assert (settings.chart_theme, settings.default_row_limit) == ("auto", 9)


def test_concurrent_patches_all_land(db: Database, store_url: str):
    """Merges are serialised under the row lock, so no patch overwrites another's field."""
    user = owner_id(db)
    service = SettingsService(db, ActivityLog())
    patches = [
        {"chart_theme": "dark"},
        {"chart_palette": "viridis"},
        {"default_row_limit": 42},
        {"date_format": "DD.MM.YYYY"},
        {"sql_formatting": {"indent": 4}},
        {"notifications": {"email_on_comment": False}},
    ]
    with ThreadPoolExecutor(len(patches)) as pool:
        list(
            pool.map(
                lambda body: service.update(user, UserSettingsPatch.model_validate(body)),
                patches,
            )
        )
    final = service.get(user).model_dump(mode="json")
    for body in patches:
        for name, value in body.items():
            if isinstance(value, dict):
                assert value.items() <= final[name].items(), name
            else:
                assert final[name] == value, name
    assert len(settings_events(store_url)) == len(patches)


def test_concurrent_writes_with_the_same_if_match_let_exactly_one_win(db: Database, store_url):
    user = owner_id(db)
    service = SettingsService(db, ActivityLog())
    seen = {settings_etag(service.get(user))}

    def write(limit: int) -> str:
        body = UserSettings(default_row_limit=limit)
        try:
            service.replace(user, body, if_match=seen)
            return "won"
        except PreconditionFailed:
            return "refused"

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(write, range(10, 16)))
    assert sorted(outcomes) == ["refused"] * 5 + ["won"]
    assert len(settings_events(store_url)) == 1


def test_settings_go_with_their_user(db: Database):
    user = owner_id(db)
    changes = UserSettingsPatch.model_validate({"chart_theme": "dark"})
    SettingsService(db, ActivityLog()).update(user, changes)
    with db.transaction() as tx:
        tx.execute(delete(User).where(User.id == user))
    with db.transaction() as tx:
        assert tx.scalars(select(UserSettingsDocument)).all() == []


def test_etag_is_a_quoted_hash_of_the_whole_document():
    etag = settings_etag(UserSettings())
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert etag != settings_etag(UserSettings(chart_theme="dark"))
    assert json.loads(etag)  # a quoted string, as HTTP requires
