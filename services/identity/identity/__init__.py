"""Identity: accounts, sign-in, recovery, access tokens and privacy for RealtyForYou."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
if not MIGRATIONS_DIR.is_dir():  # installed as a wheel: migrations are packaged inside
    MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
