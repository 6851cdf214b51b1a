"""The sync API's container: ``Container`` and ``create_new_container``.

Every call blocks the calling thread with the GIL released (other Python threads run), and
Ctrl-C interrupts it: the call is abandoned and a running command is killed in the container.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Optional, Union, overload

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
from pocketdock._process import ExecStream, Process
from pocketdock._session import Session
from pocketdock.types import ContainerInfo, ExecResult


class Container(ContainerBase):
    """A sandbox container. ``with create_new_container() as c:`` shuts it down at the end."""

    @overload
    def run(
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
    def run(
        self,
        command: str,
        *,
        stream: Literal[True],
        detach: Literal[False] = ...,
        timeout: Optional[float] = ...,
        max_output: int = ...,
        lang: Optional[str] = ...,
    ) -> ExecStream: ...

    @overload
    def run(
        self,
        command: str,
        *,
        stream: Literal[False] = ...,
        detach: Literal[True],
        timeout: Optional[float] = ...,
        max_output: int = ...,
        lang: Optional[str] = ...,
    ) -> Process: ...

    def run(
        self,
        command: str,
        *,
        stream: bool = False,
        detach: bool = False,
        timeout: Optional[float] = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
        lang: Optional[str] = None,
    ) -> Union[ExecResult, ExecStream, Process]:
        """Run ``command`` with ``sh -c`` (``lang="python"``: ``python3 -c``).

        By default wait for it: on ``timeout`` (default: the container's) its whole process
        tree is killed and the result keeps the output so far (``timed_out``); past
        ``max_output`` bytes it is stopped (``truncated``). ``stream=True`` returns an
        :class:`ExecStream` (no deadline unless ``timeout`` is given; the result keeps at most
        ``max_output`` bytes); ``detach=True`` a :class:`Process`.
        """
        check_modes(stream, detach)
        if stream:
            s = ExecStream(self._native.stream(command, lang, timeout, max_output))
            self._closables.add(s)
            return s
        if detach:
            return Process(self._native.detach(command, lang, timeout, False))
        return exec_result(self._native.run(command, lang, timeout, max_output, False))

    def info(self) -> ContainerInfo:
        """Status, resources, network, ports and processes, live."""
        info = container_info(self._native.info(False))
        if info.status == "running" and not info.processes:
            listing = self._native.run(PROCESS_LIST, None, 10.0, 1 << 20, False)
            info = dataclasses.replace(info, processes=parse_processes(listing[1]))
        return info

    def reboot(self, *, fresh: bool = False) -> None:
        """Restart in place; ``fresh=True`` recreates the container from its image and
        settings (new id, new filesystem)."""
        self._native.reboot(fresh, False)

    def write_file(self, path: str, content: Union[str, bytes]) -> None:
        """Write ``content`` (``str`` as UTF-8) to ``path``, creating parent directories."""
        data = content.encode() if isinstance(content, str) else bytes(content)
        self._native.write_file(path, data, False)

    def read_file(self, path: str) -> bytes:
        """The content of the file ``path`` (``FileNotFoundError`` when missing)."""
        return bytes(self._native.read_file(path, False))

    def list_files(self, path: str = "/home/sandbox") -> list[str]:
        """The names in the directory ``path``, without ``.`` and ``..``."""
        return list(self._native.list_files(path, False))

    def push(self, src: str, dest: str) -> None:
        """Copy the host file or directory ``src`` to ``dest`` in the container."""
        self._native.push(src, dest, False)

    def pull(self, src: str, dest: str) -> None:
        """Copy ``src`` in the container to the host path ``dest``."""
        self._native.pull(src, dest, False)

    def session(self) -> Session:
        """Open a persistent shell."""
        s = Session(self._native.session(False))
        self._closables.add(s)
        return s

    def snapshot(self, image_name: str) -> str:
        """Commit the container as the image ``image_name`` (``repo[:tag]``); its id."""
        return str(self._native.snapshot(image_name, False))

    def shutdown(self, *, force: bool = False) -> None:
        """Remove the container (a persistent one is only stopped). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._close_all()
        self._native.shutdown(force, False)

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def create_new_container(
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
) -> Container:
    """Create and start a sandbox container.

    The engine is ``POCKETDOCK_SOCKET``, else the project's ``socket:`` setting, else the
    first Podman or Docker socket found. ``name`` defaults to ``pd-`` and 8 hex digits and must
    be unused. ``timeout`` is the default of ``run`` in seconds. ``mem_limit`` (``"256m"``),
    ``cpu_percent`` (of one CPU), ``volumes`` (``{host: container}``), ``devices`` and ``ports``
    (``{host: container}``, published on 127.0.0.1) configure the container; ``profile`` picks
    an image profile (its image, unless ``image`` is given, and its network default).
    ``persist=True`` makes ``shutdown`` stop instead of remove, and inside a project gives the
    container an instance directory with logs.

    The container is hardened (capabilities dropped, no new privileges, a pids limit) and has no
    network unless ``network=True`` (or a network name), its profile's default, or published
    ports say otherwise.
    """
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
    return Container(_native.create_container(args, float(timeout), False))


__all__ = ["Container", "create_new_container"]
