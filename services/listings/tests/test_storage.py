"""Photo URLs: the CDN when configured, short-lived signed GETs otherwise."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from listings.storage import PhotoStorage


def make(cdn: str | None) -> PhotoStorage:
    return PhotoStorage(
        bucket="photos",
        kms_key_alias="alias/photos",
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        cdn_base_url=cdn,
        download_expires=600,
    )


def test_cdn_url_when_configured(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    storage = make("https://cdn.realty.test/")
    assert storage.url_for("listings/abc/1.jpg") == "https://cdn.realty.test/listings/abc/1.jpg"


def test_presigned_get_otherwise(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    url = urlparse(make(None).url_for("listings/abc/1.jpg"))
    assert url.path == "/photos/listings/abc/1.jpg"
    query = parse_qs(url.query)
    assert query["X-Amz-Expires"] == ["600"]
    assert "X-Amz-Signature" in query
