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

from servicekit.infrastructure import Infrastructure
from servicekit.vocabulary import ServiceError

from identity.app import MIGRATIONS_DIR, assemble
from identity.events import outgoing
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
    """Run one command with the parts the service is made of; returns the exit code."""
    args = _parser().parse_args(argv)
    settings = settings or Settings()
    infra = await Infrastructure.open(
        settings, MIGRATIONS_DIR, events=outgoing, configure_process=False
    )
    parts = assemble(settings, infra)
    service = parts.identity
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
            report = await parts.queries.audit_chain()
            if report.broken is not None:
                print(str(report.broken))
                return 1
            print(f"OK: {report.rows} audit rows, chain intact")
    except ServiceError as exc:
        print(f"error ({exc.code.value}): {exc.message}", file=sys.stderr)
        return 2
    finally:
        await parts.verifier.aclose()
        await infra.close()
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(asyncio.run(execute(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
