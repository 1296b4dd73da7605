"""CSRF prevention: refuse requests a browser could send cross-site without a preflight.

A browser sends a cross-origin "simple" request (GET, or POST with a form or text/plain
body) without asking the server first, carrying the victim's cookies. Such a request is
served only if it carries a header no simple request may carry
(`apollo-require-preflight` or `x-apollo-operation-name`); a POST whose Content-Type is
anything but the three simple ones (for example `application/json`) forces a preflight by
itself and passes.
"""

from __future__ import annotations

from gateway.edge.errors import EdgeError

SIMPLE_CONTENT_TYPES = frozenset(
    ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
)
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name")


def media_type(content_type: str | None) -> str | None:
    """`application/json; charset=utf-8` → `application/json`."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def check_csrf(method: str, headers: dict[str, str]) -> None:
    """Raise unless the request could only have been sent after a CORS preflight."""
    for name in PREFLIGHT_HEADERS:
        if headers.get(name):
            return
    if method == "POST":
        kind = media_type(headers.get("content-type"))
        if kind is not None and kind not in SIMPLE_CONTENT_TYPES:
            return
    raise EdgeError(
        "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). "
        "Send it with Content-Type: application/json, or with a non-empty "
        "'apollo-require-preflight' or 'x-apollo-operation-name' header.",
        code="BAD_REQUEST",
        status=400,
        reason="CSRF_PREVENTED",
    )
