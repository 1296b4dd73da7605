"""Operator commands: `python -m identity.manage <command>`.

create-admin --email E --display-name N --password P   the only way to get an ADMIN
rotate-keys                                            new signing key; old ones retire later
verify-audit                                           check the audit chain (exit 1 if broken)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from servicekit.db import Database
from servicekit.errors import ServiceError
from servicekit.mail import build_mailer
from servicekit.migrations import migrate

from identity import MIGRATIONS_DIR, audit
from identity.app import build_service
from identity.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m identity.manage", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    admin = commands.add_parser("create-admin", help="create an ADMIN account")
    admin.add_argument("--email", required=True)
    admin.add_argument("--display-name", required=True)
    admin.add_argument("--password", required=True)
    commands.add_parser("rotate-keys", help="rotate the access-token signing key")
    commands.add_parser("verify-audit", help="verify the audit log's hash chain")
    return parser


async def execute(argv: Sequence[str], settings: Settings | None = None) -> int:
    """Run one command; returns the process exit code."""
    args = _parser().parse_args(argv)
    settings = settings or Settings()
    url = settings.resolved_database_url()
    await migrate(url, MIGRATIONS_DIR)
    db = Database(url, source=settings.service_name, pool_size=2, max_overflow=0)
    service = build_service(settings, db, build_mailer(settings.infra))
    try:
        if args.command == "create-admin":
            user = await service.create_admin(
                email=args.email, display_name=args.display_name, password=args.password
            )
            await service.mail.drain()
            print(f"created ADMIN {user.id} <{user.email}>")
        elif args.command == "rotate-keys":
            await service.ensure_signing_key()
            kid, retired = await service.rotate_keys()
            print(f"new signing key {kid}; retired: {', '.join(retired) or 'none'}")
        else:
            report = await audit.verify(db)
            if report.broken is not None:
                print(str(report.broken))
                return 1
            print(f"OK: {report.rows} audit rows, chain intact")
    except ServiceError as exc:
        print(f"error ({exc.code.value}): {exc.message}", file=sys.stderr)
        return 2
    finally:
        await db.dispose()
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(asyncio.run(execute(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
