"""pocketdock: disposable, offline container sandboxes on Podman or Docker.

The Python pocketdock's API on a Rust core::

    from pocketdock import create_new_container

    with create_new_container() as c:
        print(c.run("echo hello").stdout)

The async API is in :mod:`pocketdock.async_`.
"""

from __future__ import annotations

import os
import sysconfig
from typing import Optional

from pocketdock import _native
from pocketdock._convert import doctor_report, list_item
from pocketdock._process import ExecStream, Process, SyncExecStream, SyncProcess
from pocketdock._session import Session, SyncSession
from pocketdock._sync_container import Container, create_new_container
from pocketdock.errors import (
    ContainerError,
    ContainerGone,
    ContainerNotFound,
    ContainerNotRunning,
    ImageNotFound,
    PocketDockError,
    PodmanNotRunning,
    ProjectNotInitialized,
    SessionClosed,
    SocketCommunicationError,
    SocketConnectionError,
    SocketError,
)
from pocketdock.profiles import ProfileInfo, list_profiles, resolve_profile
from pocketdock.projects import PathLike, find_project_root, init_project
from pocketdock.types import (
    BufferSnapshot,
    ContainerInfo,
    ContainerListItem,
    DoctorReport,
    ExecResult,
    StreamChunk,
)


def _use_installed_agent() -> None:
    """Point the Rust core at the in-sandbox agent this wheel installed beside its ``pocketdock``
    command, unless ``POCKETDOCK_AGENT`` already names one (or ``off``).

    The core looks for the agent beside the running executable, which for Python is the
    interpreter, not the environment's ``bin``; it reads the variable at its first engine call,
    after this import. Set here, the variable also reaches the ``pocketdock`` command when
    Python runs it.
    """
    if "POCKETDOCK_AGENT" in os.environ:
        return
    for scheme in (None, f"{os.name}_user"):
        try:
            scripts = (
                sysconfig.get_path("scripts")
                if scheme is None
                else sysconfig.get_path("scripts", scheme)
            )
        except KeyError:
            continue
        agent = os.path.join(scripts, "pocketdock-agent")
        if os.path.isfile(agent):
            os.environ["POCKETDOCK_AGENT"] = agent
            return


_use_installed_agent()


__version__: str = _native.__version__


def get_version() -> str:
    """The package version."""
    return __version__


def resume_container(
    name: str, *, socket_path: Optional[str] = None, timeout: int = 30
) -> Container:
    """A handle on the container ``name``, started first if it is stopped."""
    return Container(_native.resume_container(name, socket_path, float(timeout), False))


def list_containers(
    *, socket_path: Optional[str] = None, project: Optional[str] = None
) -> list[ContainerListItem]:
    """The pocketdock containers, stopped ones included; only ``project``'s when given."""
    return [list_item(t) for t in _native.list_containers(socket_path, project, False)]


def stop_container(name: str, *, socket_path: Optional[str] = None) -> None:
    """Stop the container ``name`` without removing it."""
    _native.stop_container(name, socket_path, False)


def destroy_container(name: str, *, socket_path: Optional[str] = None) -> None:
    """Remove the container ``name`` and its instance directory (only when its label names a
    real instance directory of this container)."""
    _native.destroy_container(name, socket_path, False)


def prune(*, socket_path: Optional[str] = None, project: Optional[str] = None) -> int:
    """Remove the stopped pocketdock containers (only ``project``'s when given); how many."""
    return int(_native.prune(socket_path, project, False))


def doctor(
    *, project_root: Optional[PathLike] = None, socket_path: Optional[str] = None
) -> DoctorReport:
    """Compare the project's instance directories with its containers
    (``ProjectNotInitialized`` outside a project)."""
    root = None if project_root is None else os.fspath(project_root)
    return doctor_report(_native.doctor(root, socket_path, False))


__all__ = [
    "BufferSnapshot",
    "Container",
    "ContainerError",
    "ContainerGone",
    "ContainerInfo",
    "ContainerListItem",
    "ContainerNotFound",
    "ContainerNotRunning",
    "DoctorReport",
    "ExecResult",
    "ExecStream",
    "ImageNotFound",
    "PocketDockError",
    "PodmanNotRunning",
    "Process",
    "ProfileInfo",
    "ProjectNotInitialized",
    "Session",
    "SessionClosed",
    "SocketCommunicationError",
    "SocketConnectionError",
    "SocketError",
    "StreamChunk",
    "SyncExecStream",
    "SyncProcess",
    "SyncSession",
    "__version__",
    "create_new_container",
    "destroy_container",
    "doctor",
    "find_project_root",
    "get_version",
    "init_project",
    "list_containers",
    "list_profiles",
    "prune",
    "resolve_profile",
    "resume_container",
    "stop_container",
]
