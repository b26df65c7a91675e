"""Notebook widgets (ipywidgets 8) over the REST API: ``from analytics_ext import widgets``.

In a kernel the server started they need no arguments (the client connects from the kernel's
environment); elsewhere pass ``client=connect(url, api_key)``. Every call goes through
``analytics_ext.client`` in a worker thread, so the kernel stays usable while a query runs.
"""

from ._background import Background, Job, JobCancelled, JobTimeout, describe_error
from .charts import ChartBuilder, open_chart
from .datasource_browser import DatasourceBrowser
from .library_buttons import LibraryButtons
from .query_editor import QueryEditor, open_query
from .results import ResultGrid

__all__ = [
    "Background",
    "ChartBuilder",
    "DatasourceBrowser",
    "Job",
    "JobCancelled",
    "JobTimeout",
    "LibraryButtons",
    "QueryEditor",
    "ResultGrid",
    "describe_error",
    "open_chart",
    "open_query",
]
