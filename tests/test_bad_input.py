"""Bad input gets a 4xx naming the problem, never a 500, and never changes a row."""

from __future__ import annotations

import pytest

from tests.support.datasources import postgres_database
from tests.support.query_library import make_datasource, save_query
from tests.test_user import count_users, user_row

CASES = [
    # (raw body, content type, status, words the message must contain)
    (b'{"display_name": "x"', "application/json", 400, ["not valid JSON"]),
    (b"\xff\xfe", "application/json", 400, ["not valid JSON"]),
    (
        b"display_name=x",
        "application/x-www-form-urlencoded",
        400,
        ["Content-Type", "application/json"],
    ),
    (b'{"display_name": "x"}', "text/plain", 400, ["Content-Type"]),
    (b"[1, 2]", "application/json", 422, ["body", "JSON object"]),
    (b'{"display_name": 5}', "application/json", 422, ["display_name", "string"]),
    (b'{"display_name": null}', "application/json", 422, ["display_name", "null"]),
    (b'{"display_name": ""}', "application/json", 422, ["display_name"]),
    (b'{"display_name": "   "}', "application/json", 422, ["display_name"]),
    (b'{"display_name": "' + b"x" * 129 + b'"}', "application/json", 422, ["display_name", "128"]),
    (b'{"display_name": "a\\u0000b"}', "application/json", 422, ["display_name", "control"]),
    (b'{"is_admin": false}', "application/json", 422, ["is_admin", "not permitted"]),
    (b'{"display_name": "ok", "nickname": "x"}', "application/json", 422, ["nickname"]),
    (b'{"id": "AAAAAAAAAAAAAAAAAAAAAA"}', "application/json", 422, ["id"]),
    (b'{"timezone": "Mars/Olympus"}', "application/json", 422, ["timezone", "IANA"]),
    (b'{"timezone": null}', "application/json", 422, ["timezone", "null"]),
    (b'{"locale": "english please"}', "application/json", 422, ["locale"]),
    (b'{"locale": 44}', "application/json", 422, ["locale", "string"]),
]


@pytest.mark.parametrize(("raw", "content_type", "status", "words"), CASES)
async def test_bad_profile_update_is_refused_and_changes_nothing(
    api, db_url, raw, content_type, status, words
):
    await api.get("/api/user")  # the owner row exists before the bad request
    before = user_row(db_url)
    reply = await api.request("PATCH", "/api/user", raw=raw, headers={"Content-Type": content_type})
    assert reply.status == status, reply.body
    assert set(reply.body) == {"message", "reason"}
    for word in words:
        assert word in reply.body["message"], reply.body
    assert user_row(db_url) == before
    assert count_users(db_url) == 1


async def test_oversized_body_is_413_and_changes_nothing(api, db_url, jp_serverapp):
    await api.get("/api/user")
    before = user_row(db_url)
    limit = jp_serverapp.web_app.settings["analytics_ext_max_request_bytes"]
    huge = b'{"display_name": "' + b"x" * limit + b'"}'
    reply = await api.request("PATCH", "/api/user", raw=huge)
    assert reply.status == 413
    assert str(limit) in reply.body["message"]
    assert user_row(db_url) == before


async def test_unknown_verb_is_405_not_500(api):
    reply = await api.request("DELETE", "/api/user")
    assert reply.status == 405


async def test_a_percent_sign_in_a_message_reaches_the_caller_once(api) -> None:
    """tornado stores an HTTPError's message as a %-format; the answer must not show ``%%``."""
    with postgres_database(["CREATE TABLE t (a INTEGER)"]) as url:
        source = await make_datasource(api, url)
        query = await save_query(api, source, "SELECT a FROM t")
        spec = {"type": "bar", "encodings": {"x": {"field": "50%"}, "y": {"field": "a"}}}
        body = {"name": "c", "query_id": query["id"], "spec": spec}
        reply = await api.request("POST", "/api/chart", body, expect=422)
    assert "'50%'" in reply.body["message"]
    assert "%%" not in reply.body["message"]
