"""The generated default avatar: initials on a colour, until a user uploads a picture."""

from __future__ import annotations

from xml.sax.saxutils import escape

from ..auth.identity import color_of, initials_of


def default_avatar_svg(display_name: str, user_id: str) -> str:
    """A 256 px square SVG. The name is escaped: it is user input rendered into markup."""
    initials = escape(initials_of(display_name))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">'
        f'<rect width="256" height="256" rx="128" fill="{color_of(user_id)}"/>'
        '<text x="128" y="128" dy=".35em" text-anchor="middle" fill="#fff" '
        f'font-family="sans-serif" font-size="104">{initials}</text></svg>'
    )
