"""Save, Favorite and Share for the query in an editor.

Save writes a new saved query the first time and a new version after that (``PATCH`` with
``base_version``, so someone else's newer save is never overwritten: the widget says so and
offers "Save as new"). Favorite stars and unstars it. Share gives a user a level on it or makes
a view-only share link, whose address is shown once. Every call runs in the editor's
``Background``; failures appear as one readable line.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from ..client.errors import Conflict
from ._background import Background, Job, describe_error

if TYPE_CHECKING:
    from ..client import AnalyticsClient

Draft = Callable[[], dict[str, Any]]
"""What would be saved now: ``sql``, ``datasource_id``, ``parameters`` (typed definitions)."""


class LibraryButtons(widgets.VBox):
    """The library row of a ``QueryEditor`` (usable alone with any ``draft`` callable)."""

    query_id = traitlets.Unicode(None, allow_none=True)
    version = traitlets.Int(0)
    favorite = traitlets.Bool(False)
    message = traitlets.Unicode("")

    def __init__(
        self,
        client: AnalyticsClient,
        draft: Draft,
        *,
        background: Background | None = None,
        on_saved: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._client = client
        self._draft = draft
        self._background = background or Background()
        self._on_saved = on_saved
        self.name = widgets.Text(placeholder="name of the saved query", layout={"width": "260px"})
        self._save = widgets.Button(description="Save", icon="save", tooltip="Save a new version")
        self._save_new = widgets.Button(description="Save as new", icon="copy")
        self._favorite = widgets.Button(description="Favorite", icon="star-o", disabled=True)
        self._share_toggle = widgets.Button(description="Share…", icon="share", disabled=True)
        self._save.on_click(lambda _: self.save())
        self._save_new.on_click(lambda _: self.save(as_new=True))
        self._favorite.on_click(lambda _: self.toggle_favorite())
        self._share_toggle.on_click(lambda _: self._toggle_share_panel())
        self.user = widgets.Text(placeholder="user id", layout={"width": "240px"})
        self.level = widgets.Dropdown(options=["view", "edit", "manage"], layout={"width": "100px"})
        share_user = widgets.Button(description="Share with user")
        share_link = widgets.Button(description="Create link", icon="link")
        share_user.on_click(lambda _: self.share(self.user.value.strip(), self.level.value))
        share_link.on_click(lambda _: self.share_link())
        self._share_panel = widgets.HBox(
            [self.user, self.level, share_user, share_link], layout={"display": "none"}
        )
        self._status = widgets.HTML("")
        row = widgets.HBox(
            [self.name, self._save, self._save_new, self._favorite, self._share_toggle]
        )
        super().__init__([row, self._share_panel, self._status])

    def load(self, query: dict[str, Any]) -> Job[Any]:
        """Follow a saved query (after it was opened or saved): its id, version and name, and
        whether it is a favorite."""
        self.query_id = query["id"]
        self.version = query["version"]
        self.name.value = query["name"]
        self._favorite.disabled = self._share_toggle.disabled = False
        query_id = query["id"]

        def is_favorite(job: Job[bool]) -> bool:
            job.check()
            return any(f["object_id"] == query_id for f in self._client.favorites())

        return self._background.start(
            is_favorite, on_result=self._show_favorite, on_error=self._failed, key="favorite"
        )

    def save(self, as_new: bool = False) -> Job[Any]:
        """Save the draft: a new query (the first time, or ``as_new``), else a new version."""
        draft, name = self._draft(), self.name.value.strip()
        query_id, base = (None, 0) if as_new else (self.query_id, self.version)
        self._say("Saving…")

        def save(job: Job[dict[str, Any]]) -> dict[str, Any]:
            job.check()
            if not name:
                raise ValueError("give the query a name first")
            if not draft["datasource_id"]:
                raise ValueError("choose a datasource first")
            if query_id is None:
                return self._client.save_query(
                    name, draft["sql"], draft["datasource_id"], draft["parameters"]
                )
            return self._client.update_query(
                query_id, base_version=base, name=name, sql=draft["sql"],
                datasource=draft["datasource_id"], parameters=draft["parameters"],
            )  # fmt: skip

        return self._background.start(save, on_result=self._saved, on_error=self._failed)

    def toggle_favorite(self) -> Job[Any] | None:
        if self.query_id is None:
            return None
        query_id, add = self.query_id, not self.favorite

        def toggle(job: Job[bool]) -> bool:
            job.check()
            if add:
                self._client.add_favorite(query_id)
            else:
                self._client.remove_favorite(query_id)
            return add

        return self._background.start(
            toggle, on_result=self._show_favorite, on_error=self._failed, key="favorite"
        )

    def share(self, user_id: str, level: str = "view") -> Job[Any] | None:
        """Give the account ``user_id`` ``level`` on the saved query."""
        if self.query_id is None:
            return None
        query_id = self.query_id

        def grant(job: Job[dict[str, Any]]) -> dict[str, Any]:
            job.check()
            if not user_id:
                raise ValueError("enter the id of the user to share with")
            return self._client.share_query(query_id, user_id, level)

        def granted(grant: dict[str, Any]) -> None:
            who = grant.get("principal_name") or grant["principal_id"]
            self._say(f"Shared with {who} ({grant['level']}).")

        return self._background.start(grant, on_result=granted, on_error=self._failed)

    def share_link(self) -> Job[Any] | None:
        """A view-only share link; its address is shown once."""
        if self.query_id is None:
            return None
        query_id = self.query_id

        def link(job: Job[dict[str, Any]]) -> dict[str, Any]:
            job.check()
            return self._client.share_query(query_id, link=True)

        def made(grant: dict[str, Any]) -> None:
            url = html.escape(grant.get("url") or grant.get("token") or "")
            self._say(f"Share link (view only, shown once): <code>{url}</code>", is_html=True)

        return self._background.start(link, on_result=made, on_error=self._failed)

    # -- internals -------------------------------------------------------------------------------

    def _toggle_share_panel(self) -> None:
        shown = self._share_panel.layout.display != "none"
        self._share_panel.layout.display = "none" if shown else "flex"

    def _saved(self, query: dict[str, Any]) -> None:
        self.load(query)
        self._say(f"Saved {query['name']!r}, version {query['version']}.")
        if self._on_saved is not None:
            self._on_saved(query)

    def _show_favorite(self, favorite: bool) -> None:
        self.favorite = favorite
        self._favorite.icon = "star" if favorite else "star-o"
        self._favorite.description = "Favorited" if favorite else "Favorite"

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, Conflict):
            self._say(
                f"Not saved: {error.message}. Someone saved a newer version; reopen the query "
                "or use Save as new.",
                error=True,
            )
            return
        self._say(describe_error(error), error=True)

    def _say(self, text: str, *, error: bool = False, is_html: bool = False) -> None:
        self.message = text
        body = text if is_html else html.escape(text)
        color = "var(--jp-error-color1,#c00)" if error else "inherit"
        self._status.value = f'<span style="color:{color}">{body}</span>'
