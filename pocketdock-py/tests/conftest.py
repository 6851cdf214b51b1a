"""Fixtures of pocketdock's own Python tests: an engine is required (POCKETDOCK_SOCKET names
its socket; a missing engine fails every test instead of skipping it), containers are named
``pdpy-...`` and always removed."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import AsyncIterator, Iterator

import pocketdock
import pytest
from pocketdock.async_ import AsyncContainer
from pocketdock.async_ import create_new_container as async_create


@pytest.fixture(autouse=True)
def _engine_socket() -> str:
    socket = os.environ.get("POCKETDOCK_SOCKET", "")
    if not socket or not os.path.exists(socket):
        pytest.fail(f"POCKETDOCK_SOCKET must name a running engine's socket (got {socket!r})")
    return socket


def unique_name(tag: str) -> str:
    return f"pdpy-{tag}-{secrets.token_hex(3)}"


@pytest.fixture
def container() -> Iterator[pocketdock.Container]:
    c = pocketdock.create_new_container(name=unique_name("t"))
    try:
        yield c
    finally:
        c.shutdown(force=True)


@pytest.fixture
async def acontainer() -> AsyncIterator[AsyncContainer]:
    c = await async_create(name=unique_name("a"))
    try:
        yield c
    finally:
        await c.shutdown(force=True)


LIST_PROCESSES = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\"; echo; done 2>/dev/null"


def running(c: pocketdock.Container, marker: str) -> bool:
    """Whether a process whose command line contains ``marker`` runs in ``c``."""
    return marker in c.run(LIST_PROCESSES).stdout


def wait_gone(c: pocketdock.Container, marker: str, within: float = 5.0) -> bool:
    """True once no process with ``marker`` runs in ``c`` (checked for ``within`` seconds)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not running(c, marker):
            return True
        time.sleep(0.2)
    return False


async def arunning(c: AsyncContainer, marker: str) -> bool:
    return marker in (await c.run(LIST_PROCESSES)).stdout
