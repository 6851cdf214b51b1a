"""Fixtures: the transport under test and a server that is always cleaned up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness import Server, engine_socket, server_bin


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def _required() -> None:
    # A missing engine or binary fails every test, never skips it.
    engine_socket()
    server_bin()


@pytest.fixture(params=["stdio", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    value = request.param
    assert isinstance(value, str)
    return value


@pytest.fixture
def server(transport: str) -> Iterator[Server]:
    s = Server(transport)
    try:
        yield s
    finally:
        s.cleanup()


@pytest.fixture
def http_server() -> Iterator[Server]:
    s = Server("http")
    try:
        yield s
    finally:
        s.cleanup()
