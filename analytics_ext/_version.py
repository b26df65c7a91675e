"""The package version, kept in one place so the wheel, the REST API and the sidebar agree."""

__version__ = "0.1.0"
