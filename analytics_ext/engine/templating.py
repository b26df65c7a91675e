"""Query templates: Jinja2 SQL whose parameters render as bind placeholders, never as values.

A template is checked twice over. Jinja2's ``ImmutableSandboxedEnvironment`` (no loader, no
globals, no filters) already keeps a template away from Python internals and files; on top of
it every parsed template must pass a whitelist of its syntax tree (``check``), so a template can
only ever be:

- text, and ``{{ name }}`` for a declared parameter, which renders the placeholder ``:name``;
- ``{% if %}`` / ``{% elif %}`` / ``{% else %}`` whose tests use declared names, constants,
  comparisons, ``is defined`` / ``is undefined`` / ``is none``, ``and`` / ``or`` / ``not``;
- comments and ``{% raw %}``.

Anything else — attribute or item access, calls, filters, ``include`` / ``import`` /
``extends``, macros, ``set``, loops, arithmetic, undeclared names — is refused with a 422 on
``body`` that names the construct and its line, and never shows an object or a file.

Values only decide which ``{% if %}`` branches are taken: a value never reaches the text of the
SQL, so the driver binds every one of them (``engine.parameters``). Rendering is linear in the
template's size (no loops, no calls), and is capped in size and time anyway.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from jinja2 import Template, Undefined, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from analytics_ext.errors import Invalid

MAX_TEMPLATE_CHARS: Final = 100_000
MAX_RENDERED_CHARS: Final = 1_000_000
MAX_NODES: Final = 10_000
MAX_DEPTH: Final = 40
"""Nested ``{% if %}`` levels (and expression depth) a template may use."""
RENDER_SECONDS: Final = 2.0
_MARK: Final = "\x00"
"""Brackets a placeholder while rendering; refused in a template's own text."""
_TESTS: Final = frozenset({"defined", "undefined", "none"})
_COMPARISONS: Final = frozenset({"eq", "ne", "gt", "gteq", "lt", "lteq", "in", "notin"})
_CONSTANT_TYPES: Final = (str, int, float, bool, type(None))

_REFUSED: Final[dict[type[nodes.Node], str]] = {
    nodes.Getattr: "attribute access (.name)",
    nodes.Getitem: "item access ([...])",
    nodes.Slice: "slices",
    nodes.Call: "function calls",
    nodes.Filter: "filters (|)",
    nodes.FilterBlock: "{% filter %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Extends: "{% extends %}",
    nodes.Block: "{% block %}",
    nodes.Macro: "macros",
    nodes.CallBlock: "{% call %}",
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}",
    nodes.For: "loops ({% for %})",
    nodes.With: "{% with %}",
    nodes.Scope: "{% autoescape %}",
    nodes.ScopedEvalContextModifier: "{% autoescape %}",
    nodes.EvalContextModifier: "{% autoescape %}",
    nodes.CondExpr: "inline if-expressions (a if b else c)",
    nodes.Concat: "concatenation (~)",
    nodes.BinExpr: "arithmetic",
    nodes.Dict: "dictionaries",
}


@dataclass(frozen=True)
class TemplateNames:
    """The names a template may use, from its parameter definitions.

    ``outputs`` may be written as ``{{ name }}`` (the names the driver binds: a date range
    ``period`` binds ``period_start`` and ``period_end``); ``tests`` may appear in ``{% if %}``
    (the parameters themselves and the names they bind); ``ranges`` maps a range parameter to
    its two bound names, so ``{{ period }}`` gets a message that says what to write instead.
    """

    outputs: frozenset[str]
    tests: frozenset[str]
    ranges: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, bound: Mapping[str, Iterable[str]]) -> TemplateNames:
        """From ``{parameter name: [names it binds]}``."""
        outputs = {name for names in bound.values() for name in names}
        ranges = tuple(
            (name, tuple(names)) for name, names in bound.items() if list(names) != [name]
        )
        return cls(frozenset(outputs), frozenset(outputs | set(bound)), ranges)


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=None,
        autoescape=False,
        undefined=Undefined,
        keep_trailing_newline=True,
        cache_size=0,
    )
    env.globals.clear()  # no range, lipsum, cycler, joiner, namespace, dict
    env.filters.clear()
    env.tests = {name: test for name, test in env.tests.items() if name in _TESTS}
    return env


