"""`gateway compose` and `gateway serve` from the command line, run in-process.

Subgraphs that answer over HTTP are small stdlib servers on loopback that reply to
`{ _service { sdl } }` the way a strawberry subgraph does.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gateway import cli

GOLDEN = Path(__file__).parent / "golden"
IDENTITY = (GOLDEN / "two" / "identity.graphql").read_text(encoding="utf-8")
LISTINGS = (GOLDEN / "two" / "listings.graphql").read_text(encoding="utf-8")
EXPECTED = (GOLDEN / "two" / "supergraph.graphql").read_text(encoding="utf-8")
IDENTITY_URL = "http://127.0.0.1:4001/graphql"
LISTINGS_URL = "http://127.0.0.1:4002/graphql"


class _SubgraphServer:
    """Answers POST `{ _service { sdl } }` with one SDL; records the queries it received."""

    def __init__(self, sdl: str) -> None:
        queries: list[str] = []
        self.queries = queries

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["content-length"])
                queries.append(json.loads(self.rfile.read(length))["query"])
                body = json.dumps({"data": {"_service": {"sdl": sdl}}}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/graphql"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def serve_sdl() -> Iterator[type[_SubgraphServer]]:
    started: list[_SubgraphServer] = []

    class Started(_SubgraphServer):
        def __init__(self, sdl: str) -> None:
            super().__init__(sdl)
            started.append(self)

    yield Started
    for server in started:
        server.close()


def dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/graphql"


def test_compose_from_files_writes_the_supergraph(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "supergraph.graphql"
    status = cli.main(
        [
            "compose",
            "--from-files",
            f"identity={IDENTITY_URL}={GOLDEN / 'two' / 'identity.graphql'}",
            "--from-files",
            f"listings={LISTINGS_URL}={GOLDEN / 'two' / 'listings.graphql'}",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    assert out.read_text(encoding="utf-8") == EXPECTED
    assert [p.name for p in out.parent.iterdir()] == ["supergraph.graphql"]


def test_compose_from_a_rover_style_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "identity.graphql").write_text(IDENTITY, encoding="utf-8")
    config = tmp_path / "supergraph.yaml"
    config.write_text(
        "federation_version: =2.3.2\n"
        "subgraphs:\n"
        "  identity:\n"
        f"    routing_url: {IDENTITY_URL}\n"
        "    schema:\n"
        "      file: ./identity.graphql\n"
        "  listings:\n"
        f"    routing_url: {LISTINGS_URL}\n"
        "    schema:\n"
        f"      sdl: {json.dumps(LISTINGS)}\n",
        encoding="utf-8",
    )
    assert cli.main(["compose", "--config", str(config)]) == 0
    captured = capsys.readouterr()
    assert captured.out == EXPECTED
    assert "composed 2 subgraph(s) (identity, listings)" in captured.err


def test_compose_fetches_running_subgraphs(
    serve_sdl: type[_SubgraphServer], capsys: pytest.CaptureFixture[str]
) -> None:
    identity, listings = serve_sdl(IDENTITY), serve_sdl(LISTINGS)
    status = cli.main(
        [
            "compose",
            "--subgraph",
            f"identity={identity.url}",
            "--subgraph",
            f"listings={listings.url}",
        ]
    )
    assert status == 0
    assert identity.queries == ["{ _service { sdl } }"]
    expected = EXPECTED.replace(IDENTITY_URL, identity.url).replace(LISTINGS_URL, listings.url)
    assert capsys.readouterr().out == expected


def test_defaults_keep_the_subgraphs_that_answer(
    serve_sdl: type[_SubgraphServer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    identity = serve_sdl(IDENTITY)
    monkeypatch.setenv("GATEWAY_SUBGRAPHS", f"identity={identity.url},media={dead_url()}")
    assert cli.main(["compose", "--timeout", "2"]) == 0
    captured = capsys.readouterr()
    assert "skipped: subgraph 'media'" in captured.err
    assert "hint[" not in captured.err
    assert "composed 1 subgraph(s) (identity)" in captured.err
    assert '@join__graph(name: "identity"' in captured.out
    assert '"media"' not in captured.out


def test_an_explicit_subgraph_that_does_not_answer_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["compose", "--subgraph", f"media={dead_url()}", "--timeout", "2"]) == 2
    assert "error: subgraph 'media'" in capsys.readouterr().err


def test_composition_errors_exit_non_zero_with_each_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.graphql"
    broken.write_text(
        LISTINGS.replace("type Money @shareable", "type Money").replace(
            'type User @key(fields: "id")', 'type User @key(fields: "uuid")'
        ),
        encoding="utf-8",
    )
    out = tmp_path / "supergraph.graphql"
    status = cli.main(
        [
            "compose",
            "--from-files",
            f"identity={IDENTITY_URL}={GOLDEN / 'two' / 'identity.graphql'}",
            "--from-files",
            f"listings={LISTINGS_URL}={broken}",
            "--out",
            str(out),
        ]
    )
    assert status == 1
    err = capsys.readouterr().err
    assert 'error[KEY_INVALID_FIELDS]: [listings] On type "User", for @key(fields: "uuid")' in err
    assert "  --> listings:" in err
    assert "composition failed with 1 error(s)" in err
    assert not out.exists()


def test_bad_arguments(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_SUBGRAPHS", "identity")
    assert cli.main(["compose"]) == 2
    assert "error: GATEWAY_SUBGRAPHS: expected name=url" in capsys.readouterr().err
    assert cli.main(["compose", "--subgraph", "no-url"]) == 2
    assert cli.main(["compose", "--from-files", "a=b"]) == 2
    assert "expected name=url=path" in capsys.readouterr().err


def test_serve_runs_the_gateway_app(monkeypatch: pytest.MonkeyPatch) -> None:
    import gateway.app

    calls: list[str] = []
    monkeypatch.setattr(gateway.app, "main", lambda: calls.append("served"))
    assert cli.main(["serve"]) == 0
    assert calls == ["served"]


def test_hints_are_printed_after_a_successful_composition(
    capsys: pytest.CaptureFixture[str],
) -> None:
    four = GOLDEN / "four"
    args = ["compose"]
    for name in ("inventory", "products", "reviews", "users"):
        args += ["--from-files", f"{name}=http://{name}/graphql={four / (name + '.graphql')}"]
    assert cli.main(args) == 0
    captured = capsys.readouterr()
    assert captured.out == (four / "supergraph.graphql").read_text(encoding="utf-8")
    assert 'hint[INCONSISTENT_INPUT_OBJECT_FIELD]: Input object field "ProductFilter.sort"' in (
        captured.err
    )
