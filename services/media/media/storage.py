"""The recordings bucket in S3: encrypted at rest with the customer-managed KMS key Chime's
capture writes with, read back for transcripts, played through short-lived presigned URLs,
emptied when a recording is deleted.

boto3 is synchronous; calls that touch the network run in worker threads. Signing a URL is
local computation and runs inline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from servicekit.vocabulary import Unavailable

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CloudFront:
    """A CloudFront distribution in front of the bucket, its URLs signed with a key of the
    distribution's key group (canned policy: the URL expires, nothing else)."""

    domain: str
    key_pair_id: str
    private_key_pem: bytes

    def signer(self) -> CloudFrontSigner:
        key = serialization.load_pem_private_key(self.private_key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the CloudFront signing key must be an RSA private key")

        def sign(message: bytes) -> bytes:
            # CloudFront's canned policies are signed RSA-SHA1, as its documentation requires.
            return key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303

        return CloudFrontSigner(self.key_pair_id, sign)


class RecordingStorage:
    def __init__(
        self,
        *,
        bucket: str,
        kms_key: str,
        region: str,
        endpoint_url: str | None = None,
        playback_seconds: int = 300,
        provision: bool = True,
        cloudfront: CloudFront | None = None,
    ) -> None:
        self.cloudfront = cloudfront
        self._signer = cloudfront.signer() if cloudfront is not None else None
        self.bucket = bucket
        self.kms_key = kms_key
        self.region = region
        self.playback_seconds = playback_seconds
        self.provision = provision
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": 3},
        )
        self._s3: Any = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )
        self._kms: Any = boto3.client("kms", endpoint_url=endpoint_url, region_name=region)
        self.kms_key_arn: str | None = None

    async def ensure_ready(self) -> str:
        """The KMS key's ARN; with `provision` (development), the key (by alias) and the
        encrypted, private bucket are created when missing."""
        if self.kms_key_arn is None:
            self.kms_key_arn = await self._run(self._ensure_ready)
        return self.kms_key_arn

    def _ensure_ready(self) -> str:
        arn = self._key()
        if not self.provision:
            return arn
        try:
            if self.region == "us-east-1":
                self._s3.create_bucket(Bucket=self.bucket)
            else:
                self._s3.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": self.region},
                )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                raise
        # Concatenation takes no key of its own: the bucket's default encrypts its output.
        self._s3.put_bucket_encryption(
            Bucket=self.bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": arn,
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        self._s3.put_public_access_block(
            Bucket=self.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        return arn

    def _key(self) -> str:
        try:
            return str(self._kms.describe_key(KeyId=self.kms_key)["KeyMetadata"]["Arn"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NotFoundException" or not self.provision:
                raise
        if not self.kms_key.startswith("alias/"):
            raise ValueError(f"the KMS key {self.kms_key} does not exist")
        arn = str(
            self._kms.create_key(Description="Tour recordings (S3 SSE-KMS)")["KeyMetadata"]["Arn"]
        )
        try:
            self._kms.create_alias(AliasName=self.kms_key, TargetKeyId=arn)
        except ClientError as exc:  # created at the same time by another replica
            if exc.response["Error"]["Code"] != "AlreadyExistsException":
                raise
            self._kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)
            return str(self._kms.describe_key(KeyId=self.kms_key)["KeyMetadata"]["Arn"])
        return arn

    def sink_arn(self, prefix: str) -> str:
        return f"arn:aws:s3:::{self.bucket}/{prefix}"

    def playback_url(self, key: str) -> str:
        """A URL of the object that expires after `playback_seconds`: signed by CloudFront's
        key when a distribution is configured, else an S3 presigned GET."""
        if self.cloudfront is not None and self._signer is not None:
            expires = datetime.now(UTC) + timedelta(seconds=self.playback_seconds)
            signed: str = self._signer.generate_presigned_url(
                f"https://{self.cloudfront.domain}/{quote(key)}", date_less_than=expires
            )
            return signed
        url: str = self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key, "ResponseContentType": "video/mp4"},
            ExpiresIn=self.playback_seconds,
        )
        return url

    async def read_text(self, key: str) -> str | None:
        """An object's text; None when it does not exist."""

        def read() -> str | None:
            try:
                body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except ClientError as exc:
                if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                    return None
                raise
            return bytes(body).decode("utf-8", errors="replace")

        return await self._run(read)

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix/`; how many. Deleting twice is harmless."""

        def delete() -> int:
            count = 0
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{prefix.rstrip('/')}/"
            )
            for page in pages:
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                for start in range(0, len(keys), 1000):
                    batch = keys[start : start + 1000]
                    self._s3.delete_objects(
                        Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                    )
                    count += len(batch)
            return count

        return await self._run(delete)

    async def keys(self, prefix: str) -> list[str]:
        def listing() -> list[str]:
            found: list[str] = []
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{prefix.rstrip('/')}/"
            )
            for page in pages:
                found.extend(o["Key"] for o in page.get("Contents", []))
            return found

        return await self._run(listing)

    async def _run(self, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(fn)
        except (BotoCoreError, ClientError) as exc:
            raise Unavailable("the recordings store is unavailable; try again shortly") from exc
