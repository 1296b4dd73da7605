"""Identity: accounts, sign-in, recovery, access tokens and privacy for RealtyForYou.

Empty on purpose: importing a module of the package (`identity.domain`) loads nothing else;
the composition root (`identity.app`) knows where the migrations are."""
