"""Client cost of the pocketdock Python API: CPU per ``run("echo")`` and the throughput of a
streamed command. Runs against whichever ``pocketdock`` the interpreter imports (this package or
the Python pocketdock), on the engine named by POCKETDOCK_SOCKET, and prints one JSON line.

    python bench.py [--calls N] [--stream-mb M]
"""

from __future__ import annotations

import argparse
import json
import time

import pocketdock


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--stream-mb", type=int, default=100)
    args = ap.parse_args()

    c = pocketdock.create_new_container()
    try:
        # Warm up for at least 1.5 s: long enough for the in-sandbox agent, which starts in
        # the background after the first command, to be serving (when it is in use).
        warm_until = time.perf_counter() + 1.5
        for i in range(10_000):
            c.run("echo warm")
            if i >= 10 and time.perf_counter() > warm_until:
                break
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(args.calls):
            r = c.run("echo hello")
            assert r.stdout == "hello\n", r
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0

        size = args.stream_mb * 1024 * 1024
        cpu1, wall1 = time.process_time(), time.perf_counter()
        got = 0
        for chunk in c.run(f"head -c {size} /dev/zero | tr '\\0' x", stream=True):
            got += len(chunk.data)
        stream_wall = time.perf_counter() - wall1
        stream_cpu = time.process_time() - cpu1
        assert got == size, (got, size)
    finally:
        c.shutdown(force=True)

    print(
        json.dumps(
            {
                "module": pocketdock.__file__,
                "version": pocketdock.__version__,
                "calls": args.calls,
                "cpu_ms_per_call": round(cpu * 1000 / args.calls, 3),
                "wall_ms_per_call": round(wall * 1000 / args.calls, 3),
                "stream_mb": args.stream_mb,
                "stream_mb_per_s": round(args.stream_mb / stream_wall, 1),
                "stream_cpu_s": round(stream_cpu, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
