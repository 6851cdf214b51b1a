"""The first agent steps: create a sandbox, run in it, shut it down."""

from __future__ import annotations

import pytest

from harness import Server, call, containers, create, session

pytestmark = pytest.mark.anyio


async def test_create_run_shutdown(server: Server) -> None:
    async with session(server) as s:
        name = await create(s)
        assert name.startswith(server.prefix)
        assert containers(server.prefix) == [name]
        r = await call(s, "run_command", sandbox=name, command="echo hello; echo oops >&2; exit 3")
        assert r["exit_code"] == 3
        assert r["stdout"] == "hello\n"
        assert r["stderr"] == "oops\n"
        assert r["timed_out"] is False
        out = await call(s, "shutdown_sandbox", sandbox=name)
        assert out == {"sandbox": name, "removed": True}
        assert containers(server.prefix) == []
