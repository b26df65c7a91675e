"""Liveness, server information and the REST contract."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import jupyter_server
import yaml
from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from tornado import web

from .._version import __version__
from ..auth import resources as res
from .base import AnalyticsHandler


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The REST contract: ``openapi/base.yaml`` plus one fragment per area, merged once.

    Each area's handlers module has its own fragment (``paths`` and ``components``), so areas
    can be written side by side without editing one large file; a name defined twice is an error.
    """
    folder = resources.files("analytics_ext").joinpath("openapi")
    document = yaml.safe_load(folder.joinpath("base.yaml").read_text("utf-8"))
    fragments = sorted(
        (f for f in folder.iterdir() if f.name.endswith(".yaml") and f.name != "base.yaml"),
        key=lambda f: f.name,
    )
    for fragment in fragments:
        part = yaml.safe_load(fragment.read_text("utf-8")) or {}
        _merge(document["paths"], part.get("paths", {}), fragment.name)
        for section, entries in part.get("components", {}).items():
            _merge(document["components"].setdefault(section, {}), entries, fragment.name)
    return document


def _merge(into: dict[str, Any], entries: dict[str, Any], source: str) -> None:
    clash = sorted(set(into) & set(entries))
    if clash:
        raise ValueError(f"openapi/{source} redefines {', '.join(clash)}")
    into.update(entries)


class HealthHandler(AnalyticsHandler):
    """Liveness for load balancers and supervisors: public, and says nothing else."""

    auth_resource = res.SYSTEM

    @allow_unauthenticated
    def get(self) -> None:
        self.write_json({"status": "ok"})


class InfoHandler(AnalyticsHandler):
    auth_resource = res.SYSTEM

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json(
            {
                "version": __version__,
                "jupyter_server_version": jupyter_server.__version__,
                "multi_user": self.settings["analytics_ext"].multi_user,
                "store": self.services.db.backend,
            }
        )


class OpenAPIHandler(AnalyticsHandler):
    auth_resource = res.SYSTEM

    @web.authenticated
    @authorized
    def get(self) -> None:
        document = dict(openapi_document())
        base_url = self.base_url.rstrip("/")
        if base_url:
            document["servers"] = [{"url": base_url}]
        self.write_json(document)


class NotFoundHandler(AnalyticsHandler):
    """Any other path in our API areas: a JSON 404 (after authentication), not Jupyter's HTML
    page, so clients always get the error format the API promises."""

    auth_resource = res.SYSTEM

    def _missing(self, *_args: str) -> None:
        raise web.HTTPError(404, "no such API route", reason="Not Found")

    @web.authenticated
    @authorized
    def get(self, *args: str) -> None:
        self._missing()

    @web.authenticated
    @authorized
    def post(self, *args: str) -> None:
        self._missing()

    @web.authenticated
    @authorized
    def put(self, *args: str) -> None:
        self._missing()

    @web.authenticated
    @authorized
    def patch(self, *args: str) -> None:
        self._missing()

    @web.authenticated
    @authorized
    def delete(self, *args: str) -> None:
        self._missing()
