"""Protocol conformance as the official SDK client sees it: the handshake, the tool list with
schemas and annotations, JSON-RPC errors for unknown tools, tool errors for bad arguments."""

from __future__ import annotations

import json
import subprocess

import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from harness import Server, call, call_error, create, session

pytestmark = pytest.mark.anyio

TOOLS = {
    "create_sandbox",
    "run_command",
    "start_process",
    "read_process",
    "kill_process",
    "open_session",
    "session_send",
    "session_read",
    "close_session",
    "write_file",
    "read_file",
    "list_files",
    "sandbox_info",
    "list_sandboxes",
    "shutdown_sandbox",
    "read_output",
}
READ_ONLY = {
    "read_process",
    "session_read",
    "read_file",
    "list_files",
    "sandbox_info",
    "list_sandboxes",
    "read_output",
}


async def test_initialize_and_tool_list(server: Server) -> None:
    async with session(server) as s:
        init = s.initialize_result
        assert init is not None
        assert init.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS
        assert init.server_info.name == "pocketdock-mcp"
        assert init.capabilities.tools is not None
        assert init.instructions and "create_sandbox" in init.instructions
        listed = await s.list_tools()
        assert listed.next_cursor is None  # one page: a dozen or so tools
        tools = {t.name: t for t in listed.tools}
        assert set(tools) == TOOLS
        for name, t in tools.items():
            assert t.description and len(t.description) > 40, name
            assert t.input_schema["type"] == "object", name
            assert t.output_schema is not None and t.output_schema["type"] == "object", name
            assert t.annotations is not None, name
            assert t.annotations.read_only_hint is (name in READ_ONLY), name
            runs_commands = name in {"run_command", "start_process", "session_send"}
            assert t.annotations.open_world_hint is runs_commands, name
        run = tools["run_command"].input_schema
        assert run["required"] == ["sandbox"]
        assert {"command", "argv", "timeout_seconds", "stdin", "cwd", "env"} <= set(
            run["properties"]
        )
        assert tools["shutdown_sandbox"].annotations is not None
        assert tools["shutdown_sandbox"].annotations.destructive_hint is True
        assert set(tools["run_command"].output_schema["properties"]) >= {  # type: ignore[index]
            "exit_code",
            "stdout",
            "stderr",
            "duration_ms",
            "timed_out",
            "truncated",
        }


async def test_auto_mode_client_falls_back_to_initialize() -> None:
    srv = Server("stdio")
    try:
        params = StdioServerParameters(command=srv.argv()[0], args=srv.argv()[1:])
        async with Client(params) as client:
            assert client.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS
            tools = await client.list_tools()
            assert {t.name for t in tools.tools} == TOOLS
    finally:
        srv.cleanup()


async def test_unknown_tool_is_a_jsonrpc_error(server: Server) -> None:
    async with session(server) as s:
        with pytest.raises(MCPError) as e:
            await s.call_tool("no_such_tool", {})
        assert e.value.code == -32602
        assert "no_such_tool" in e.value.error.message
        assert (await call(s, "list_sandboxes"))["sandboxes"] == []


async def test_bad_arguments_are_tool_errors(server: Server) -> None:
    async with session(server) as s:
        sb = await create(s)
        cases: list[tuple[str, dict[str, object], str]] = [
            ("run_command", {"command": "true"}, "missing field `sandbox`"),
            ("run_command", {"sandbox": sb, "comand": "true"}, "unknown field `comand`"),
            ("run_command", {"sandbox": sb, "command": 5}, "invalid type"),
            ("run_command", {"sandbox": sb}, "give command"),
            ("run_command", {"sandbox": sb, "command": "x", "argv": ["x"]}, "not both"),
            ("run_command", {"sandbox": sb, "argv": []}, "non-empty"),
            ("run_command", {"sandbox": sb, "command": "x", "timeout_seconds": 0}, "more than 0"),
            ("run_command", {"sandbox": sb, "command": "x", "timeout_seconds": 1e9}, "at most"),
            ("run_command", {"sandbox": sb, "command": "x", "cwd": "rel"}, "not absolute"),
            ("run_command", {"sandbox": sb, "command": "x", "env": {"": "v"}}, "env"),
            ("run_command", {"sandbox": "nope", "command": "true"}, 'no sandbox "nope"'),
            ("create_sandbox", {"memory": "lots"}, "memory"),
            ("create_sandbox", {"cpu_percent": 500}, "cpu_percent"),
            ("create_sandbox", {"image": "has space"}, "image"),
            ("create_sandbox", {"idle_ttl_seconds": 0}, "idle_ttl_seconds"),
            (
                "create_sandbox",
                {"mounts": [{"host_path": "/etc", "container_path": "/x"}]},
                "allow-host-dir",
            ),
            ("kill_process", {"sandbox": sb, "process_id": "p1", "signal": 0}, "signal"),
            ("read_process", {"sandbox": sb, "process_id": "p9"}, "no process"),
            ("read_file", {"sandbox": sb, "path": "relative"}, "path"),
            ("read_output", {"output_id": "out-99"}, "no output"),
            ("session_send", {"sandbox": sb, "session_id": "s1", "command": "x"}, "no session"),
        ]
        for tool, args, expected in cases:
            msg = await call_error(s, tool, **args)
            assert expected in msg, (tool, args, msg)
        # The server is alive and the sandbox untouched.
        r = await call(s, "run_command", sandbox=sb, command="echo ok")
        assert r["stdout"] == "ok\n"
        assert len((await call(s, "list_sandboxes"))["sandboxes"]) == 1


def test_malformed_lines_on_stdio_get_jsonrpc_errors() -> None:
    """Malformed input cannot be sent through an SDK client: these lines are written raw."""
    srv = Server("stdio")
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        },
    }
    bad_notification = {"jsonrpc": "2.0", "method": "x/y", "params": 5}
    lines = ["{not json", '"a string"', json.dumps(bad_notification), '{"jsonrpc": "2.0", "id": 4}']
    lines.append(json.dumps(init))
    try:
        r = subprocess.run(
            srv.argv(),
            input="".join(line + "\n" for line in lines),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        srv.cleanup()
    answers = [json.loads(line) for line in r.stdout.splitlines()]
    errors = [a for a in answers if "error" in a]
    assert [(e["id"], e["error"]["code"]) for e in errors] == [
        (None, -32700),
        (None, -32600),
        (4, -32600),
    ], answers
    results = [a for a in answers if a.get("id") == 1]
    assert results and results[0]["result"]["serverInfo"]["name"] == "pocketdock-mcp"
    assert r.returncode == 0


def test_help_shows_host_snippets() -> None:
    r = subprocess.run(
        [Server("stdio").argv()[0], "--help"], capture_output=True, text=True, check=True
    )
    for snippet in ["claude mcp add pocketdock -- pocketdock-mcp", '"mcpServers"', "--http"]:
        assert snippet in r.stdout, snippet
