"""Identity: accounts, sign-in, recovery, access tokens and privacy for RealtyForYou."""

from servicekit.migrations import migrations_dir

MIGRATIONS_DIR = migrations_dir("identity")
