"""Ctrl-C, the GIL and asyncio cancellation."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pocketdock
import pytest
from pocketdock.async_ import AsyncContainer

from .conftest import arunning, unique_name, wait_gone

CHILD = textwrap.dedent(
    """
    import sys, time
    import pocketdock
    c = pocketdock.create_new_container(name=sys.argv[1])
    try:
        print("ready", flush=True)
        try:
            c.run("sleep 606", timeout=120)
            print("finished", flush=True)
        except KeyboardInterrupt:
            print(f"interrupted {time.monotonic():.3f}", flush=True)
        deadline = time.monotonic() + 5
        gone = False
        while time.monotonic() < deadline and not gone:
            gone = "sleep 606" not in c.run(
                "for f in /proc/[0-9]*/cmdline; do tr '\\\\0' ' ' < $f; echo; done"
            ).stdout
            time.sleep(0.1)
        print("gone" if gone else "still-running", flush=True)
    finally:
        c.shutdown(force=True)
    """
)


def test_ctrl_c_interrupts_a_blocking_run_and_kills_the_command() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, unique_name("sigint")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(1.5)
        sent = time.monotonic()
        os.kill(child.pid, signal.SIGINT)
        out, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    lines = out.split()
    assert lines[0] == "interrupted", out
    assert float(lines[1]) - sent < 2.0, "KeyboardInterrupt took longer than 2 s"
    assert lines[2] == "gone", out
    assert child.returncode == 0


def test_blocking_runs_release_the_gil(container: pocketdock.Container) -> None:
    spans: list[tuple[float, float]] = []

    def work() -> None:
        start = time.monotonic()
        container.run("sleep 1")
        spans.append((start, time.monotonic()))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(spans) == 2
    latest_start = max(s for s, _ in spans)
    earliest_end = min(e for _, e in spans)
    assert latest_start < earliest_end, f"the two runs did not overlap: {spans}"


async def test_cancelling_a_task_kills_its_command(acontainer: AsyncContainer) -> None:
    task = asyncio.ensure_future(acontainer.run("sleep 607"))
    for _ in range(50):
        if await arunning(acontainer, "sleep 607"):
            break
        await asyncio.sleep(0.1)
    assert await arunning(acontainer, "sleep 607")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(50):
        if not await arunning(acontainer, "sleep 607"):
            break
        await asyncio.sleep(0.1)
    assert not await arunning(acontainer, "sleep 607"), "the cancelled command still runs"


async def test_async_calls_run_concurrently(acontainer: AsyncContainer) -> None:
    spans: list[tuple[float, float]] = []

    async def work() -> None:
        start = time.monotonic()
        r = await acontainer.run("sleep 1; echo done")
        assert r.stdout == "done\n"
        spans.append((start, time.monotonic()))

    await asyncio.gather(work(), work(), work())
    latest_start = max(s for s, _ in spans)
    earliest_end = min(e for _, e in spans)
    assert latest_start < earliest_end, f"the runs did not overlap: {spans}"


def test_wait_gone_helper_sees_processes(container: pocketdock.Container) -> None:
    p = container.run("sleep 610", detach=True)
    time.sleep(0.3)
    assert not wait_gone(container, "sleep 610", within=0.5)
    p.kill(9)
    assert wait_gone(container, "sleep 610")
