"""The exceptions pocketdock raises.

The hierarchy, the names and the messages are those of the Python pocketdock, so ``except``
clauses written for it keep working::

    PocketDockError
    ├── SocketError
    │   ├── SocketConnectionError      (.socket_path)
    │   ├── SocketCommunicationError   (.detail)
    │   └── PodmanNotRunning
    ├── ContainerError                 (.container_id)
    │   ├── ContainerNotFound
    │   ├── ContainerNotRunning
    │   └── ContainerGone
    ├── ImageNotFound                  (.image)
    ├── SessionClosed
    └── ProjectNotInitialized

Besides these, operations raise the built-in exceptions Python code expects: ``FileNotFoundError``
for a path missing in the container or on the host, ``ValueError`` for an argument refused before
any engine call, ``OSError`` for other host file errors.
"""

from __future__ import annotations

import sys


def _with_detail(message: str, detail: str) -> str:
    return f"{message}: {detail}" if detail else message


class PocketDockError(Exception):
    """Every pocketdock error."""


class SocketError(PocketDockError):
    """Talking to the container engine's socket failed."""


class SocketConnectionError(SocketError):
    """The engine socket refused or failed the connection."""

    def __init__(self, socket_path: str, detail: str = "") -> None:
        self.socket_path = socket_path
        super().__init__(_with_detail(f"Cannot connect to socket at {socket_path}", detail))


class SocketCommunicationError(SocketError):
    """The engine answered with an error, broke the protocol, or did not answer in time."""

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__(_with_detail("Socket communication error", detail))


class PodmanNotRunning(SocketError):
    """No engine socket was found."""

    def __init__(self) -> None:
        if sys.platform == "darwin":
            hint = "Try: podman machine start  OR  open Docker Desktop"
        else:
            hint = "Try: systemctl --user start podman.socket"
        super().__init__(f"No container engine socket found. Is Podman or Docker running? {hint}")


class ContainerError(PocketDockError):
    """Something is wrong with one container."""

    def __init__(self, container_id: str, detail: str = "") -> None:
        self.container_id = container_id
        super().__init__(_with_detail(f"Container {container_id}", detail))


class ContainerNotFound(ContainerError):
    """No such container (by id or name)."""

    def __init__(self, container_id: str) -> None:
        super().__init__(container_id, "not found")


class ContainerNotRunning(ContainerError):
    """The container exists but is not running."""

    def __init__(self, container_id: str) -> None:
        super().__init__(container_id, "is not running")


class ContainerGone(ContainerError):
    """The container was removed while in use."""

    def __init__(self, container_id: str) -> None:
        super().__init__(container_id, "was removed externally")


class ImageNotFound(PocketDockError):
    """The image is not in the engine."""

    def __init__(self, image: str) -> None:
        self.image = image
        super().__init__(f"Image not found: {image}")


class SessionClosed(PocketDockError):
    """The session was closed, or its shell ended."""


class ProjectNotInitialized(PocketDockError):
    """No ``.pocketdock/`` project was found."""

    def __init__(self) -> None:
        super().__init__("No .pocketdock/ project directory found. Run `pocketdock init` first.")


__all__ = [
    "ContainerError",
    "ContainerGone",
    "ContainerNotFound",
    "ContainerNotRunning",
    "ImageNotFound",
    "PocketDockError",
    "PodmanNotRunning",
    "ProjectNotInitialized",
    "SessionClosed",
    "SocketCommunicationError",
    "SocketConnectionError",
    "SocketError",
]
