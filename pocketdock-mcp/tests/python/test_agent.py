"""An agent-shaped session through every tool: files, commands, background processes, shell
sessions, timeouts, floods of output, bad arguments."""

from __future__ import annotations

import base64
import time

import anyio
import pytest

from harness import Server, call, call_error, containers, create, session

pytestmark = pytest.mark.anyio

PROGRAM = """\
import json, sys
data = {"squares": [i * i for i in range(5)], "argv": sys.argv[1:]}
with open("/tmp/result.json", "w") as f:
    json.dump(data, f)
print("wrote", len(data["squares"]), "squares")
"""

SERVER = """\
import http.server, socketserver, sys
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        print("request", self.path, flush=True)
with socketserver.TCPServer(("127.0.0.1", 8123), H) as s:
    print("serving on 8123", flush=True)
    s.serve_forever()
"""


async def test_agent_session(server: Server) -> None:
    async with session(server) as s:
        sb = await create(s)

        # Write a Python program, run it, read what it wrote.
        w = await call(
            s, "write_file", sandbox=sb, path="/home/sandbox/work/prog.py", content=PROGRAM
        )
        assert w == {"path": "/home/sandbox/work/prog.py", "bytes": len(PROGRAM)}
        r = await call(s, "run_command", sandbox=sb, argv=["python3", "work/prog.py", "x"])
        assert (r["exit_code"], r["stdout"], r["stderr"]) == (0, "wrote 5 squares\n", "")
        f = await call(s, "read_file", sandbox=sb, path="/tmp/result.json")
        assert f["encoding"] == "text"
        assert f["content"] == '{"squares": [0, 1, 4, 9, 16], "argv": ["x"]}'
        ls = await call(s, "list_files", sandbox=sb, path="/home/sandbox/work")
        assert ls["entries"] == ["prog.py"]

        # A background server: start it, read its output, talk to it, kill it.
        await call(s, "write_file", sandbox=sb, path="/tmp/srv.py", content=SERVER)
        p = (await call(s, "start_process", sandbox=sb, command="python3 /tmp/srv.py"))[
            "process_id"
        ]
        out = ""
        for _ in range(40):
            got = await call(s, "read_process", sandbox=sb, process_id=p)
            assert got["running"] is True
            out += got["stdout"]
            if "serving" in out:
                break
            await anyio.sleep(0.25)
        assert "serving on 8123" in out
        fetch = "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8123/').status)"
        r = await call(s, "run_command", sandbox=sb, argv=["python3", "-c", fetch])
        assert r["stdout"] == "200\n", r
        got = await call(s, "read_process", sandbox=sb, process_id=p, wait_seconds=0.5)
        assert "request /" in got["stdout"]
        k = await call(s, "kill_process", sandbox=sb, process_id=p)
        assert k["running"] is False
        assert k["exit_code"] != 0
        r = await call(
            s, "run_command", sandbox=sb, command="cat /proc/[0-9]*/cmdline | tr '\\0' ' '"
        )
        assert "srv.py" not in r["stdout"]

        # Something that times out: killed, partial output kept, not a tool error.
        t0 = time.monotonic()
        r = await call(
            s,
            "run_command",
            sandbox=sb,
            command="echo started; sleep 60; echo never",
            timeout_seconds=2,
        )
        assert time.monotonic() - t0 < 20
        assert r["timed_out"] is True
        assert r["exit_code"] == -1
        assert r["stdout"] == "started\n"

        # Stdin, cwd and env reach the command.
        r = await call(
            s,
            "run_command",
            sandbox=sb,
            argv=[
                "python3",
                "-c",
                "import os,sys; print(sys.stdin.read().upper(), os.getcwd(), os.environ['WHO'])",
            ],
            stdin="hello",
            cwd="/tmp",
            env={"WHO": "agent"},
        )
        assert r["stdout"] == "HELLO /tmp agent\n", r

        # A bad argument is a tool error; the server goes on.
        msg = await call_error(s, "run_command", sandbox=sb, command="true", timeout_seconds="soon")
        assert "invalid arguments for run_command" in msg
        r = await call(s, "run_command", sandbox=sb, command="echo still here")
        assert r["stdout"] == "still here\n"

        await call(s, "shutdown_sandbox", sandbox=sb)
        assert containers(server.prefix) == []


