"""``GET /api/users``: finding an account to share with, on a team server.

It must find people by the beginning of a username or display name, whatever the case, and
give away nothing else: no email addresses or roles, no disabled accounts, no full directory
(a prefix of at least two characters, at most 25 matches, ``%`` and ``_`` as themselves), and
nothing at all to a caller who is not an account (anonymous: 401; a share link or a dashboard
kernel's token: 404).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from analytics_ext.services.dashboards import DASHBOARD
from tests.support.api import ApiClient

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture
def make_people(create_account, login) -> Callable[[], Awaitable[dict[str, ApiClient]]]:
    """A small team: accounts with look-alike names, display names that differ from the
    username, and names holding LIKE's wildcards; clients logged in as ada, grace and bob."""

    async def make() -> dict[str, ApiClient]:
        return await _make_people(create_account, login)

    return make


async def _make_people(create_account, login) -> dict[str, ApiClient]:
    await create_account("ada", display_name="Ada Lovelace")
    await create_account("adam", display_name="Adam Smith")
    await create_account("grace", display_name="Grace Hopper")
    await create_account("alan", display_name="Adrian Turing")  # matches "ad" by display name
    await create_account("a_b", display_name="Underscore")
    await create_account("axb", display_name="No underscore")
    await create_account("a.c", display_name="100% sure")
    await create_account("bob", display_name="Bob", is_admin=True)
    return {name: await login(name) for name in ("ada", "grace", "bob")}


async def usernames(client: ApiClient, query: str, **params: object) -> list[str]:
    extra = "".join(f"&{name}={value}" for name, value in params.items())
    answer = await client.get(f"/api/users?query={query}{extra}")
    return [item["username"] for item in answer["items"]]


async def test_finds_accounts_by_the_start_of_username_or_display_name(make_people) -> None:
    people = await make_people()
    grace = people["grace"]
    # "ad": ada and adam by username, alan by display name ("Adrian"), in username order.
    assert await usernames(grace, "ad") == ["ada", "adam", "alan"]
    assert await usernames(grace, "ada") == ["ada", "adam"]
    assert await usernames(grace, "Lovel") == []  # the start only, not anywhere in the name
    assert await usernames(grace, "Ada%20Lov") == ["ada"]
    assert await usernames(grace, "zz") == []


async def test_matching_ignores_case(make_people) -> None:
    people = await make_people()
    grace = people["grace"]
    assert await usernames(grace, "ADA") == ["ada", "adam"]
    assert await usernames(grace, "aDrIaN") == ["alan"]
    assert await usernames(grace, "hOPP") == []  # display names match from their start too
    assert await usernames(people["ada"], "GRACE%20H") == ["grace"]


async def test_wildcards_match_only_themselves(make_people) -> None:
    people = await make_people()
    grace = people["grace"]
    assert await usernames(grace, "a_") == ["a_b"]  # not axb, ada, adam, alan, a.c
    assert await usernames(grace, "a%25") == []  # "a%" is not "anything after a"
    assert await usernames(grace, "100%25") == ["a.c"]
    assert await usernames(grace, "%25%25") == []
    assert await usernames(grace, "__") == []


async def test_answers_only_names_never_emails_or_roles(make_people) -> None:
    people = await make_people()
    answer = await people["grace"].get("/api/users?query=bo")
    assert answer == {
        "items": [{"id": answer["items"][0]["id"], "username": "bob", "display_name": "Bob"}]
    }
    for item in (await people["grace"].get("/api/users?query=ad&limit=25"))["items"]:
        assert set(item) == {"id", "username", "display_name"}
    # A search by email address finds nobody: addresses are not searched either.
    assert await usernames(people["grace"], "ada@example") == []


async def test_leaves_out_disabled_accounts_and_the_caller(make_people) -> None:
    people = await make_people()
    ada, bob = people["ada"], people["bob"]
    assert await usernames(ada, "ad") == ["adam", "alan"]  # not herself
    adam = (await bob.get("/api/admin/users?q=adam"))["items"][0]
    await bob.patch(f"/api/admin/users/{adam['id']}", {"disabled": True})
    assert await usernames(people["grace"], "ad") == ["ada", "alan"]


async def test_limit_is_capped(make_people, create_account) -> None:
    people = await make_people()
    for index in range(30):
        await create_account(f"many{index:02d}")
    grace = people["grace"]
    assert len(await usernames(grace, "many")) == 10  # the default
    assert await usernames(grace, "many", limit=3) == ["many00", "many01", "many02"]
    assert len(await usernames(grace, "many", limit=25)) == 25
    too_many = await grace.request("GET", "/api/users?query=many&limit=26", expect=422)
    assert "limit" in too_many.body["message"]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("", "query: Field required"),
        ("?query=", "at least 2 characters"),
        ("?query=a", "at least 2 characters"),
        ("?query=%20a%20", "at least 2 characters"),  # spaces do not count
        (f"?query={'x' * 129}", "query"),
        ("?query=ad&limit=0", "limit"),
        ("?query=ad&limit=many", "limit"),
        ("?query=ad&email=x", "email"),
    ],
)
async def test_bad_input_is_a_422_naming_the_problem(make_people, query: str, problem: str) -> None:
    people = await make_people()
    reply = await people["grace"].request("GET", f"/api/users{query}", expect=422)
    assert problem in reply.body["message"]


async def test_anonymous_callers_get_401(make_people, anonymous: ApiClient, jp_fetch) -> None:
    await make_people()
    reply = await anonymous.request("GET", "/api/users?query=ad", expect=401)
    assert "ada" not in str(reply.body)
    forged = ApiClient(jp_fetch, headers={"Authorization": "Bearer not-a-real-token"})
    await forged.request("GET", "/api/users?query=ad", expect=401)


async def test_share_links_and_kernel_tokens_get_404(
    make_people, jp_fetch, server_services
) -> None:
    people = await make_people()
    ada = people["ada"]
    board = await ada.post("/api/dashboards", {"title": "Board"}, expect=201)
    link = await ada.post(
        "/api/dashboards/share",
        {"object_id": board["id"], "principal_type": "link"},
        expect=201,
    )
    kernel_token = await server_services.run(
        server_services.sharing.issue_kernel_link,
        DASHBOARD,
        board["id"],
        "test-kernel",
        timedelta(hours=1),
    )
    for token in (link["token"], kernel_token):
        holder = ApiClient(jp_fetch, headers={"Authorization": f"Bearer {token}"})
        reply = await holder.request("GET", "/api/users?query=ad", expect=404)
        assert "ada" not in str(reply.body)
        # The token in the URL, as a link is handed out, is refused the same way.
        by_url = ApiClient(jp_fetch, headers={"Authorization": ""})
        await by_url.request("GET", f"/api/users?query=ad&share_token={token}", expect=404)


async def test_under_users_other_paths_are_a_json_404(make_people) -> None:
    people = await make_people()
    reply = await people["grace"].request("GET", "/api/users/ada", expect=404)
    assert reply.headers["Content-Type"].startswith("application/json")
