"""Read the running server's own tornado router: which routes exist and which are ours."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tornado.web import Application, RequestHandler

from analytics_ext.handlers.base import AnalyticsHandler

VERBS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
SAMPLES = ("A" * 22, "1", "abc", "a.ipynb")


@dataclass(frozen=True)
class Route:
    pattern: str  # the full regex, base_url included
    handler: type[RequestHandler]

    def sample_path(self) -> str:
        """A concrete path this route matches, filling each regex group with a sample value."""
        path = _fill_groups(self.pattern.rstrip("$"))
        assert re.fullmatch(self.pattern.rstrip("$"), path), (self.pattern, path)
        return path


def _fill_groups(pattern: str) -> str:
    out, depth, start = [], 0, 0
    for index, char in enumerate(pattern):
        escaped = index > 0 and pattern[index - 1] == "\\"
        if char == "(" and not escaped:
            if depth == 0:
                out.append(pattern[start:index])
                group_start = index
            depth += 1
        elif char == ")" and not escaped:
            depth -= 1
            if depth == 0:
                group = pattern[group_start : index + 1]
                alternatives = group[3:-1].split("|") if group.startswith("(?:") else []
                candidates = [*SAMPLES, *alternatives]
                out.append(next(s for s in candidates if re.fullmatch(group, s)))
                start = index + 1
    out.append(pattern[start:])
    return re.sub(r"\\(.)", r"\1", "".join(out))


def all_routes(app: Application) -> Iterator[Route]:
    """Every handler route in the application, nested routers included."""

    def walk(router) -> Iterator[Route]:
        for rule in getattr(router, "rules", []):
            target = rule.target
            if isinstance(target, type) and issubclass(target, RequestHandler):
                yield Route(rule.matcher.regex.pattern, target)
            else:
                yield from walk(target)

    yield from walk(app.default_router)
    yield from walk(app.wildcard_router)


def _namespace(pattern: str, base_url: str) -> str:
    """``api/user/avatar`` -> ``api/user``: the area a route lives in (its literal prefix)."""
    literal = re.split(r"[\\(\[?*+.$]", pattern[len(base_url) :])[0]
    return "/".join(literal.split("/")[:2])


def our_routes(app: Application, base_url: str) -> list[Route]:
    """Routes served by analytics_ext handlers, plus any other route inside the same namespaces.

    Namespaces are derived from the router (not from a list kept by hand), so a handler that
    someone registers under one of our areas without using our base class is checked too.
    """
    routes = list(dict.fromkeys(r for r in all_routes(app) if r.pattern.startswith(base_url)))
    ours = {
        _namespace(r.pattern, base_url) for r in routes if issubclass(r.handler, AnalyticsHandler)
    }
    return [
        r
        for r in routes
        if issubclass(r.handler, AnalyticsHandler) or _namespace(r.pattern, base_url) in ours
    ]


def decorator_chain(method) -> list[tuple[str, str]]:
    """(file, function name) of each wrapper around a handler method, outermost first."""
    chain = []
    while method is not None:
        code = getattr(method, "__code__", None)
        if code is not None:
            chain.append((code.co_filename.replace("\\", "/"), code.co_name))
        method = getattr(method, "__wrapped__", None)
    return chain


def declared_verbs(handler: type[RequestHandler]) -> list[str]:
    """Verbs the handler implements (tornado's defaults answer 405)."""
    return [
        verb
        for verb in VERBS
        if getattr(handler, verb.lower()) is not getattr(RequestHandler, verb.lower())
    ]
