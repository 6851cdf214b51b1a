"""Tool-call round trip of `run_command echo hi` through stdio, beside the engine's own time
for the same exec (the result's duration_ms: from the exec's creation to its exit code).

    python roundtrip.py SERVER_BIN SOCKET [RUNS]

Measured twice: with the official MCP Python SDK client, as an agent host would call it, and
with a bare JSON-RPC line client, which takes the SDK's own cost (validation, models) out and
leaves what the server adds. For each: the medians of the round trip, the engine time, their
difference, and the round trip of a call that makes no engine call (`list_sandboxes`: the
protocol alone)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

WARMUP = 10


def report(label: str, trips: list[float], engine: list[float], floor: list[float]) -> None:
    over = [a - b for a, b in zip(trips, engine, strict=True)]
    trip, eng = statistics.median(trips), statistics.median(engine)
    print(f"{label}: round trip {trip:.2f} ms, engine {eng:.2f} ms")
    print(f"{label}: added to the engine's time {statistics.median(over):.2f} ms")
    print(f"{label}: call without engine (list_sandboxes) {statistics.median(floor):.2f} ms")


async def with_sdk(server: str, socket: str, runs: int) -> None:
    params = StdioServerParameters(
        command=server, args=["--socket", socket, "--name-prefix", "pdmcp-bench-"]
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
        await s.initialize()
        created = await s.call_tool("create_sandbox", {})
        assert created.structured_content is not None
        args = {"sandbox": created.structured_content["sandbox"], "argv": ["echo", "hi"]}
        trips: list[float] = []
        engine: list[float] = []
        floor: list[float] = []
        for i in range(runs + WARMUP):
            t0 = time.perf_counter()
            r = await s.call_tool("run_command", args)
            dt = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            await s.call_tool("list_sandboxes", {})
            df = (time.perf_counter() - t0) * 1000
            assert r.structured_content is not None and r.structured_content["stdout"] == "hi\n"
            if i >= WARMUP:
                trips.append(dt)
                engine.append(float(r.structured_content["duration_ms"]))
                floor.append(df)
        report("python sdk client", trips, engine, floor)


def bare(server: str, socket: str, runs: int) -> None:
    p = subprocess.Popen(
        [server, "--socket", socket, "--name-prefix", "pdmcp-bench-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert p.stdin is not None and p.stdout is not None
    stdin, stdout = p.stdin, p.stdout
    last = 0

    def send(msg: dict[str, Any]) -> None:
        stdin.write(json.dumps(msg) + "\n")
        stdin.flush()

    def rpc(method: str, params: dict[str, Any]) -> dict[str, Any]:
        nonlocal last
        last += 1
        send({"jsonrpc": "2.0", "id": last, "method": method, "params": params})
        while True:
            m: dict[str, Any] = json.loads(stdout.readline())
            if m.get("id") == last:
                return m

    info = {"name": "bench", "version": "0"}
    rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": info})
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    created = rpc("tools/call", {"name": "create_sandbox", "arguments": {}})
    args = {"sandbox": created["result"]["structuredContent"]["sandbox"], "argv": ["echo", "hi"]}
    trips: list[float] = []
    engine: list[float] = []
    floor: list[float] = []
    for i in range(runs + WARMUP):
        t0 = time.perf_counter()
        r = rpc("tools/call", {"name": "run_command", "arguments": args})
        dt = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        rpc("tools/call", {"name": "list_sandboxes", "arguments": {}})
        df = (time.perf_counter() - t0) * 1000
        if i >= WARMUP:
            trips.append(dt)
            engine.append(float(r["result"]["structuredContent"]["duration_ms"]))
            floor.append(df)
    stdin.close()
    p.wait(timeout=30)
    report("bare json-rpc client", trips, engine, floor)


if __name__ == "__main__":
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    anyio.run(with_sdk, sys.argv[1], sys.argv[2], n)
    bare(sys.argv[1], sys.argv[2], n)
