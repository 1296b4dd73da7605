"""Playback URLs: S3 presigned by default; signed by CloudFront's key when a distribution is
configured (canned policy, checked here against the public key as CloudFront would)."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from media.storage import CloudFront, RecordingStorage

KEY = "recordings/tour/recording/concatenated/audio/pipeline.mp4"


def _unsafe_b64(value: str) -> bytes:
    # CloudFront's URL-safe base64: '-' for '+', '=' -> '_', '~' for '/'.
    return base64.b64decode(value.replace("-", "+").replace("_", "=").replace("~", "/"))


def test_a_cloudfront_url_is_signed_with_the_distributions_key_and_expires() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    storage = RecordingStorage(
        bucket="realty-recordings",
        kms_key="alias/realty-recordings",
        region="us-east-1",
        playback_seconds=300,
        cloudfront=CloudFront("media.realty.test", "K2JCJMDEHXQW5F", pem),
    )
    url = storage.playback_url(KEY)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "media.realty.test", f"/{KEY}")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["Key-Pair-Id"] == "K2JCJMDEHXQW5F"
    expires = int(query["Expires"])
    assert 290 <= expires - time.time() <= 301
    policy = json.dumps(
        {
            "Statement": [
                {
                    "Resource": f"https://media.realty.test/{KEY}",
                    "Condition": {"DateLessThan": {"AWS:EpochTime": expires}},
                }
            ]
        },
        separators=(",", ":"),
    ).encode()
    private.public_key().verify(
        _unsafe_b64(query["Signature"]), policy, padding.PKCS1v15(), hashes.SHA1()
    )


def test_without_cloudfront_the_url_is_an_s3_presigned_get(aws_endpoint: str) -> None:
    storage = RecordingStorage(
        bucket="realty-recordings",
        kms_key="alias/realty-recordings",
        region="us-east-1",
        endpoint_url=aws_endpoint,
        playback_seconds=120,
    )
    url = storage.playback_url(KEY)
    assert url.startswith(f"{aws_endpoint}/realty-recordings/{KEY}?")
    assert "X-Amz-Expires=120" in url and "X-Amz-Signature=" in url
