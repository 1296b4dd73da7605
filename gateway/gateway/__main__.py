"""`python -m gateway` runs the gateway (same as `gateway serve`)."""

from gateway.app import main

main()
