"""Listings configuration (env prefix `LISTINGS_`)."""

from __future__ import annotations

from pydantic import Field
from servicekit.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("LISTINGS_")

    service_name: str = "listings"
    http_port: int = 4002
    grpc_port: int = 50052

    public_url: str = Field(
        "http://localhost:3000",
        description="Origin of the public web site; canonical URLs are <public_url>/homes/<slug>.",
    )
    s3_endpoint_url: str | None = Field(
        None, description="S3/KMS endpoint; defaults to the shared AWS_ENDPOINT_URL (moto locally)."
    )
    photos_bucket: str = "realty-listing-photos"
    kms_key_alias: str = "alias/realty-listings-photos"
    cdn_base_url: str | None = Field(
        None, description="CloudFront origin serving the photos bucket; else presigned GETs."
    )
    cdn_distribution_id: str | None = Field(
        None,
        description="CloudFront distribution serving the public pages; when set, listing "
        "changes invalidate their page there.",
    )
    app_url: str | None = Field(
        None, description="Origin of the web app the pages link into; defaults to public_url."
    )
    upload_expires_seconds: int = 900
    download_expires_seconds: int = 3600
    max_photo_bytes: int = 15 * 1024 * 1024
    max_photos_per_listing: int = 50
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    identity_grpc: str = Field(
        "127.0.0.1:50051", description="identity's gRPC address (the realtors' public profiles)."
    )
    page_cache_size: int = Field(
        10_000, description="Rendered public pages kept per process (0: no page cache)."
    )
    page_cache_seconds: float = Field(
        300.0, description="Longest a rendered page is reused without reading its listing again."
    )

    def resolved_s3_endpoint(self) -> str | None:
        return self.s3_endpoint_url or self.infra.aws_endpoint_url
