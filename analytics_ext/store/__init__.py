"""The metadata store: SQLAlchemy models, the session factory and packaged Alembic migrations."""

from .db import Database
from .schema import SchemaMismatch, ensure_schema, upgrade_schema

__all__ = ["Database", "SchemaMismatch", "ensure_schema", "upgrade_schema"]
