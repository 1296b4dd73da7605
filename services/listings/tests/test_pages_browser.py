"""The public pages in a real browser: Debian's Chromium (`make browser`) driven by
Playwright opens a page from the running service and checks what a person and a crawler
see, then goes offline and reloads it from the service worker; Lighthouse (`make
lighthouse`) scores it. Each skips, saying why, only where its tool is not installed."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from listings.app import assemble, runtime
from listings.settings import Settings
from servicekit.bus import Bus
from servicekit.infrastructure import Infrastructure
from servicekit.mail import build_mailer

CHROMIUM = shutil.which("chromium")
LIGHTHOUSE = Path(__file__).resolve().parents[3] / ".tools/lighthouse/node_modules/.bin/lighthouse"
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium here: `make browser` installs Debian's package (it needs root)",
)
CREATE = "mutation($input: CreateListingInput!) { createListing(input: $input) { id slug } }"
REQUEST_UPLOAD = """
mutation($l: ID!) { requestPhotoUpload(listingId: $l, contentType: "image/png", fileName: "p.png")
  { id url fields } }
"""
CONFIRM = "mutation($l: ID!, $u: ID!) { confirmPhotoUpload(listingId: $l, uploadId: $u) { id } }"


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = (b"\x00" + b"\x2e\x8b\x57" * width) * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Served:
    origin: str
    server: uvicorn.Server
    task: asyncio.Task[None]
    headers: dict[str, str]
    parts: Any = None

    async def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{self.origin}/graphql",
                json={"query": query, "variables": variables},
                headers=self.headers,
            )
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        return data

    async def listing_with_photos(self, count: int) -> dict[str, Any]:
        created = (await self.graphql(CREATE, {"input": listing_input()}))["createListing"]
        for n in range(count):
            ticket = (await self.graphql(REQUEST_UPLOAD, {"l": created["id"]}))[
                "requestPhotoUpload"
            ]
            async with httpx.AsyncClient() as s3:
                sent = await s3.post(
                    ticket["url"],
                    data=ticket["fields"],
                    files={"file": ("p.png", png(48 + n, 32), "image/png")},
                )
            assert sent.status_code in (200, 201, 204), sent.text
            await self.graphql(CONFIRM, {"l": created["id"], "u": ticket["id"]})
        return created

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


def listing_input() -> dict[str, Any]:
    return {
        "title": "Sunny craftsman bungalow with garden",
        "description": "Three bedrooms, renovated kitchen, hardwood floors and a large backyard.",
        "price": {"amount": 45_000_000, "currency": "USD"},
        "propertyType": "RESIDENTIAL",
        "bedrooms": 3,
        "bathrooms": 2.5,
        "livingAreaSqft": 1850,
        "address": {
            "street": "1421 Maple Avenue",
            "city": "Portland",
            "state": "OR",
            "postalCode": "97214",
            "country": "US",
        },
        "location": {"lat": 45.5152, "lng": -122.6431},
        "status": "ACTIVE",
    }


@pytest_asyncio.fixture(loop_scope="session")
async def served(
    db: Any, storage: Any, aws_endpoint: str, nats_url: str, token_issuer: Any, clock: Any,
    realtor: Any,
) -> AsyncIterator[Served]:  # fmt: skip
    """The listings HTTP app on a real port, its public URL being that origin."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=db.url,
        public_url=origin,
        photos_bucket=storage.bucket,
        kms_key_alias=storage.kms_key_alias,
        s3_endpoint_url=aws_endpoint,
    )
    infra = Infrastructure(
        settings=settings,
        db=db,
        bus=Bus(nats_url, name="listings-pages-test"),  # never connected here
        verifier=token_issuer.verifier(),
        mailer=build_mailer(settings.infra),
    )
    parts = assemble(settings, infra, clock=clock)
    config = uvicorn.Config(
        runtime(parts).http_app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    running = Served(origin, server, task, token_issuer.headers(*realtor), parts)
    try:
        yield running
    finally:
        if not task.done():
            await running.stop()
        await infra.verifier.aclose()


@needs_chromium
async def test_a_person_and_a_crawler_see_the_page_and_it_works_offline(served):
    from playwright.async_api import async_playwright

    listing = await served.listing_with_photos(3)
    url = f"{served.origin}/homes/{listing['slug']}"
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = await browser.new_context()
            page = await context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            response = await page.goto(url)
            assert response is not None and response.status == 200
            assert (await page.title()).startswith(
                "Sunny craftsman bungalow with garden | 1421 Maple"
            )
            assert await page.locator("h1").inner_text() == "Sunny craftsman bungalow with garden"
            assert "$450,000" in await page.locator(".price").inner_text()
            images = page.locator(".gallery img")
            assert await images.count() == 3
            await page.locator(".gallery li").last.scroll_into_view_if_needed()
            await page.wait_for_function(
                "Array.from(document.querySelectorAll('.gallery img'))"
                ".every(i => i.complete && i.naturalWidth > 0)"
            )
            ld = json.loads(
                await page.locator('script[type="application/ld+json"]').text_content() or ""
            )
            assert ld["@type"] == "RealEstateListing" and ld["url"] == url
            assert ld["offers"]["price"] == "450000.00" and len(ld["image"]) == 3
            og = {
                key: await page.locator(f'meta[property="{key}"]').get_attribute("content")
                for key in ("og:title", "og:url", "og:image")
            }
            assert og["og:url"] == url and og["og:title"] == await page.title()
            assert og["og:image"] == await images.first.get_attribute("src")
            # the service worker saves the page and its photos, and says so
            await page.locator("#offline-note").wait_for(state="visible")
            # the page's beacon counted one Property View and gave the visitor its cookie
            async with asyncio.timeout(10):
                while not (cookies := await context.cookies(served.origin)):
                    await asyncio.sleep(0.05)
            (visitor,) = cookies
            assert visitor["name"] == "rfy_visitor" and visitor["httpOnly"]
            assert visitor["sameSite"] == "Lax" and len(visitor["value"]) == 32
            assert len(served.parts.views.recorder) == 1
            await served.stop()
            await context.set_offline(True)
            await page.reload()
            assert await page.locator("h1").inner_text() == "Sunny craftsman bungalow with garden"
            await page.locator(".gallery li").last.scroll_into_view_if_needed()
            await page.wait_for_function(
                "Array.from(document.querySelectorAll('.gallery img'))"
                ".every(i => i.complete && i.naturalWidth > 0)"
            )
            await page.locator("#offline-note").wait_for(state="visible")
        finally:
            await browser.close()
    assert errors == []


@needs_chromium
@pytest.mark.skipif(
    not LIGHTHOUSE.exists(), reason="no lighthouse: `make lighthouse` installs it (needs npm)"
)
async def test_lighthouse_scores_seo_100_and_accessibility_at_least_95(served, tmp_path):
    listing = await served.listing_with_photos(2)
    url = f"{served.origin}/homes/{listing['slug']}"
    report = tmp_path / "report.json"
    process = await asyncio.create_subprocess_exec(
        str(LIGHTHOUSE), url, "--only-categories=seo,accessibility", "--output=json",
        f"--output-path={report}", "--quiet",
        "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
        env={**os.environ, "CHROME_PATH": str(CHROMIUM)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()[-2000:]
    result = json.loads(report.read_text())
    failed = {
        key: audit["title"]
        for key, audit in result["audits"].items()
        if audit.get("score") is not None and audit["score"] < 1
        and audit.get("scoreDisplayMode") == "binary"
    }  # fmt: skip
    scores = {name: cat["score"] for name, cat in result["categories"].items()}
    print(f"\nLighthouse {result['lighthouseVersion']}: {scores}")
    assert scores["seo"] == 1, failed
    assert scores["accessibility"] >= 0.95, failed
