"""Photos: presigned POST to S3 (moto), confirmation checks, order, cover, removal, and the
worker that purges abandoned uploads on the service's clock."""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta
from typing import Any

import httpx
import pytest
from listings.workers import UploadPurger

REQUEST = """
mutation($listingId: ID!, $contentType: String!, $fileName: String!) {
  requestPhotoUpload(listingId: $listingId, contentType: $contentType, fileName: $fileName) {
    id url fields expiresAt
  }
}
"""
CONFIRM = """
mutation($listingId: ID!, $uploadId: ID!) {
  confirmPhotoUpload(listingId: $listingId, uploadId: $uploadId) { id url order isCover }
}
"""
REMOVE = "mutation($l: ID!, $p: ID!) { removePhoto(listingId: $l, photoId: $p) }"
REORDER = """
mutation($l: ID!, $ids: [ID!]!) { reorderPhotos(listingId: $l, photoIds: $ids) { id order isCover } }
"""
COVER = "mutation($l: ID!, $p: ID!) { setCoverPhoto(listingId: $l, photoId: $p) { id isCover } }"
PHOTOS = "query($id: ID!) { listing(id: $id) { photos { id url order isCover } } }"


def png_bytes() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 200


async def upload(api, who, listing_id: str, content: bytes, content_type: str) -> dict[str, Any]:
    """Ask for an upload and POST the file to S3 like a browser would."""
    ticket = (
        await api.data(
            REQUEST,
            {"listingId": listing_id, "contentType": content_type, "fileName": "front.img"},
            who=who,
        )
    )["requestPhotoUpload"]
    async with httpx.AsyncClient() as s3:
        response = await s3.post(
            ticket["url"],
            data=ticket["fields"],
            files={"file": ("front.img", content, content_type)},
        )
    assert response.status_code in (200, 201, 204), response.text
    return ticket


async def test_upload_confirm_order_cover_remove(api, realtor, storage):
    listing = await api.create_listing(realtor)
    lid = listing["id"]

    first = await upload(api, realtor, lid, png_bytes(), "image/png")
    assert first["fields"]["key"].startswith(f"listings/{lid}/")
    assert first["fields"]["Content-Type"] == "image/png"
    assert first["fields"]["x-amz-server-side-encryption"] == "aws:kms"
    policy_conditions = str(first["fields"])
    assert "policy" in policy_conditions.lower()

    stored = await storage.head(first["fields"]["key"])
    assert stored is not None and stored.encryption == "aws:kms"

    photo1 = (await api.data(CONFIRM, {"listingId": lid, "uploadId": first["id"]}, who=realtor))[
        "confirmPhotoUpload"
    ]
    assert photo1["isCover"] is True and photo1["order"] == 0
    async with httpx.AsyncClient() as s3:
        fetched = await s3.get(photo1["url"])
    assert fetched.status_code == 200 and fetched.content == png_bytes()

    second = await upload(api, realtor, lid, JPEG, "image/jpeg")
    photo2 = (await api.data(CONFIRM, {"listingId": lid, "uploadId": second["id"]}, who=realtor))[
        "confirmPhotoUpload"
    ]
    assert photo2["isCover"] is False and photo2["order"] == 1

    reordered = await api.data(
        REORDER, {"l": lid, "ids": [photo2["id"], photo1["id"]]}, who=realtor
    )
    assert [p["id"] for p in reordered["reorderPhotos"]] == [photo2["id"], photo1["id"]]
    cover = await api.data(COVER, {"l": lid, "p": photo2["id"]}, who=realtor)
    assert cover["setCoverPhoto"]["isCover"] is True
    shown = (await api.data(PHOTOS, {"id": lid}))["listing"]["photos"]
    assert [(p["id"], p["order"], p["isCover"]) for p in shown] == [
        (photo2["id"], 0, True),
        (photo1["id"], 1, False),
    ]

    assert (await api.data(REMOVE, {"l": lid, "p": photo2["id"]}, who=realtor))["removePhoto"]
    assert await storage.head(second["fields"]["key"]) is None, "object deleted"
    shown = (await api.data(PHOTOS, {"id": lid}))["listing"]["photos"]
    assert [(p["id"], p["order"], p["isCover"]) for p in shown] == [(photo1["id"], 0, True)]


async def test_bytes_that_are_not_the_declared_image_are_rejected_and_deleted(
    api, realtor, storage
):
    listing = await api.create_listing(realtor)
    lid = listing["id"]
    ticket = await upload(api, realtor, lid, b"<html>not an image</html>", "image/png")
    code = await api.error_code(CONFIRM, {"listingId": lid, "uploadId": ticket["id"]}, who=realtor)
    assert code == "BAD_USER_INPUT"
    assert await storage.head(ticket["fields"]["key"]) is None
    assert (await api.data(PHOTOS, {"id": lid}))["listing"]["photos"] == []
    # The upload is spent: confirming again finds nothing.
    again = await api.error_code(CONFIRM, {"listingId": lid, "uploadId": ticket["id"]}, who=realtor)
    assert again == "NOT_FOUND"

    jpeg_as_png = await upload(api, realtor, lid, JPEG, "image/png")
    code = await api.error_code(
        CONFIRM, {"listingId": lid, "uploadId": jpeg_as_png["id"]}, who=realtor
    )
    assert code == "BAD_USER_INPUT"


