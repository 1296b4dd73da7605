"""`make migrate`: bring every installed service's database to its latest migration.

Services are found through the `realty.services` entry points; a service's migrations are
the `migrations/` folder inside its package (installed) or beside it (source checkout).
"""

from __future__ import annotations

import asyncio
import importlib.metadata

from servicekit.migrations import migrate, migrations_dir
from servicekit.settings import ServiceSettings


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
