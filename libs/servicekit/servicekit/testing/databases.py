"""Isolated databases per test, cloned from a migrated template (fast: no migration per test)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from servicekit.db import libpq_url
from servicekit.migrations import migrate


class DatabaseFactory:
    def __init__(self, server_url: str, *, prefix: str = "t") -> None:
        self.server_url = server_url
        self.prefix = f"{prefix}_{uuid.uuid4().hex[:6]}"
        self._templates: dict[Path, str] = {}
        self._created: list[str] = []
        self._lock = asyncio.Lock()

    def url_for(self, name: str) -> str:
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    async def _admin(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        return await psycopg.AsyncConnection.connect(
            libpq_url(self.url_for("postgres")), autocommit=True
        )

    async def _template(self, migrations_dir: Path) -> str:
        async with self._lock:
            key = migrations_dir.resolve()
            if key not in self._templates:
                name = f"{self.prefix}_tpl_{len(self._templates)}"
                await migrate(self.url_for(name), key)
                self._templates[key] = name
                self._created.append(name)
            return self._templates[key]

    async def create(self, migrations_dir: Path | None = None) -> str:
        """A new database (migrated when `migrations_dir` is given); returns its URL."""
        name = f"{self.prefix}_{uuid.uuid4().hex[:10]}"
        template = await self._template(migrations_dir) if migrations_dir else None
        async with await self._admin() as conn:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            await conn.execute(statement)
        self._created.append(name)
        return self.url_for(name)

    async def drop(self, url: str) -> None:
        name = make_url(url).database
        async with await self._admin() as conn:
            await conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name or "")
                )
            )

    async def drop_all(self, *, concurrency: int = 8) -> None:
        """Drop every database this factory made (clones first, then their templates)."""
        slots = asyncio.Semaphore(concurrency)
        templates = set(self._templates.values())

        async def drop(name: str) -> None:
            async with slots:
                await self.drop(self.url_for(name))

        await asyncio.gather(*(drop(n) for n in self._created if n not in templates))
        await asyncio.gather(*(drop(n) for n in templates))
        self._created.clear()
        self._templates.clear()
