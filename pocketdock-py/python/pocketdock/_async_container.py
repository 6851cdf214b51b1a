"""The async API's container: ``AsyncContainer`` and ``create_new_container``."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, Optional, Union, overload

from pocketdock import _native
from pocketdock._container_base import (
    DEFAULT_IMAGE,
    DEFAULT_MAX_OUTPUT,
    PROCESS_LIST,
    ContainerBase,
    check_modes,
    create_args,
    parse_processes,
)
from pocketdock._convert import container_info, exec_result
from pocketdock._process import AsyncExecStream, AsyncProcess
from pocketdock._session import AsyncSession
from pocketdock.types import ContainerInfo, ExecResult


class AsyncContainer(ContainerBase):
    """A sandbox container, for asyncio code. Every engine call is awaitable and runs on
    pocketdock's own runtime (no thread per call); cancelling the awaiting task stops the
    call (a command is killed in the container).

    ``async with await create_new_container() as c:`` shuts it down at the end.
    """

    @overload
    async def run(
        self,
        command: str,
        *,
        stream: Literal[False] = ...,
        detach: Literal[False] = ...,
        timeout: Optional[float] = ...,
        max_output: int = ...,
        lang: Optional[str] = ...,
    ) -> ExecResult: ...

    @overload
    async def run(
        self,
        command: str,
        *,
        stream: Literal[True],
        detach: Literal[False] = ...,
        timeout: Optional[float] = ...,
        max_output: int = ...,
        lang: Optional[str] = ...,
    ) -> AsyncExecStream: ...

    @overload
    async def run(
        self,
        command: str,
        *,
        stream: Literal[False] = ...,
        detach: Literal[True],
        timeout: Optional[float] = ...,
        max_output: int = ...,
        lang: Optional[str] = ...,
    ) -> AsyncProcess: ...

    async def run(
        self,
        command: str,
        *,
        stream: bool = False,
        detach: bool = False,
        timeout: Optional[float] = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
        lang: Optional[str] = None,
    ) -> Union[ExecResult, AsyncExecStream, AsyncProcess]:
        """Run ``command`` with ``sh -c`` (``lang="python"``: ``python3 -c``).

        By default wait for it: on ``timeout`` (default: the container's) its whole process
        tree is killed and the result keeps the output so far (``timed_out``); past
        ``max_output`` bytes it is stopped (``truncated``). ``stream=True`` returns an
        :class:`AsyncExecStream` (no deadline unless ``timeout`` is given; the result keeps at
        most ``max_output`` bytes); ``detach=True`` an :class:`AsyncProcess`.
        """
        check_modes(stream, detach)
        if stream:
            s = AsyncExecStream(self._native.stream(command, lang, timeout, max_output))
            self._closables.add(s)
            return s
        if detach:
            p: Any = await self._native.detach(command, lang, timeout, True)
            return AsyncProcess(p)
        t: Any = await self._native.run(command, lang, timeout, max_output, True)
        return exec_result(t)

    async def info(self) -> ContainerInfo:
        """Status, resources, network, ports and processes, live."""
        d: Any = await self._native.info(True)
        info = container_info(d)
        if info.status == "running" and not info.processes:
            listing = await self._native.run(PROCESS_LIST, None, 10.0, 1 << 20, True)
            info = dataclasses.replace(info, processes=parse_processes(listing[1]))
        return info

    async def reboot(self, *, fresh: bool = False) -> None:
        """Restart in place; ``fresh=True`` recreates the container from its image and
        settings (new id, new filesystem)."""
        await self._native.reboot(fresh, True)

    async def write_file(self, path: str, content: Union[str, bytes]) -> None:
        """Write ``content`` (``str`` as UTF-8) to ``path``, creating parent directories."""
        data = content.encode() if isinstance(content, str) else bytes(content)
        await self._native.write_file(path, data, True)

    async def read_file(self, path: str) -> bytes:
        """The content of the file ``path`` (``FileNotFoundError`` when missing)."""
        data: Any = await self._native.read_file(path, True)
        return bytes(data)

    async def list_files(self, path: str = "/home/sandbox") -> list[str]:
        """The names in the directory ``path``, without ``.`` and ``..``."""
        names: Any = await self._native.list_files(path, True)
        return list(names)

    async def push(self, src: str, dest: str) -> None:
        """Copy the host file or directory ``src`` to ``dest`` in the container."""
        await self._native.push(src, dest, True)

    async def pull(self, src: str, dest: str) -> None:
        """Copy ``src`` in the container to the host path ``dest``."""
        await self._native.pull(src, dest, True)

    async def session(self) -> AsyncSession:
        """Open a persistent shell."""
        n: Any = await self._native.session(True)
        s = AsyncSession(n)
        self._closables.add(s)
        return s

    async def snapshot(self, image_name: str) -> str:
        """Commit the container as the image ``image_name`` (``repo[:tag]``); its id."""
        image_id: Any = await self._native.snapshot(image_name, True)
        return str(image_id)

    async def shutdown(self, *, force: bool = False) -> None:
        """Remove the container (a persistent one is only stopped). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._close_all()
        await self._native.shutdown(force, True)

    async def __aenter__(self) -> AsyncContainer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()


async def create_new_container(
    *,
    image: str = DEFAULT_IMAGE,
    name: Optional[str] = None,
    timeout: int = 30,
    mem_limit: Optional[str] = None,
    cpu_percent: Optional[int] = None,
    persist: bool = False,
    volumes: Optional[dict[str, str]] = None,
    project: Optional[str] = None,
    profile: Optional[str] = None,
    devices: Optional[list[str]] = None,
    ports: Optional[dict[int, int]] = None,
    network: Union[bool, str, None] = None,
) -> AsyncContainer:
    """Create and start a sandbox; see :func:`pocketdock.create_new_container`."""
    args = create_args(
        image=image,
        name=name,
        mem_limit=mem_limit,
        cpu_percent=cpu_percent,
        persist=persist,
        volumes=volumes,
        project=project,
        profile=profile,
        devices=devices,
        ports=ports,
        network=network,
    )
    native: Any = await _native.create_container(args, float(timeout), True)
    return AsyncContainer(native)


__all__ = ["AsyncContainer", "create_new_container"]
