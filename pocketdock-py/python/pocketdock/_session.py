"""Sessions: a persistent shell whose working directory and environment carry over."""

from __future__ import annotations

from typing import Any, Callable, Optional

from pocketdock import _native
from pocketdock._convert import exec_result
from pocketdock.types import ExecResult


class _SessionBase:
    def __init__(self, native: _native.NativeSession) -> None:
        self._native = native

    @property
    def id(self) -> str:
        """The engine's exec id of the shell."""
        return self._native.id

    def read(self) -> str:
        """Take the output that arrived outside ``send_and_wait`` results."""
        return self._native.read()

    def on_output(self, fn: Callable[[str], Any]) -> None:
        """Call ``fn(text)`` with every piece of output as it arrives."""
        self._native.on_output(fn)

    def _close(self) -> None:
        self._native.close_soon()


class AsyncSession(_SessionBase):
    """A persistent shell (``await container.session()``)."""

    async def send(self, command: str) -> None:
        """Write ``command`` and a newline to the shell, without waiting; its output goes to
        ``read()``. ``SessionClosed`` once closed."""
        await self._native.send(command, True)

    async def send_and_wait(self, command: str, *, timeout: Optional[float] = None) -> ExecResult:
        """Run ``command`` in the shell and return its exact output and exit code. A timeout
        kills the command (the shell and its state survive) and returns ``timed_out=True``
        with the output so far. Calls from several tasks run one after another."""
        t: Any = await self._native.send_and_wait(command, timeout, True)
        return exec_result(t)

    async def close(self) -> None:
        """End the shell; the container is untouched. Idempotent."""
        await self._native.close(True)


class Session(_SessionBase):
    """A persistent shell (``container.session()``)."""

    def send(self, command: str) -> None:
        """Write ``command`` and a newline to the shell, without waiting; its output goes to
        ``read()``. ``SessionClosed`` once closed."""
        self._native.send(command, False)

    def send_and_wait(self, command: str, *, timeout: Optional[float] = None) -> ExecResult:
        """Run ``command`` in the shell and return its exact output and exit code. A timeout
        kills the command (the shell and its state survive) and returns ``timed_out=True``
        with the output so far. Calls from several threads run one after another."""
        return exec_result(self._native.send_and_wait(command, timeout, False))

    def close(self) -> None:
        """End the shell; the container is untouched. Idempotent."""
        self._native.close(False)


SyncSession = Session

__all__ = ["AsyncSession", "Session", "SyncSession"]
