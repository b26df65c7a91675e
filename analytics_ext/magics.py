"""``%%analytics``: run a cell's SQL on a named datasource through the server, get a DataFrame.

::

    %load_ext analytics_ext

    region = "West"
    %%analytics demo -o west --row-limit 1000
    SELECT name, city FROM stores WHERE region = :region

Every ``:name`` in the SQL takes the notebook variable of that name and sends it to the server as
a parameter, which the database driver binds: values are never spliced into the SQL, so a
variable holding ``' OR 1=1 --`` is compared as that string. The placeholders are found with the
server's own rules (``engine.parameters.find_placeholders``: not inside strings, comments or
quoted names, and ``::`` casts are not parameters), so the magic asks for exactly the variables
the server will bind.

The query runs like any other through ``analytics_ext.client`` (the REST API, with the kernel's
token or ``ANALYTICS_EXT_URL`` / ``ANALYTICS_EXT_API_KEY``), so the server checks the
permission and datasource credentials never reach the kernel. The name ``analytics`` leaves
jupysql's ``%%sql`` alone.

Failures are one readable line (IPython's ``UsageError``: no traceback), and the kernel stays
usable: a missing variable names it, a failed query shows the database's message, a lost server
says so, a run that outlives ``--timeout`` or is interrupted (the stop button) is cancelled on
the server rather than left running.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import keyword
import math
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .client import (
    AnalyticsClient,
    AnalyticsError,
    AuthenticationFailed,
    PermissionDenied,
    QueryCancelled,
    QueryFailed,
    ServerUnreachable,
    connect,
)

if TYPE_CHECKING:
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell

DEFAULT_TIMEOUT = 300.0
"""Seconds the magic waits for a run before cancelling it (``--timeout``)."""


AnalyticsMagicError = UsageError
"""Every failure of the magic: IPython shows exactly this class (not a subclass) as one line,
``UsageError: ...``, without a traceback, and the cell still ends in error."""


@magics_class
class AnalyticsMagics(Magics):
    """The ``%%analytics`` cell magic (``%load_ext analytics_ext`` registers it)."""

    @magic_arguments()
    @argument("datasource", help="The datasource's name or id.")
    @argument("-o", "--out", metavar="NAME", help="Also store the DataFrame in this variable.")
    @argument("--row-limit", type=int, metavar="N", help="At most N rows (the server caps too).")
    @argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"Cancel the run if it has not ended after this long (default {DEFAULT_TIMEOUT:g}).",
    )
    @argument("--no-cache", action="store_true", help="Run in the database, not from the cache.")
    @argument("-q", "--quiet", action="store_true", help="Return nothing (with -o: only store).")
    @argument(
        "--client",
        metavar="NAME",
        help="A notebook variable holding an AnalyticsClient (default: connect() from the "
        "kernel's environment).",
    )
    @cell_magic("analytics")
    def analytics(self, line: str, cell: str) -> pd.DataFrame | None:
        """Run the cell's SQL on DATASOURCE through the analytics server; ``:name`` binds the
        notebook variable ``name``."""
        try:
            args = parse_argstring(self.analytics, line)
        except UsageError as error:
            raise AnalyticsMagicError(f"%%analytics: {error}") from None
        sql = cell.strip()
        if not sql:
            raise AnalyticsMagicError("%%analytics: the cell holds no SQL to run")
        if args.out is not None and (not args.out.isidentifier() or keyword.iskeyword(args.out)):
            raise AnalyticsMagicError(f"-o {args.out}: not a valid variable name")
        if args.row_limit is not None and args.row_limit < 1:
            raise AnalyticsMagicError("--row-limit must be at least 1")
        if not args.timeout > 0:
            raise AnalyticsMagicError("--timeout must be a positive number of seconds")
        client = self._client(args.client)
        try:
            frame = self._run(client, args, sql)
        finally:
            if args.client is None:
                client.close()
        if args.out is not None:
            self.shell.user_ns[args.out] = frame
        return None if args.quiet else frame

    # -- steps -------------------------------------------------------------------------------

    def _client(self, variable: str | None) -> AnalyticsClient:
        if variable is None:
            try:
                return connect()
            except AnalyticsError as error:
                raise AnalyticsMagicError(str(error)) from None
        if variable not in self.shell.user_ns:
            raise AnalyticsMagicError(f"--client {variable}: no notebook variable of that name")
        client = self.shell.user_ns[variable]
        if not isinstance(client, AnalyticsClient):
            raise AnalyticsMagicError(
                f"--client {variable}: holds a {type(client).__name__}, not an AnalyticsClient"
            )
        return client

    def _run(self, client: AnalyticsClient, args: Any, sql: str) -> pd.DataFrame:
        try:
            datasource = client.datasource(args.datasource)
            parameters = notebook_parameters(sql, datasource["dialect"], self.shell.user_ns)
            run = client.run(
                sql, datasource["id"], parameters, args.row_limit, bypass_cache=args.no_cache
            )
            try:
                run.wait(args.timeout)
            except (TimeoutError, KeyboardInterrupt) as stop:
                _cancel_quietly(run)
                if isinstance(stop, KeyboardInterrupt):
                    raise AnalyticsMagicError("interrupted: the query was cancelled") from None
                raise AnalyticsMagicError(
                    f"the query ran longer than {args.timeout:g} s and was cancelled "
                    "(--timeout to wait longer)"
                ) from None
            frame = run.to_pandas()
        except AnalyticsError as error:
            raise AnalyticsMagicError(describe(error, args.datasource)) from None
        frame.attrs["run_id"] = run.id
        return frame


def notebook_parameters(sql: str, dialect: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """The value of each ``:name`` of ``sql`` from ``namespace``, as JSON scalars the server binds.

    Raises ``AnalyticsMagicError`` naming a variable that is not defined or cannot be bound.
    """
    from .engine.errors import ParameterError
    from .engine.parameters import find_placeholders

    try:
        names = list(dict.fromkeys(p.name for p in find_placeholders(sql, dialect)))
    except ParameterError as error:
        raise AnalyticsMagicError(error.message) from None
    missing = [name for name in names if name not in namespace]
    if missing:
        listed = ", ".join(f"`{name}` (for :{name})" for name in missing)
        raise AnalyticsMagicError(f"the notebook variable {listed} is not defined") from None
    return {name: bindable(name, namespace[name]) for name in names}


def bindable(name: str, value: Any) -> str | int | float | bool | None:
    """``value`` as a JSON scalar: numbers, text, booleans and None as they are (numpy and
    pandas scalars unwrapped); dates and times as ISO text, which the database casts where the
    column is a date. Anything else (a list, a DataFrame) is refused, never stringified."""
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # a numpy scalar
        value = value.item()
    if hasattr(value, "to_pydatetime"):  # a pandas Timestamp
        value = value.to_pydatetime()
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float | decimal.Decimal):
        if not math.isfinite(value):
            raise AnalyticsMagicError(f"`{name}` is {value}: only finite numbers can be bound")
        return float(value) if isinstance(value, decimal.Decimal) else value
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    raise AnalyticsMagicError(
        f"`{name}` holds a {type(value).__name__}: only text, numbers, booleans, None, dates "
        "and times can be bound as a parameter"
    )


def describe(error: AnalyticsError, datasource: str) -> str:
    """One line saying what went wrong, for someone who is not reading a traceback."""
    where = f"datasource {datasource!r}"
    if isinstance(error, ServerUnreachable):
        return f"lost the analytics server ({error}); is it running?"
    if isinstance(error, AuthenticationFailed):
        return f"the server refused this kernel's credentials ({error})"
    if isinstance(error, PermissionDenied):
        return f"{where}: not allowed ({error})"
    if isinstance(error, QueryFailed):
        return f"the query failed on {where}: {error}"
    if isinstance(error, QueryCancelled):
        return f"the query on {where} was cancelled: {error}"
    return f"{where}: {error}"


def _cancel_quietly(run: Any) -> None:
    # The server may be gone, or the run ended meanwhile: then there is nothing left to stop.
    with contextlib.suppress(AnalyticsError):
        run.cancel()


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext analytics_ext``: register ``%%analytics``."""
    ipython.register_magics(AnalyticsMagics)
