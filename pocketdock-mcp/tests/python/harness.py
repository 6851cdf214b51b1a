"""Start pocketdock-mcp, connect the official MCP Python SDK client to it, and ask the engine
(not the server) what containers exist."""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client


def required_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"{name} is not set (scripts/mcp-test.sh sets it)")
    return value


def server_bin() -> str:
    return required_env("PDMCP_BIN")


def engine_socket() -> str:
    return required_env("PDMCP_SOCKET")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self._path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(self._path)
        self.sock = s


def _engine(method: str, path: str) -> tuple[int, bytes]:
    sock = engine_socket().removeprefix("unix://")
    conn = _UnixConnection(sock)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def containers(prefix: str) -> list[str]:
    """Names of every container (running or not) whose name starts with `prefix`."""
    filters = urllib.parse.quote(json.dumps({"name": [prefix]}))
    status, body = _engine("GET", f"/containers/json?all=1&filters={filters}")
    assert status == 200, body
    names: list[str] = []
    for c in json.loads(body):
        for n in c.get("Names") or []:
            n = n.lstrip("/")
            if n.startswith(prefix):
                names.append(n)
    return names


def remove_containers(prefix: str) -> None:
    for name in containers(prefix):
        _engine("DELETE", f"/containers/{name}?force=1")


def wait_for(pred: Any, timeout: float = 15.0, every: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(every)
    return bool(pred())


@dataclass
class Server:
    """One pocketdock-mcp the test started (or will start)."""

    transport: str
    prefix: str = field(default_factory=lambda: f"pdmcp-t{secrets.token_hex(4)}-")
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    url: str = ""
    stderr_path: str = ""

    def argv(self) -> list[str]:
        return [
            server_bin(),
            "--socket",
            engine_socket(),
            "--name-prefix",
            self.prefix,
            *self.args,
        ]

    def start_http(self, addr: str = "127.0.0.1:0", env: dict[str, str] | None = None) -> None:
        """Start the server on HTTP and wait for the address it prints."""
        self.stderr_path = f"/tmp/{self.prefix}stderr.log"
        err = open(self.stderr_path, "wb")  # noqa: SIM115 - the process keeps it
        self.process = subprocess.Popen(
            [*self.argv(), "--http", addr],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = self.stderr()
            m = re.search(r"listening on (http://\S+)", text)
            if m:
                self.url = m.group(1)
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {text}")
            time.sleep(0.05)
        raise RuntimeError("server did not start listening")

    def stderr(self) -> str:
        if not self.stderr_path:
            return ""
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self) -> int | None:
        """SIGTERM the HTTP server and wait for it; returns its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def cleanup(self) -> None:
        self.stop()
        remove_containers(self.prefix)
        if self.stderr_path and os.path.exists(self.stderr_path):
            os.unlink(self.stderr_path)


@asynccontextmanager
async def session(
    server: Server, headers: dict[str, str] | None = None
) -> AsyncIterator[ClientSession]:
    """An initialized SDK client session on `server` (started here for stdio; an HTTP server
    must be started first)."""
    if server.transport == "stdio":
        params = StdioServerParameters(command=server.argv()[0], args=server.argv()[1:])
        async with (
            stdio_client(params, errlog=sys.stderr) as (read, write),
            ClientSession(read, write) as s,
        ):
            await s.initialize()
            yield s
    else:
        if not server.url:
            server.start_http()
        async with (
            httpx2.AsyncClient(headers=headers or {}, timeout=120) as client,
            streamable_http_client(server.url, http_client=client) as (read, write),
            ClientSession(read, write) as s,
        ):
            await s.initialize()
            yield s


def structured(result: types.CallToolResult) -> dict[str, Any]:
    """The structured result of a successful call."""
    assert not result.is_error, text_of(result)
    assert isinstance(result.structured_content, dict), result
    return result.structured_content


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def call(s: ClientSession, tool: str, **args: Any) -> dict[str, Any]:
    return structured(await s.call_tool(tool, args))


async def call_error(s: ClientSession, tool: str, **args: Any) -> str:
    """The message of a call that must fail as a tool error."""
    r = await s.call_tool(tool, args)
    assert r.is_error, r
    return text_of(r)


async def create(s: ClientSession, **args: Any) -> str:
    name = (await call(s, "create_sandbox", **args))["sandbox"]
    assert isinstance(name, str)
    return name


def busy_wait(seconds: float) -> None:
    time.sleep(seconds)


async def sleep(seconds: float) -> None:
    await anyio.sleep(seconds)


def names(items: Sequence[dict[str, Any]]) -> list[str]:
    return [str(i["sandbox"]) for i in items]