async def test_oversized_object_is_rejected(api, realtor, storage, service):
    listing = await api.create_listing(realtor)
    lid = listing["id"]
    service.photo_policy = type(service.photo_policy)(max_bytes=100)
    ticket = await upload(api, realtor, lid, png_bytes() + b"\x00" * 200, "image/png")
    code = await api.error_code(CONFIRM, {"listingId": lid, "uploadId": ticket["id"]}, who=realtor)
    assert code == "BAD_USER_INPUT"
    assert await storage.head(ticket["fields"]["key"]) is None


async def test_confirm_before_upload_keeps_the_ticket(api, realtor):
    listing = await api.create_listing(realtor)
    lid = listing["id"]
    ticket = (
        await api.data(
            REQUEST,
            {"listingId": lid, "contentType": "image/webp", "fileName": "a.webp"},
            who=realtor,
        )
    )["requestPhotoUpload"]
    code = await api.error_code(CONFIRM, {"listingId": lid, "uploadId": ticket["id"]}, who=realtor)
    assert code == "BAD_USER_INPUT"
    webp = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 40
    async with httpx.AsyncClient() as s3:
        await s3.post(
            ticket["url"], data=ticket["fields"], files={"file": ("a.webp", webp, "image/webp")}
        )
    photo = await api.data(CONFIRM, {"listingId": lid, "uploadId": ticket["id"]}, who=realtor)
    assert photo["confirmPhotoUpload"]["isCover"] is True


async def test_only_image_types_may_be_uploaded(api, realtor):
    listing = await api.create_listing(realtor)
    for content_type in ("image/gif", "application/pdf", "text/html", "image/svg+xml"):
        code = await api.error_code(
            REQUEST,
            {"listingId": listing["id"], "contentType": content_type, "fileName": "x"},
            who=realtor,
        )
        assert code == "BAD_USER_INPUT", content_type
    too_long = {"listingId": listing["id"], "contentType": "image/png", "fileName": "x" * 256}
    assert await api.error_code(REQUEST, too_long, who=realtor) == "BAD_USER_INPUT"


async def test_photo_mutations_are_for_the_owner_only(api, realtor, other_realtor, buyer):
    listing = await api.create_listing(realtor)
    lid = listing["id"]
    ticket = await upload(api, realtor, lid, png_bytes(), "image/png")
    photo = (await api.data(CONFIRM, {"listingId": lid, "uploadId": ticket["id"]}, who=realtor))[
        "confirmPhotoUpload"
    ]
    pending = await api.data(
        REQUEST, {"listingId": lid, "contentType": "image/png", "fileName": "b.png"}, who=realtor
    )
    calls = [
        (REQUEST, {"listingId": lid, "contentType": "image/png", "fileName": "x.png"}),
        (CONFIRM, {"listingId": lid, "uploadId": pending["requestPhotoUpload"]["id"]}),
        (REMOVE, {"l": lid, "p": photo["id"]}),
        (REORDER, {"l": lid, "ids": [photo["id"]]}),
        (COVER, {"l": lid, "p": photo["id"]}),
    ]
    for query, variables in calls:
        assert await api.error_code(query, variables, who=other_realtor) == "FORBIDDEN"
        assert await api.error_code(query, variables, who=buyer) == "FORBIDDEN"
        assert await api.error_code(query, variables) == "UNAUTHENTICATED"
    shown = (await api.data(PHOTOS, {"id": lid}))["listing"]["photos"]
    assert [p["id"] for p in shown] == [photo["id"]]


class Stop(Exception):
    """Ends the purger's loop from its injected pause."""


async def test_abandoned_uploads_are_purged_with_their_objects(
    api, realtor, service, storage, clock
):
    listing = await api.create_listing(realtor)
    ticket = await upload(api, realtor, listing["id"], png_bytes(), "image/png")
    purger = UploadPurger(service)
    assert await purger.run_once() == 0, "a fresh upload stays"

    # The POST expires after 15 minutes; an upload is forgotten a day after that.
    clock.advance(timedelta(minutes=15) + timedelta(hours=24) - timedelta(seconds=1))
    fresh = (
        await api.data(
            REQUEST,
            {"listingId": listing["id"], "contentType": "image/png", "fileName": "b.png"},
            who=realtor,
        )
    )["requestPhotoUpload"]
    assert await purger.run_once() == 0, "not yet past the grace period"
    clock.advance(timedelta(seconds=2))
    assert await purger.run_once() == 1
    assert await storage.head(ticket["fields"]["key"]) is None, "its object is deleted"
    assert await purger.run_once() == 0

    # The one requested later is still pending: confirming it finds it (not uploaded yet).
    confirm = (
        "mutation($l: ID!, $u: ID!) { confirmPhotoUpload(listingId: $l, uploadId: $u) { id } }"
    )
    body = await api.call(confirm, {"l": listing["id"], "u": fresh["id"]}, who=realtor)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "uploadId"}
    body = await api.call(confirm, {"l": listing["id"], "u": ticket["id"]}, who=realtor)
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "uploadId"}


async def test_the_purger_runs_then_pauses_its_interval(api, realtor, service, clock):
    listing = await api.create_listing(realtor)
    await upload(api, realtor, listing["id"], png_bytes(), "image/png")
    clock.advance(timedelta(days=2))
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)
        raise Stop

    purger = UploadPurger(service, interval=600.0, pause=pause)
    with pytest.raises(Stop):
        await purger.run()
    assert pauses == [600.0]
    assert await purger.run_once() == 0, "the first round purged the abandoned upload"
