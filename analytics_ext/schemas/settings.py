"""The user settings document: one typed, versioned model whose JSON Schema is the published one.

``UserSettings`` is at once the stored document (after upgrade), the ``PUT`` body, the response
body and, through ``model_json_schema()``, the schema served at ``/api/user/settings/schema``
from which the JupyterLab panel generates its settings form. So every field has a default and a
description, and constraints live in the shared ``Annotated`` types below, which the ``PATCH``
models reuse so the two bodies cannot drift apart.

Two schema keywords guide the generated form beyond the types:

- ``readOnly: true`` (standard JSON Schema): the server sets the field; the form shows it as text
  and never sends it.
- ``x-choices: <list>`` (our extension keyword; JSON Schema ignores unknown keywords): the field's
  value is one of a list the server knows, by name, e.g. ``"datasources"``. The form asks the
  provider the page registers under that name for ``{value, label}`` pairs and shows a select; with
  no provider (or if it fails) the plain field stays. The server still validates only the type.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Field

from .base import RequestModel

CHOICES_KEYWORD: Final = "x-choices"
"""Schema extension keyword naming the list a field's value is chosen from (see above)."""

SETTINGS_VERSION: Final = 1
"""The layout this code writes; older stored documents are upgraded on read."""

MIN_REFRESH_SECONDS: Final = 30
MAX_REFRESH_SECONDS: Final = 86_400


def _refresh_interval(value: int) -> int:
    # A dashboard re-running its queries more often than every 30 s hammers the datasources.
    if 0 < value < MIN_REFRESH_SECONDS:
        raise ValueError(
            f"must be 0 (off) or between {MIN_REFRESH_SECONDS} and {MAX_REFRESH_SECONDS}"
        )
    return value


# Not ``Literal[1]``: pydantic's literal check accepts ``true`` and ``1.0`` for it, even strict.
Version = Annotated[int, Field(ge=SETTINGS_VERSION, le=SETTINGS_VERSION)]
KeywordCase = Literal["upper", "lower", "preserve"]
DateFormat = Literal["YYYY-MM-DD", "DD/MM/YYYY", "MM/DD/YYYY", "DD.MM.YYYY", "D MMM YYYY"]
ChartTheme = Literal["light", "dark", "auto"]
ChartPalette = Literal["category10", "tableau10", "viridis", "colorblind"]
DatasourceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{22}$")]
RowLimit = Annotated[int, Field(ge=1, le=1_000_000)]
Indent = Annotated[int, Field(ge=2, le=8)]
RefreshSeconds = Annotated[
    int,
    Field(
        ge=0,
        le=MAX_REFRESH_SECONDS,
        # JSON Schema for the gap 1..29, so a generated form refuses it before the server does.
        json_schema_extra={
            "not": {"type": "integer", "minimum": 1, "maximum": MIN_REFRESH_SECONDS - 1}
        },
    ),
    AfterValidator(_refresh_interval),
]


class SqlFormatting(RequestModel):
    """How the SQL editor's "Format" command lays out a query."""

    keyword_case: KeywordCase = Field(
        "upper", description="Case of SQL keywords: upper, lower, or as typed (preserve)."
    )
    indent: Indent = Field(2, description="Spaces per indentation level (2 to 8).")


class Notifications(RequestModel):
    """Which events send the user an email."""

    email_on_share: bool = Field(
        True, description="Email me when someone shares a query, chart or dashboard with me."
    )
    email_on_comment: bool = Field(
        True, description="Email me when someone comments on something I own."
    )


class UserSettings(RequestModel):
    """A user's preferences. Every field has a default; unset fields take it."""

    version: Version = Field(
        SETTINGS_VERSION,
        description="Layout version of this document; the server upgrades older ones.",
        # The server writes it (one value is accepted); a form shows it and never sends it.
        json_schema_extra={"readOnly": True},
    )
    default_datasource_id: DatasourceId | None = Field(
        None,
        title="Default datasource",
        description="Datasource selected for new queries; none means ask each time.",
        json_schema_extra={CHOICES_KEYWORD: "datasources"},
    )
    default_row_limit: RowLimit = Field(
        1000, description="Rows a query or preview returns when it sets no limit (1 to 1,000,000)."
    )
    sql_formatting: SqlFormatting = Field(
        default_factory=SqlFormatting, description="How the SQL editor formats queries."
    )
    date_format: DateFormat = Field("YYYY-MM-DD", description="How dates are shown in results.")
    chart_theme: ChartTheme = Field(
        "auto", description="Chart colours: light, dark, or follow JupyterLab's theme (auto)."
    )
    chart_palette: ChartPalette = Field(
        "category10", description="Colour palette of new charts' series."
    )
    notifications: Notifications = Field(
        default_factory=Notifications, description="Email notifications."
    )
    dashboard_refresh_seconds: RefreshSeconds = Field(
        0, description="Auto-refresh interval of dashboards in seconds: 0 (off) or 30 to 86400."
    )


class SqlFormattingPatch(RequestModel):
    """Changes to ``sql_formatting``: omitted fields stay, ``null`` resets one to its default."""

    keyword_case: KeywordCase | None = None
    indent: Indent | None = None


class NotificationsPatch(RequestModel):
    """Changes to ``notifications``: omitted fields stay, ``null`` resets one to its default."""

    email_on_share: bool | None = None
    email_on_comment: bool | None = None


class UserSettingsPatch(RequestModel):
    """``PATCH /api/user/settings``: a merge. Omitted fields stay as they are, nested objects
    merge field by field, and ``null`` resets a field (or a whole nested object) to its default.
    """

    version: Version | None = None
    default_datasource_id: DatasourceId | None = None
    default_row_limit: RowLimit | None = None
    sql_formatting: SqlFormattingPatch | None = None
    date_format: DateFormat | None = None
    chart_theme: ChartTheme | None = None
    chart_palette: ChartPalette | None = None
    notifications: NotificationsPatch | None = None
    dashboard_refresh_seconds: RefreshSeconds | None = None
