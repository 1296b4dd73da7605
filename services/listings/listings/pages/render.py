"""The Jinja2 environment of the pages: templates from this package, autoescaped, strict
about undefined names (a typo fails a test instead of rendering an empty string)."""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Template, select_autoescape


def environment() -> Environment:
    return Environment(
        loader=PackageLoader("listings.pages", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


def static_text(name: str) -> str:
    return (resources.files("listings.pages") / "static" / name).read_text(encoding="utf-8")


def build_id() -> str:
    """A digest of every template and static file: part of each page's `ETag`, so a deploy
    that changes how pages look is never answered with a stale 304."""
    digest = hashlib.sha256()
    root = resources.files("listings.pages")
    for folder in ("templates", "static"):
        for entry in sorted((root / folder).iterdir(), key=lambda e: e.name):
            digest.update(entry.name.encode())
            digest.update(entry.read_bytes())
    return digest.hexdigest()[:8]


class Renderer:
    """Renders the pages' templates, each compiled once to Python code and kept: a render
    is then one call of that code (no loader, cache key or up-to-date check per page)."""

    def __init__(self) -> None:
        self.env = environment()
        self.build = build_id()
        self._compiled: dict[str, Template] = {}

    def template(self, name: str) -> Template:
        found = self._compiled.get(name)
        if found is None:
            found = self._compiled[name] = self.env.get_template(name)
        return found

    def render(self, template: str, **context: Any) -> str:
        return self.template(template).render(**context)
