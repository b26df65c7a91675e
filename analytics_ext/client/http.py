"""The HTTP layer of the client: one ``requests`` session, the credential, JSON and errors."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from .errors import AnalyticsError, ServerUnreachable, error_for

ENV_URL = "ANALYTICS_EXT_URL"
ENV_TOKEN = "ANALYTICS_EXT_TOKEN"  # noqa: S105 -- a variable's name: the kernel's token
ENV_API_KEY = "ANALYTICS_EXT_API_KEY"
DEFAULT_TIMEOUT = 30.0
DOWNLOAD_CHUNK_BYTES = 1 << 20


class Transport:
    """Sends requests to one server with one credential.

    In a kernel the server started, both come from the environment the server gave it
    (``ANALYTICS_EXT_URL``, ``ANALYTICS_EXT_TOKEN``); elsewhere pass them, or set
    ``ANALYTICS_EXT_URL`` and ``ANALYTICS_EXT_API_KEY``.
    """

    def __init__(
        self, url: str | None = None, token: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        url = url or os.environ.get(ENV_URL)
        token = token or os.environ.get(ENV_TOKEN) or os.environ.get(ENV_API_KEY)
        if not url:
            raise AnalyticsError(
                f"no server URL: pass url=... or set {ENV_URL} (a kernel started by the "
                "server has it already)"
            )
        if not token:
            raise AnalyticsError(
                f"no credential: pass token=... (an API key, aek_...) or set {ENV_API_KEY}"
            )
        self.url = url if url.endswith("/") else url + "/"
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"
        self._session.headers["User-Agent"] = "analytics_ext.client"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        stream: bool = False,
        timeout: float | None = None,
    ) -> requests.Response:
        """The answer to one call; raises the ``errors`` class matching an error status."""
        url = urljoin(self.url, path.lstrip("/"))
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._session.request(
                method,
                url,
                json=json,
                params=clean,
                stream=stream,
                timeout=timeout or self.timeout,
            )
        except requests.Timeout:
            raise ServerUnreachable(f"the server at {self.url} did not answer in time") from None
        except requests.ConnectionError:
            raise ServerUnreachable(f"cannot reach the server at {self.url}") from None
        if response.status_code >= 400:
            raise error_for(
                response.status_code,
                _message_of(response),
                response.headers.get("Retry-After"),
            )
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    def download(
        self,
        path: str,
        body: Any,
        target: str | os.PathLike[str] | None = None,
        *,
        method: str = "POST",
        params: Mapping[str, Any] | None = None,
    ) -> bytes | Path:
        """POST ``body`` (or send ``method`` with ``params``, e.g. a GET export) and take the
        file the server streams back: its bytes, or (``target`` given) written to that file
        chunk by chunk through a ``.part`` file, never held whole in memory; a download cut
        midway leaves no partial file behind."""
        response = self.request(method, path, json=body, params=params, stream=True)
        try:
            if target is None:
                return response.content
            final = Path(target)
            partial = final.with_name(final.name + ".part")
            try:
                with partial.open("wb") as out:
                    for chunk in response.iter_content(DOWNLOAD_CHUNK_BYTES):
                        out.write(chunk)
                partial.replace(final)
            except requests.RequestException as error:
                raise ServerUnreachable(f"the download stopped midway: {error}") from None
            finally:
                partial.unlink(missing_ok=True)
            return final
        finally:
            response.close()

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a paginated list (``items`` and ``next``), page after page."""
        query = dict(params or {})
        while True:
            page = self.json("GET", path, params=query)
            yield from page["items"]
            if not page.get("next"):
                return
            query["cursor"] = page["next"]

    def close(self) -> None:
        self._session.close()


def _message_of(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or f"HTTP {response.status_code}"
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return response.reason or f"HTTP {response.status_code}"
