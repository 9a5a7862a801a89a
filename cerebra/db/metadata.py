"""The one SQLAlchemy MetaData every table is defined on (cerebra.db.schema and
cerebra.db.agent_tables), so migrations and the code see one schema."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
