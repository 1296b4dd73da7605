"""Which image types a listing photo may be, and recognising them by their first bytes.

An S3 POST policy limits what a browser may upload, but the stored object is only trusted
once its bytes match the declared type: emulators (and misconfigured buckets) do not
enforce policies, and a wrong `Content-Type` is easy to send.
"""

from __future__ import annotations

# Declared content type → file extension used in the object key.
IMAGE_TYPES: dict[str, str] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/avif": "avif",
    "image/heic": "heic",
}

SNIFF_BYTES = 64

_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"})


def normalise_content_type(value: str) -> str | None:
    """The canonical accepted type for `value` (case and parameters ignored), else None."""
    base = value.split(";", 1)[0].strip().lower()
    if base in ("image/jpg", "image/pjpeg"):
        base = "image/jpeg"
    if base == "image/heif":
        base = "image/heic"
    return base if base in IMAGE_TYPES else None


def _iso_brands(head: bytes) -> set[bytes]:
    """Major and compatible brands of an ISO-BMFF `ftyp` box at the start of `head`."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return set()
    size = min(int.from_bytes(head[0:4], "big"), len(head))
    brands = {head[8:12]}
    for offset in range(16, size - 3, 4):
        brands.add(head[offset : offset + 4])
    return brands


def sniff(head: bytes) -> str | None:
    """The image type the leading bytes of a file show, or None when not an accepted image."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[0:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    brands = _iso_brands(head)
    if brands & _AVIF_BRANDS:
        return "image/avif"
    if brands & _HEIC_BRANDS:
        return "image/heic"
    return None
