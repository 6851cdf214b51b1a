"""The warm pool (`--pool N`): create_sandbox asking for nothing special gets a ready sandbox,
the pool refills, other requests are created as before, and nothing is left when the server
exits."""

from __future__ import annotations

import pytest

from harness import Server, call, containers, create, session, wait_for

pytestmark = pytest.mark.anyio


def pooled(server: Server) -> list[str]:
    return [n for n in containers(server.prefix) if "-pool-" in n]


async def test_pool_hands_out_warm_sandboxes(http_server: Server) -> None:
    # Over HTTP: the server inherits this environment, POCKETDOCK_AGENT included (the SDK's
    # stdio client passes a server only a few variables; pool members need the agent binary).
    server = http_server
    server.args += ["--pool", "1"]
    server.start_http()
    async with session(server) as s:
        assert wait_for(lambda: len(pooled(server)) == 1, timeout=90), containers(server.prefix)
        warm = await create(s)
        assert "-pool-" in warm, warm
        r = await call(s, "run_command", sandbox=warm, command="echo warm; exit 3")
        assert (r["exit_code"], r["stdout"]) == (3, "warm\n")
        # The pool refills behind the one handed out.
        assert wait_for(lambda: len(pooled(server)) == 2, timeout=90), containers(server.prefix)
        # A sandbox asking for something else is created for the call, as without a pool.
        other = await create(s, memory="256m")
        assert "-pool-" not in other, other
        r = await call(s, "run_command", sandbox=other, command="echo other")
        assert r["stdout"] == "other\n"
        listed = {i["sandbox"] for i in (await call(s, "list_sandboxes"))["sandboxes"]}
        assert listed == {warm, other}
        assert (await call(s, "shutdown_sandbox", sandbox=warm))["removed"] is True
        assert warm not in containers(server.prefix)
    # The server's exit removes the pool's idle members too.
    assert server.stop() == 0
    assert wait_for(lambda: containers(server.prefix) == [], timeout=30), containers(server.prefix)
