"""Typed user code, checked by ``mypy --strict`` (scripts/python.sh): the package's annotations
and stubs must let it through without a cast or an ignore."""

from __future__ import annotations

import asyncio

import pocketdock
from pocketdock.async_ import AsyncContainer, AsyncExecStream, AsyncProcess, AsyncSession
from pocketdock.async_ import create_new_container as async_create


def sync_use() -> int:
    with pocketdock.create_new_container(mem_limit="256m", ports={8080: 80}) as c:
        r: pocketdock.ExecResult = c.run("echo hi", timeout=5)
        s: pocketdock.ExecStream = c.run("seq 3", stream=True)
        text = "".join(chunk.data for chunk in s)
        p: pocketdock.Process = c.run("sleep 1", detach=True)
        snap: pocketdock.BufferSnapshot = p.peek()
        session: pocketdock.Session = c.session()
        out: str = session.send_and_wait("pwd").stdout
        info: pocketdock.ContainerInfo = c.info()
        c.on_exit(lambda container, code: print(container.name, code))
        data: bytes = c.read_file("/etc/hostname")
        names: list[str] = c.list_files("/tmp")
        return (
            r.exit_code
            + len(text)
            + len(snap.stdout)
            + len(out)
            + info.pids
            + len(data)
            + len(names)
        )


async def async_use() -> str:
    c: AsyncContainer = await async_create(profile="minimal-python")
    async with c:
        r: pocketdock.ExecResult = await c.run("echo hi")
        s: AsyncExecStream = await c.run("seq 3", stream=True)
        chunks = [chunk.data async for chunk in s]
        p: AsyncProcess = await c.run("sleep 1", detach=True)
        done: pocketdock.ExecResult = await p.wait(timeout=5.0)
        sess: AsyncSession = await c.session()
        await sess.close()
        return r.stdout + "".join(chunks) + str(done.exit_code)


def management() -> None:
    items: list[pocketdock.ContainerListItem] = pocketdock.list_containers(project="x")
    removed: int = pocketdock.prune()
    report: pocketdock.DoctorReport = pocketdock.doctor()
    print(len(items), removed, report.healthy, asyncio.run(async_use()), sync_use())
