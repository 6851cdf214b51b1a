"""What happens around the calls: cleanup when the client disconnects mid-call and when the
server exits, the idle TTL, the cap on live sandboxes, per-session isolation, cancellation,
progress notifications, and host directories."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from pathlib import Path

import anyio
import pytest

from harness import Server, call, call_error, containers, create, session, wait_for

pytestmark = pytest.mark.anyio

PROCS = "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"


async def test_disconnect_mid_call_leaves_nothing(server: Server) -> None:
    made: list[str] = []
    with anyio.move_on_after(30):
        async with session(server) as s, anyio.create_task_group() as tg:
            made.append(await create(s))
            made.append(await create(s))
            assert sorted(containers(server.prefix)) == sorted(made)

            async def long_call() -> None:
                await s.call_tool("run_command", {"sandbox": made[0], "command": "sleep 300"})

            tg.start_soon(long_call)
            await anyio.sleep(1.5)
            # Leave with the call still running: the client goes away mid-call.
            tg.cancel_scope.cancel()
    assert len(made) == 2
    assert wait_for(lambda: containers(server.prefix) == [], timeout=15), containers(server.prefix)


async def test_server_exit_removes_its_sandboxes(http_server: Server) -> None:
    http_server.start_http()
    async with session(http_server) as s:
        await create(s)
        await create(s)
        assert len(containers(http_server.prefix)) == 2
        assert http_server.stop() == 0
    assert containers(http_server.prefix) == []


async def test_idle_ttl(server: Server) -> None:
    server.args += ["--idle-ttl", "3"]
    async with session(server) as s:
        short = await create(s, idle_ttl_seconds=1)
        busy = await create(s)
        idle = await create(s)
        # A call that outlasts the TTL keeps its sandbox.
        r = await call(s, "run_command", sandbox=busy, command="sleep 4; echo done")
        assert r["stdout"] == "done\n"
        listed = [x["sandbox"] for x in (await call(s, "list_sandboxes"))["sandboxes"]]
        assert listed == [busy]
        assert containers(server.prefix) == [busy] or wait_for(
            lambda: containers(server.prefix) == [busy]
        )
        assert short not in containers(server.prefix) and idle not in containers(server.prefix)
        msg = await call_error(s, "run_command", sandbox=idle, command="true")
        assert "no sandbox" in msg


async def test_cap_on_live_sandboxes(server: Server) -> None:
    server.args += ["--max-sandboxes", "2"]
    async with session(server) as s:
        a = await create(s)
        await create(s)
        msg = await call_error(s, "create_sandbox")
        assert "cap of 2 live sandboxes (all sessions together)" in msg
        assert len(containers(server.prefix)) == 2
        await call(s, "shutdown_sandbox", sandbox=a)
        await create(s)
        assert len(containers(server.prefix)) == 2


async def test_sessions_are_isolated(http_server: Server) -> None:
    http_server.start_http()
    async with session(http_server) as a:
        mine = await create(a)
        r = await call(a, "run_command", sandbox=mine, command="seq 1 100000")
        out_id = r["output_id"]
        assert out_id
        async with session(http_server) as b:
            assert (await call(b, "list_sandboxes"))["sandboxes"] == []
            for tool, args in [
                ("run_command", {"sandbox": mine, "command": "true"}),
                ("sandbox_info", {"sandbox": mine}),
                ("write_file", {"sandbox": mine, "path": "/tmp/x", "content": "x"}),
                ("shutdown_sandbox", {"sandbox": mine}),
            ]:
                msg = await call_error(b, tool, **args)
                assert f'no sandbox "{mine}" in this session' in msg
            assert "no output" in await call_error(b, "read_output", output_id=out_id)
            theirs = await create(b)
            assert sorted(containers(http_server.prefix)) == sorted([mine, theirs])
        # B's end removed B's sandbox only.
        assert wait_for(lambda: containers(http_server.prefix) == [mine])
        r = await call(a, "run_command", sandbox=mine, command="echo alive")
        assert r["stdout"] == "alive\n"


async def test_cancel_kills_the_command(server: Server) -> None:
    async with session(server) as s:
        sb = await create(s)
        with anyio.move_on_after(2) as scope:
            await s.call_tool(
                "run_command",
                {"sandbox": sb, "command": "echo hi; sleep 777", "timeout_seconds": 120},
            )
        assert scope.cancelled_caught

        async def gone() -> bool:
            r = await call(s, "run_command", sandbox=sb, command=PROCS)
            return "sleep 777" not in r["stdout"]

        for _ in range(40):
            if await gone():
                break
            await anyio.sleep(0.25)
        assert await gone()
        r = await call(s, "run_command", sandbox=sb, command="echo after")
        assert r["stdout"] == "after\n"

        # The same for a command waited for in a shell session; the shell survives.
        sid = (await call(s, "open_session", sandbox=sb))["session_id"]
        with anyio.move_on_after(2) as scope:
            await s.call_tool(
                "session_send",
                {"sandbox": sb, "session_id": sid, "command": "sleep 778", "timeout_seconds": 120},
            )
        assert scope.cancelled_caught

        async def session_cmd_gone() -> bool:
            r = await call(s, "run_command", sandbox=sb, command=PROCS)
            return "sleep 778" not in r["stdout"]

        for _ in range(40):
            if await session_cmd_gone():
                break
            await anyio.sleep(0.25)
        assert await session_cmd_gone()
        r = (await call(s, "session_send", sandbox=sb, session_id=sid, command="echo back"))[
            "result"
        ]
        assert r["stdout"] == "back\n"


async def test_progress_notifications(server: Server) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with session(server) as s:
        sb = await create(s)
        r = await s.call_tool(
            "run_command",
            {"sandbox": sb, "command": "for i in 1 2 3 4; do echo $i; sleep 1; done"},
            progress_callback=on_progress,
        )
        assert not r.is_error
    assert len(seen) >= 2, seen
    progress = [p for p, _, _ in seen]
    assert progress == sorted(progress) and len(set(progress)) == len(progress)
    assert all(total == 30 for _, total, _ in seen)
    assert all(m and "bytes of output" in m for _, _, m in seen)


async def test_host_dirs(server: Server) -> None:
    with tempfile.TemporaryDirectory(prefix="pdmcp-host-") as d:
        root = Path(d)
        (root / "shared").mkdir()
        (root / "shared" / "data.txt").write_text("from the host\n")
        os.symlink("/etc", root / "shared" / "escape")
        server.args += ["--allow-host-dir", str(root / "shared")]
        async with session(server) as s:
            sb = await create(
                s, mounts=[{"host_path": f"{root}/shared", "container_path": "/mnt/in"}]
            )
            r = await call(s, "run_command", sandbox=sb, command="cat /mnt/in/data.txt")
            assert r["stdout"] == "from the host\n"
            r = await call(s, "run_command", sandbox=sb, command="echo x > /mnt/in/new")
            assert r["exit_code"] != 0  # read-only unless writable
            assert not (root / "shared" / "new").exists()
            for path, expected in [
                (f"{root}/shared/../../etc", '".."'),
                (f"{root}/shared/escape", "outside the allowed directories"),
                (f"{root}/shared/escape/passwd", "outside the allowed directories"),
                ("/etc", "outside the allowed directories"),
                (str(root), "outside the allowed directories"),
                ("shared", "not absolute"),
            ]:
                mounts = [{"host_path": path, "container_path": "/mnt/x"}]
                msg = await call_error(s, "create_sandbox", mounts=mounts)
                assert expected in msg, (path, msg)
            assert containers(server.prefix) == [sb]


def test_stdio_server_exit_on_sigterm_removes_its_sandboxes() -> None:
    """A stdio server told to stop by its host (SIGTERM) while its client is still connected.
    The SDK client owns the processes it starts, so this one is driven with raw lines."""
    srv = Server("stdio")
    p = subprocess.Popen(
        srv.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert p.stdin is not None and p.stdout is not None
    try:
        lines = [
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "0"},
                },
            },
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "create_sandbox", "arguments": {}},
            },
        ]
        for line in lines:
            p.stdin.write(json.dumps(line) + "\n")
        p.stdin.flush()
        answers = [json.loads(p.stdout.readline()) for _ in range(2)]
        assert answers[1]["result"]["structuredContent"]["sandbox"].startswith(srv.prefix)
        assert len(containers(srv.prefix)) == 1
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
        assert containers(srv.prefix) == []
    finally:
        if p.poll() is None:
            p.kill()
        srv.cleanup()
