"""`make migrate`: bring every installed service's database to its latest migration.

Services are found through the `realty.services` entry points; a service's migrations are
the `migrations/` folder inside its package (installed) or beside it (source checkout).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
from pathlib import Path

from servicekit.migrations import migrate
from servicekit.settings import ServiceSettings


def migrations_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"package {package!r} is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    for candidate in (root / "migrations", root.parent / "migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise LookupError(f"no migrations found for {package!r}")


async def migrate_all() -> None:
    for entry in sorted(
        importlib.metadata.entry_points(group="realty.services"), key=lambda e: e.name
    ):
        settings: ServiceSettings = entry.load()()
        url = settings.resolved_database_url()
        print(f"==> {entry.name}: migrating {url.rsplit('/', 1)[-1]}", flush=True)
        await migrate(url, migrations_dir(entry.name))


if __name__ == "__main__":
    asyncio.run(migrate_all())