async def test_flood_is_budgeted_and_pageable(server: Server) -> None:
    server.args += ["--output-budget", "4000"]
    async with session(server) as s:
        sb = await create(s)
        total = 300_000
        lines = total // 8
        program = f"import sys; sys.stdout.write(''.join('%07d\\n' % i for i in range({lines})))"
        cmd = f'python3 -c "{program}"'
        r = await call(s, "run_command", sandbox=sb, command=cmd)
        assert r["exit_code"] == 0
        assert r["truncated"] is False
        assert r["stdout_elided_bytes"] == total - 4000
        assert f"{total - 4000} bytes elided" in r["stdout"]
        assert r["stdout"].startswith("0000000\n0000001\n")
        assert r["stdout"].endswith(f"{total // 8 - 1:07d}\n")
        assert len(r["stdout"].encode()) < 4000 + 300
        # The whole output, page by page.
        out_id = r["output_id"]
        pages: list[str] = []
        offset: int | None = 0
        while offset is not None:
            page = await call(s, "read_output", output_id=out_id, offset=offset)
            assert len(page["content"].encode()) <= 4000
            assert page["total_bytes"] == total
            pages.append(page["content"])
            offset = page.get("next_offset")
        assert "".join(pages) == "".join(f"{i:07d}\n" for i in range(total // 8))
        # A command over the capture cap is stopped there.
        r = await call(s, "run_command", sandbox=sb, command="yes floods")
        assert r["truncated"] is True
        assert r["exit_code"] == -1


async def test_binary_files_and_big_text(server: Server) -> None:
    server.args += ["--output-budget", "2000"]
    async with session(server) as s:
        sb = await create(s)
        blob = bytes(range(256)) * 4
        await call(
            s,
            "write_file",
            sandbox=sb,
            path="/tmp/blob.bin",
            content=base64.b64encode(blob).decode(),
            encoding="base64",
        )
        f = await call(s, "read_file", sandbox=sb, path="/tmp/blob.bin")
        assert f["size"] == len(blob)
        assert f["encoding"] == "base64"
        whole = base64.b64decode(f["content"])
        if f.get("output_id"):
            whole = b""
            offset: int | None = 0
            while offset is not None:
                page = await call(
                    s, "read_output", output_id=f["output_id"], offset=offset, encoding="base64"
                )
                whole += base64.b64decode(page["content"])
                offset = page.get("next_offset")
        assert whole == blob
        text = "".join(f"line {i}\n" for i in range(2000))
        await call(s, "write_file", sandbox=sb, path="/tmp/big.txt", content=text)
        f = await call(s, "read_file", sandbox=sb, path="/tmp/big.txt")
        assert f["encoding"] == "text"
        assert f["content"].startswith("line 0\n")
        assert f["content"].endswith("line 1999\n")
        assert f["elided_bytes"] == len(text) - 2000
        msg = await call_error(s, "read_file", sandbox=sb, path="/no/such/file")
        assert "/no/such/file" in msg
        msg = await call_error(
            s, "write_file", sandbox=sb, path="/tmp/x", content="!!", encoding="base64"
        )
        assert "base64" in msg


async def test_shell_session(server: Server) -> None:
    async with session(server) as s:
        sb = await create(s)
        sid = (await call(s, "open_session", sandbox=sb))["session_id"]
        await call(s, "session_send", sandbox=sb, session_id=sid, command="cd /tmp && export X=42")
        r = (await call(s, "session_send", sandbox=sb, session_id=sid, command="pwd; echo $X"))[
            "result"
        ]
        assert (r["exit_code"], r["stdout"]) == (0, "/tmp\n42\n")
        r = (await call(s, "session_send", sandbox=sb, session_id=sid, command="false"))["result"]
        assert r["exit_code"] == 1
        r = (
            await call(
                s,
                "session_send",
                sandbox=sb,
                session_id=sid,
                command="echo a; sleep 30",
                timeout_seconds=1,
            )
        )["result"]
        assert r["timed_out"] is True and r["stdout"] == "a\n"
        sent = await call(
            s,
            "session_send",
            sandbox=sb,
            session_id=sid,
            command="sleep 0.5; echo later",
            wait=False,
        )
        assert sent == {"waited": False}
        got = ""
        for _ in range(40):
            got += (await call(s, "session_read", sandbox=sb, session_id=sid))["output"]
            if "later" in got:
                break
            await anyio.sleep(0.25)
        assert got == "later\n"
        assert await call(s, "close_session", sandbox=sb, session_id=sid) == {"closed": True}
        msg = await call_error(s, "session_read", sandbox=sb, session_id=sid)
        assert "no session" in msg


async def test_info_and_list(server: Server) -> None:
    async with session(server) as s:
        a = await create(s, memory="256m")
        b = await create(s, network=True, idle_ttl_seconds=600)
        listed = (await call(s, "list_sandboxes"))["sandboxes"]
        assert [x["sandbox"] for x in listed] == [a, b]
        assert [x["network"] for x in listed] == [False, True]
        assert listed[1]["idle_ttl_seconds"] == 600
        info = await call(s, "sandbox_info", sandbox=a)
        assert info["status"] == "running"
        assert info["network"] is False
        assert info["memory_limit"].startswith("256")
        r = await call(
            s, "run_command", sandbox=a, command="cat /sys/class/net/*/operstate | wc -l"
        )
        assert r["stdout"].strip() == "1"  # loopback only
