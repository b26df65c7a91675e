"""SQLAlchemy backend names → sqlglot dialect names (one table, used by every engine module)."""

from __future__ import annotations

SQLGLOT_DIALECTS = {
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "mssql": "tsql",
    "oracle": "oracle",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "trino": "trino",
    "presto": "presto",
    "redshift": "redshift",
    "clickhouse": "clickhouse",
    "databricks": "databricks",
    "hive": "hive",
    "teradata": "teradata",
}


def sqlglot_dialect(backend: str) -> str | None:
    """The sqlglot dialect for a SQLAlchemy backend, or None (sqlglot's generic SQL)."""
    return SQLGLOT_DIALECTS.get(backend)
