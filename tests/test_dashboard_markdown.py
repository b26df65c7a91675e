"""Markdown tiles: what an editor types comes out inert for every viewer.

Raw HTML, script-capable links in every spelling we know of, and images (which would make
viewers' browsers fetch from another host) are tried; the allowed links get rel=noopener.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from analytics_ext.engine.dashboard_markdown import is_safe_link, render_markdown


class _Elements(HTMLParser):
    """Every start tag with its attributes, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.tags


def assert_inert(html: str) -> None:
    for tag, attrs in elements(html):
        assert tag not in {"script", "img", "iframe", "object", "embed", "style", "svg"}, html
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            if name in {"href", "src"}:
                assert value is not None, html
                assert is_safe_link(value), html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "before <script>alert(1)</script> after",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src='https://evil.example'></iframe>",
        "<style>body{display:none}</style>",
        "<svg onload=alert(1)>",
        "<div onclick='alert(1)'>hi</div>",
    ],
    ids=["script", "inline-script", "img-onerror", "raw-anchor", "iframe", "style", "svg", "div"],
)
def test_raw_html_is_escaped_text(text: str) -> None:
    html = render_markdown(text)
    assert_inert(html)
    assert "&lt;" in html
    assert elements(html) == [("p", {})]


@pytest.mark.parametrize(
    "text",
    [
        "[x](javascript:alert(1))",
        "[x](JavaScript:alert(1))",
        "[x](jav&#x61;script:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](<java\tscript:alert(1)>)",
        "[x]( javascript:alert(1))",
        "<javascript:alert(1)>",
        "[x][ref]\n\n[ref]: javascript:alert(1)",
    ],
    ids=["plain", "mixed-case", "hex-entity", "dec-entity", "tab", "space", "autolink", "ref"],
)
def test_javascript_links_lose_their_target(text: str) -> None:
    html = render_markdown(text)
    assert_inert(html)
    assert "href" not in html


@pytest.mark.parametrize(
    "text",
    [
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x](data:image/png;base64,iVBORw0KGgo=)",
        "<data:text/html,hi>",
    ],
    ids=["data-html", "data-image", "data-autolink"],
)
def test_data_links_lose_their_target(text: str) -> None:
    html = render_markdown(text)
    assert_inert(html)
    assert "href" not in html


@pytest.mark.parametrize(
    "text",
    ["[x](vbscript:msgbox(1))", "[x](VBScript:msgbox(1))", "<vbscript:msgbox(1)>"],
    ids=["plain", "mixed-case", "autolink"],
)
def test_vbscript_links_lose_their_target(text: str) -> None:
    html = render_markdown(text)
    assert_inert(html)
    assert "href" not in html


@pytest.mark.parametrize(
    "text",
    ["[x](file:///etc/passwd)", "[x](//evil.example/x)", "[x](ftp://host/x)"],
    ids=["file", "protocol-relative", "ftp"],
)
def test_other_schemes_lose_their_target(text: str) -> None:
    assert "href" not in render_markdown(text)


@pytest.mark.parametrize(
    ("text", "href"),
    [
        ("[site](https://example.com/a?b=1)", "https://example.com/a?b=1"),
        ("[site](http://example.com)", "http://example.com"),
        ("<https://example.com>", "https://example.com"),
        ("[mail](mailto:team@example.com)", "mailto:team@example.com"),
        ("[doc](../reports/q1#top)", "../reports/q1#top"),
        ("[doc](/analytics/dashboards)", "/analytics/dashboards"),
    ],
    ids=["https", "http", "autolink", "mailto", "relative", "absolute-path"],
)
def test_allowed_links_open_safely(text: str, href: str) -> None:
    anchors = [attrs for tag, attrs in elements(render_markdown(text)) if tag == "a"]
    assert anchors == [{"href": href, "rel": "noopener noreferrer nofollow", "target": "_blank"}]


def test_images_are_links_never_fetched() -> None:
    html = render_markdown("![logo](https://cdn.example/logo.png) ![x](javascript:alert(1))")
    assert "<img" not in html
    anchors = [attrs for tag, attrs in elements(html) if tag == "a"]
    assert [a["href"] for a in anchors] == ["https://cdn.example/logo.png"]
    assert_inert(html)


def test_image_alt_text_is_escaped() -> None:
    html = render_markdown('![<b onmouseover="x">](https://example.com/i.png)')
    assert_inert(html)
    assert "<b" not in html


def test_markup_in_text_and_code_is_escaped() -> None:
    html = render_markdown("**bold** `<script>` and *x* < y & z")
    assert "<strong>bold</strong>" in html
    assert "<code>&lt;script&gt;</code>" in html
    assert "&lt; y &amp; z" in html


def test_tables_and_strikethrough() -> None:
    html = render_markdown("| region | target |\n|---|---:|\n| <b>north</b> | 10 |\n\n~~old~~")
    tags = [tag for tag, _ in elements(html)]
    assert {"table", "thead", "tbody", "th", "td", "s"} <= set(tags)
    assert "&lt;b&gt;north&lt;/b&gt;" in html


def test_headings_and_lists() -> None:
    html = render_markdown("# Sales\n\n- one\n- two\n")
    assert [tag for tag, _ in elements(html)] == ["h1", "ul", "li", "li"]
