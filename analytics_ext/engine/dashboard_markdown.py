"""Markdown tiles rendered to HTML that is safe to put in a viewer's page.

A dashboard's markdown is written by its editors and read by everyone it is shared with,
including share-link holders: whatever an editor types must never run as script in a viewer's
browser, nor make the viewer's browser fetch something on its own. So:

- raw HTML is off (``<script>``, ``<img onerror=...>`` come out as escaped text);
- links keep only ``http``, ``https``, ``mailto`` and relative targets (``javascript:``,
  ``data:``, ``vbscript:``, ``file:`` and protocol-relative ``//host`` links lose their
  target); every link opens in a new tab with ``rel="noopener noreferrer nofollow"``;
- images are not loaded: an image written in markdown is shown as a link to it, since an
  image fetched from another host would tell that host who views the dashboard, and a static
  export must stay self-contained.

Tables (GitHub style) and strikethrough are enabled: they cost nothing and dashboards use
them for small legends.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
_SCHEME = re.compile(r"^([^/?#]*):")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


def is_safe_link(url: str) -> bool:
    """True for an ``http``/``https``/``mailto`` URL or a relative reference.

    Anything with another scheme is refused, including schemes browsers would still recognise
    after stripping whitespace or control characters (``java\\tscript:``), and ``//host``
    references (they take the page's scheme, which for an exported file is ``file:``).
    """
    compact = _INVISIBLE.sub("", url)
    if compact.startswith(("//", "\\\\", "/\\", "\\/")):
        return False
    match = _SCHEME.match(compact)
    if match is None:
        return True
    return match.group(1).lower() in ALLOWED_SCHEMES


def _link_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    token.attrSet("rel", LINK_REL)
    token.attrSet("target", "_blank")
    return self.renderToken(tokens, idx, options, env)


def _image_as_link(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """``![alt](src)`` → a link to ``src`` labelled with the alt text (never fetched)."""
    token = tokens[idx]
    label = self.renderInlineAsText(token.children or [], options, env) or "image"
    src = str(token.attrGet("src") or "")
    escape = _escape
    if not src or not is_safe_link(src):
        return escape(label)
    return f'<a href="{escape(src)}" rel="{LINK_REL}" target="_blank">{escape(label)}</a>'


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _build() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    # markdown-it's own check refuses javascript:/vbscript:/file: and most data: URLs; ours is
    # stricter (an allow-list), and applies to autolinks and images too.
    md.validateLink = is_safe_link  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("image", _image_as_link)
    return md


_MARKDOWN = _build()


def render_markdown(text: str) -> str:
    """``text`` as HTML with no raw markup, no script-capable link and no image fetch."""
    rendered: Any = _MARKDOWN.render(text)
    return str(rendered)
