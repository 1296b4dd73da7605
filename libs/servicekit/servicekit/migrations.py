"""Alembic, driven from code: each service's `migrations/` folder, run at start-up.

A service's `migrations/env.py` is two lines (`from servicekit.migrations import run_env;
run_env(metadata)`), so all services migrate the same way.
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, pool, text

from servicekit.db import ensure_database, libpq_url


def migrations_dir(package: str) -> Path:
    """A service's `migrations/`: inside its package when installed, beside it in a checkout."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"package {package!r} is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    for candidate in (root / "migrations", root.parent / "migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise LookupError(f"no migrations found for {package!r}")


# One key for "a migration of this database is running" (any 64-bit number; this is ours).
MIGRATION_LOCK = 0x7265616C747901


def alembic_config(url: str, migrations_dir: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", libpq_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, migrations_dir: Path, revision: str = "head") -> None:
    command.upgrade(alembic_config(url, migrations_dir), revision)


async def migrate(url: str, migrations_dir: Path | str) -> None:
    """Create the database if needed and bring it to the latest revision."""
    await ensure_database(url)
    await asyncio.to_thread(upgrade, url, Path(migrations_dir))


def run_env(target_metadata: MetaData) -> None:
    """Body of a service's `migrations/env.py` (online mode only)."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url
    sync_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(sync_url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            # Replicas starting together migrate one after another: the first upgrades, the
            # others wait here, then find the database at head and do nothing.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            context.run_migrations()
    engine.dispose()
