"""The HTTP transport's rules: a token on any address but loopback, checked on every request,
never logged; only the MCP path answers; malformed requests get JSON-RPC errors."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import httpx2
import pytest

from harness import Server, call, create, session

pytestmark = pytest.mark.anyio

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def test_non_loopback_needs_a_token(http_server: Server) -> None:
    r = subprocess.run(
        [*http_server.argv(), "--http", "0.0.0.0:0"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert r.returncode == 2
    assert "bearer token is required" in r.stderr


async def test_token_is_required_and_never_logged(http_server: Server, tmp_path: Path) -> None:
    token = secrets.token_urlsafe(24)
    (tmp_path / "token").write_text(token + "\n")
    http_server.args += ["--token-file", str(tmp_path / "token")]
    http_server.start_http("0.0.0.0:0")
    assert "bearer token required" in http_server.stderr()
    port = http_server.url.split(":")[2].split("/")[0]
    http_server.url = f"http://127.0.0.1:{port}/mcp"
    async with httpx2.AsyncClient(timeout=30) as c:
        for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": token}]:
            r = await c.post(http_server.url, json=INIT, headers={**HEADERS, **headers})
            assert r.status_code == 401, headers
            assert r.headers.get("www-authenticate") == "Bearer"
    async with session(http_server, headers={"Authorization": f"Bearer {token}"}) as s:
        sb = await create(s)
        r2 = await call(s, "run_command", sandbox=sb, command="echo through")
        assert r2["stdout"] == "through\n"
    assert http_server.stop() == 0
    assert token not in http_server.stderr()


async def test_token_from_env_on_loopback(http_server: Server) -> None:
    token = secrets.token_urlsafe(16)
    http_server.start_http(env={"POCKETDOCK_MCP_TOKEN": token})
    async with httpx2.AsyncClient(timeout=30) as c:
        r = await c.post(http_server.url, json=INIT, headers=HEADERS)
        assert r.status_code == 401
    async with session(http_server, headers={"Authorization": f"Bearer {token}"}) as s:
        assert (await call(s, "list_sandboxes"))["sandboxes"] == []


async def test_other_paths_and_malformed_requests(http_server: Server) -> None:
    http_server.start_http()
    base = http_server.url.removesuffix("/mcp")
    async with httpx2.AsyncClient(timeout=30) as c:
        r = await c.post(base + "/other", json=INIT, headers=HEADERS)
        assert r.status_code == 404
        r = await c.post(http_server.url, content=b"{not json", headers=HEADERS)
        assert r.status_code == 400
        body = r.json()
        assert body["jsonrpc"] == "2.0" and body["id"] is None
        assert body["error"]["code"] == -32700
        r = await c.post(http_server.url, json={"jsonrpc": "2.0", "id": 7}, headers=HEADERS)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == -32600 and r.json()["id"] == 7
    # The server is still serving.
    async with session(http_server) as s:
        assert (await call(s, "list_sandboxes"))["sandboxes"] == []
