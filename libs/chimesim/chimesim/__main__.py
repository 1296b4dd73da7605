"""`python -m chimesim` (or `chimesim`): serve the emulator on `CHIMESIM_HOST:CHIMESIM_PORT`."""

from __future__ import annotations

import logging

import uvicorn

from chimesim.app import build_app
from chimesim.settings import Settings


def main() -> None:
    settings = Settings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    uvicorn.run(
        build_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_keep_alive=settings.keep_alive_seconds,
    )


if __name__ == "__main__":
    main()