_ENV: Final = _environment()


def check(body: str, names: TemplateNames) -> None:
    """Refuse (``Invalid("body", ...)``) a template that is not plain, whitelisted syntax."""
    _compiled(body, names)


def render(body: str, names: TemplateNames, values: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The SQL, with ``:name`` placeholders, and the bound names it uses (first use first).

    ``values`` decide the ``{% if %}`` tests: a name without a value (absent or None) is
    undefined, so ``{% if region %}`` and ``{% if region is defined %}`` are false for it.
    """
    template = _compiled(body, names)
    context = {name: value for name, value in values.items() if value is not None}
    deadline = time.monotonic() + RENDER_SECONDS
    parts: list[str] = []
    size = 0
    try:
        for chunk in template.generate(context):
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_RENDERED_CHARS:
                raise Invalid("body", f"renders to more than {MAX_RENDERED_CHARS} characters")
            if time.monotonic() > deadline:
                raise Invalid("body", f"took longer than {RENDER_SECONDS:g} s to render")
    except UndefinedError:
        raise Invalid(
            "parameters", "a condition compares a parameter that has no value; "
            "test it with 'is defined' first"
        ) from None  # fmt: skip
    except (TypeError, ValueError, ArithmeticError):
        raise Invalid(
            "parameters", "a condition compares values of different types"
        ) from None  # fmt: skip
    except SecurityError:  # unreachable after the whitelist; kept as a second wall
        raise Invalid("body", "the template tried something the sandbox forbids") from None
    pieces = "".join(parts).split(_MARK)
    used: list[str] = []
    for index in range(1, len(pieces), 2):  # odd pieces are the names between marks
        name = pieces[index]
        pieces[index] = ":" + name
        if name not in used:
            used.append(name)
    return "".join(pieces), used


@functools.lru_cache(maxsize=256)
def _compiled(body: str, names: TemplateNames) -> Template:
    if len(body) > MAX_TEMPLATE_CHARS:
        raise Invalid("body", f"must be at most {MAX_TEMPLATE_CHARS} characters")
    if _MARK in body:
        raise Invalid("body", "must not contain NUL characters")
    try:
        tree = _ENV.parse(body)
    except TemplateSyntaxError as error:
        message = _printable(error.message or "syntax error")
        raise Invalid("body", f"{message} (line {error.lineno})") from None
    except RecursionError:
        raise Invalid("body", f"nests more than {MAX_DEPTH} levels deep") from None
    _Checker(names).template(tree)
    return _ENV.from_string(_placeholders(tree))


def _printable(text: str) -> str:
    """A parser message, short and on one line (it quotes at most a token of the template)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= 200 else flat[:197] + "..."


def _placeholders(tree: nodes.Template) -> nodes.Template:
    """``{{ name }}`` becomes marked text, so no value can be written where a name was."""
    for output in tree.find_all(nodes.Output):
        output.nodes = [
            nodes.TemplateData(f"{_MARK}{node.name}{_MARK}", lineno=node.lineno)
            if isinstance(node, nodes.Name)
            else node
            for node in output.nodes
        ]
    return tree


class _Checker:
    """Walks a parsed template and refuses every node outside the whitelist."""

    def __init__(self, names: TemplateNames) -> None:
        self._names = names
        self._ranges = dict(names.ranges)
        self._count = 0

    def template(self, tree: nodes.Template) -> None:
        self._statements(tree.body, 0)

    def _visit(self, node: nodes.Node, depth: int) -> None:
        self._count += 1
        if self._count > MAX_NODES:
            raise Invalid("body", f"has more than {MAX_NODES} elements")
        if depth > MAX_DEPTH:
            raise Invalid("body", f"nests more than {MAX_DEPTH} levels deep")

    def _refuse(self, node: nodes.Node, what: str | None = None) -> Invalid:
        construct = what or _construct(node)
        return Invalid("body", f"not allowed in a query template: {construct}{_line(node)}")

    def _statements(self, body: list[nodes.Node], depth: int) -> None:
        for node in body:
            self._visit(node, depth)
            if isinstance(node, nodes.Output):
                for child in node.nodes:
                    self._output(child, depth + 1)
            elif isinstance(node, nodes.If):
                self._if(node, depth + 1)
            else:
                raise self._refuse(node)

    def _if(self, node: nodes.If, depth: int) -> None:
        self._test(node.test, depth)
        self._statements(node.body, depth)
        for branch in node.elif_:
            self._visit(branch, depth)
            self._if(branch, depth + 1)
        self._statements(node.else_, depth)

    def _output(self, node: nodes.Node, depth: int) -> None:
        self._visit(node, depth)
        if isinstance(node, nodes.TemplateData):
            return
        if isinstance(node, nodes.Name):
            if node.name in self._names.outputs:
                return
            if node.name in self._ranges:
                start, end = self._ranges[node.name]
                raise Invalid(
                    "body",
                    f"{node.name!r} is a date range: write {{{{ {start} }}}} and "
                    f"{{{{ {end} }}}}{_line(node)}",
                )
            raise self._undeclared(node)
        if any(kind in _REFUSED for kind in type(node).__mro__):
            raise self._refuse(node)
        raise self._refuse(
            node, "{{ }} around anything but a parameter name (write literal SQL as text)"
        )

    def _undeclared(self, node: nodes.Name) -> Invalid:
        return Invalid("body", f"{node.name!r} is not a parameter of this template{_line(node)}")

    def _test(self, node: nodes.Node, depth: int) -> None:
        """A condition: names, constants, comparisons, is-tests and boolean operators."""
        self._visit(node, depth)
        if isinstance(node, nodes.Name):
            if node.name not in self._names.tests:
                raise self._undeclared(node)
        elif isinstance(node, nodes.Const):
            self._constant(node)
        elif isinstance(node, (nodes.And, nodes.Or)):
            self._test(node.left, depth + 1)
            self._test(node.right, depth + 1)
        elif isinstance(node, nodes.Not):
            self._test(node.node, depth + 1)
        elif isinstance(node, nodes.Test):
            if node.name not in _TESTS or node.args or node.kwargs:
                raise self._refuse(node, "tests other than 'defined', 'undefined' and 'none'")
            if node.dyn_args is not None or node.dyn_kwargs is not None:
                raise self._refuse(node, "test arguments")
            self._test(node.node, depth + 1)
        elif isinstance(node, nodes.Compare):
            self._operand(node.expr, depth + 1)
            for operand in node.ops:
                if operand.op not in _COMPARISONS:
                    raise self._refuse(node, f"the comparison {operand.op!r}")
                self._operand(operand.expr, depth + 1)
        else:
            raise self._refuse(node)

    def _operand(self, node: nodes.Node, depth: int) -> None:
        self._visit(node, depth)
        if isinstance(node, (nodes.Tuple, nodes.List)):  # `region in ('EU', 'US')`
            for item in node.items:
                self._visit(item, depth + 1)
                self._literal(item)
        elif isinstance(node, nodes.Name):
            self._test(node, depth)
        else:
            self._literal(node)

    def _literal(self, node: nodes.Node) -> None:
        if isinstance(node, (nodes.Neg, nodes.Pos)) and isinstance(node.node, nodes.Const):
            if isinstance(node.node.value, (int, float)) and not isinstance(node.node.value, bool):
                return
            raise self._refuse(node, "signs on anything but a number")
        if isinstance(node, nodes.Const):
            self._constant(node)
            return
        raise self._refuse(node)

    def _constant(self, node: nodes.Const) -> None:
        if not isinstance(node.value, _CONSTANT_TYPES):
            raise self._refuse(node, "constants other than text, numbers, booleans and none")


def _construct(node: nodes.Node) -> str:
    """What to call a refused node: the table's name for it (or a base class's), else its
    Jinja node type, which says what it is."""
    for kind in type(node).__mro__:
        if kind in _REFUSED:
            return _REFUSED[kind]
    return f"the {type(node).__name__} construct"


def _line(node: nodes.Node) -> str:
    return f" (line {node.lineno})" if node.lineno else ""
