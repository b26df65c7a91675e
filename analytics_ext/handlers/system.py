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
    """The packaged ``openapi.yaml``, parsed once per process."""
    text = resources.files("analytics_ext").joinpath("openapi.yaml").read_text("utf-8")
    return yaml.safe_load(text)


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
