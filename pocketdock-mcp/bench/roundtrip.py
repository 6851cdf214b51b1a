"""Tool-call round trip of `run_command echo` through stdio, with the official MCP Python SDK
client, beside the engine's own time for the same exec (the result's duration_ms).

    python roundtrip.py SERVER_BIN SOCKET [RUNS]

Prints the medians: round trip, engine time, and their difference (what the server, the
protocol and the Python client add)."""

from __future__ import annotations

import statistics
import sys
import time

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client


async def main(server: str, socket: str, runs: int) -> None:
    params = StdioServerParameters(
        command=server, args=["--socket", socket, "--name-prefix", "pdmcp-bench-"]
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
        await s.initialize()
        created = await s.call_tool("create_sandbox", {})
        assert created.structured_content is not None
        name = created.structured_content["sandbox"]
        args = {"sandbox": name, "argv": ["echo", "hi"]}
        round_trips: list[float] = []
        engine: list[float] = []
        for i in range(runs + 10):
            t0 = time.perf_counter()
            r = await s.call_tool("run_command", args)
            dt = (time.perf_counter() - t0) * 1000
            assert r.structured_content is not None and r.structured_content["stdout"] == "hi\n"
            if i >= 10:
                round_trips.append(dt)
                engine.append(float(r.structured_content["duration_ms"]))
        over = [a - b for a, b in zip(round_trips, engine, strict=True)]
        print(f"sandbox {name}")
        print(f"mcp round trip   median {statistics.median(round_trips):.2f} ms")
        print(f"engine exec time median {statistics.median(engine):.2f} ms")
        print(f"server+protocol  median {statistics.median(over):.2f} ms")


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 100)
