"""A small JSON client over pytest-jupyter's ``jp_fetch``, so tests read like API calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from tornado.httpclient import HTTPResponse


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any


class ApiClient:
    def __init__(self, jp_fetch: Any, headers: dict[str, str] | None = None) -> None:
        self._fetch = jp_fetch
        self._headers = headers

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        expect: int | None = None,
    ) -> Reply:
        all_headers = {**(self._headers or {}), **(headers or {})}
        kwargs: dict[str, Any] = {"method": method, "raise_error": False, "headers": all_headers}
        if raw is not None or body is not None:
            kwargs["body"] = raw if raw is not None else json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        elif method in {"POST", "PUT", "PATCH"}:
            kwargs["allow_nonstandard_methods"] = True
        path, _, query = path.partition("?")
        # A list of pairs keeps repeated parameters (?type=a&type=b); jp_fetch urlencodes it.
        kwargs["params"] = parse_qsl(query, keep_blank_values=True)
        response: HTTPResponse = await self._fetch(*path.strip("/").split("/"), **kwargs)
        text = response.body.decode() if response.body else ""
        content_type = response.headers.get("Content-Type", "")
        is_json = content_type.startswith("application/json") and response.code != 304
        payload = json.loads(text) if text and is_json else text
        reply = Reply(response.code, payload, response.headers)
        if expect is not None:
            assert reply.status == expect, f"{method} {path}: {reply.status} {payload!r}"
        return reply

    async def get(self, path: str, **kwargs: Any) -> Any:
        return (await self.request("GET", path, expect=kwargs.pop("expect", 200), **kwargs)).body

    async def patch(self, path: str, body: Any, **kwargs: Any) -> Any:
        return (
            await self.request("PATCH", path, body, expect=kwargs.pop("expect", 200), **kwargs)
        ).body

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return (
            await self.request("POST", path, body, expect=kwargs.pop("expect", 200), **kwargs)
        ).body

    async def delete(self, path: str, **kwargs: Any) -> Any:
        return (await self.request("DELETE", path, expect=kwargs.pop("expect", 204), **kwargs)).body
