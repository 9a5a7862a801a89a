"""Alembic environment: runs migrations on the engine handed over by cerebra.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):  # `alembic` CLI use: build one from the URL
    from cerebra.db.engine import make_engine

    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")

with engine.connect() as connection:
    context.configure(connection=connection, render_as_batch=engine.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
