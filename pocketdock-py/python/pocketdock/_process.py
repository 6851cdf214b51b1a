"""Streamed and detached commands, for the sync and the async API.

A stream (``run(..., stream=True)``) yields :class:`StreamChunk` objects as output arrives and
then holds the :class:`ExecResult`. A detached process (``run(..., detach=True)``) runs in the
background; its output is kept in a ring buffer (1 MiB) read with ``read()`` / ``peek()``.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator, Iterator
from typing import Any, Optional

from pocketdock import _native
from pocketdock._convert import exec_result
from pocketdock.types import BufferSnapshot, ExecResult, StreamChunk


class _Chunks:
    """Turns raw chunks into text chunks: a character split between two chunks of a stream is
    decoded whole, and whatever is left at the end comes out last."""

    def __init__(self) -> None:
        self._decoders = {
            "stdout": codecs.getincrementaldecoder("utf-8")(errors="replace"),
            "stderr": codecs.getincrementaldecoder("utf-8")(errors="replace"),
        }
        self._ended = False

    def chunk(self, item: Optional[tuple[str, bytes]]) -> Optional[StreamChunk]:
        """The text of ``item``, ``None`` when it decodes to nothing yet."""
        if item is None:
            return None
        stream, data = item
        text = self._decoders[stream].decode(data)
        return StreamChunk(stream=stream, data=text) if text else None

    def tail(self) -> Optional[StreamChunk]:
        """At the end: an incomplete character left over, once."""
        if self._ended:
            return None
        for stream, decoder in self._decoders.items():
            text = decoder.decode(b"", final=True)
            if text:
                return StreamChunk(stream=stream, data=text)
        self._ended = True
        return None


def _result(native: _native.NativeStream) -> ExecResult:
    t = native.result()
    if t is None:
        msg = "result not available until iteration completes"
        raise RuntimeError(msg)
    return exec_result(t)


class AsyncExecStream:
    """The output of ``await container.run(cmd, stream=True)``: ``async for chunk in stream``.

    Nothing runs until the first chunk is asked for. Closing the container (or dropping the
    stream) before the end kills the command.
    """

    def __init__(self, native: _native.NativeStream) -> None:
        self._native = native
        self._chunks = _Chunks()

    def __aiter__(self) -> AsyncIterator[StreamChunk]:
        return self

    async def __anext__(self) -> StreamChunk:
        while True:
            item: Optional[tuple[str, bytes]] = await self._native.next(True)
            if item is None:
                tail = self._chunks.tail()
                if tail is None:
                    raise StopAsyncIteration
                return tail
            chunk = self._chunks.chunk(item)
            if chunk is not None:
                return chunk

    @property
    def result(self) -> ExecResult:
        """The exit code and output, once the iteration is over (``RuntimeError`` before)."""
        return _result(self._native)

    def _close(self) -> None:
        self._native.close()


class ExecStream:
    """The output of ``container.run(cmd, stream=True)``: ``for chunk in stream``."""

    def __init__(self, native: _native.NativeStream) -> None:
        self._native = native
        self._chunks = _Chunks()

    def __iter__(self) -> Iterator[StreamChunk]:
        return self

    def __next__(self) -> StreamChunk:
        while True:
            item: Optional[tuple[str, bytes]] = self._native.next(False)
            if item is None:
                tail = self._chunks.tail()
                if tail is None:
                    raise StopIteration
                return tail
            chunk = self._chunks.chunk(item)
            if chunk is not None:
                return chunk

    @property
    def result(self) -> ExecResult:
        """The exit code and output, once the iteration is over (``RuntimeError`` before)."""
        return _result(self._native)

    def _close(self) -> None:
        self._native.close()


class _ProcessBase:
    def __init__(self, native: _native.NativeProcess) -> None:
        self._native = native

    @property
    def id(self) -> str:
        """The engine's exec id."""
        return self._native.id

    def read(self) -> BufferSnapshot:
        """Take the buffered output (it is removed from the buffer)."""
        stdout, stderr = self._native.read()
        return BufferSnapshot(stdout=stdout, stderr=stderr)

    def peek(self) -> BufferSnapshot:
        """The buffered output, left in the buffer."""
        stdout, stderr = self._native.peek()
        return BufferSnapshot(stdout=stdout, stderr=stderr)

    @property
    def buffer_size(self) -> int:
        """Bytes buffered, both streams."""
        return self._native.buffer_size

    @property
    def buffer_overflow(self) -> bool:
        """True once the buffer dropped old output to make room."""
        return self._native.buffer_overflow


class AsyncProcess(_ProcessBase):
    """A detached command (``await container.run(cmd, detach=True)``)."""

    async def is_running(self) -> bool:
        """True until the command has exited and its exit code is known."""
        return self._native.is_running()

    async def kill(self, signal: int = 15) -> None:
        """Send ``signal`` to the command and every process it started, in the container."""
        await self._native.kill(signal, True)

    async def wait(self, timeout: Optional[float] = None) -> ExecResult:
        """Wait for the exit, at most ``timeout`` seconds. When the timeout passes first the
        result has ``timed_out=True`` and the command keeps running."""
        t: Any = await self._native.wait(timeout, True)
        return exec_result(t)


class Process(_ProcessBase):
    """A detached command (``container.run(cmd, detach=True)``)."""

    def is_running(self) -> bool:
        """True until the command has exited and its exit code is known."""
        return self._native.is_running()

    def kill(self, signal: int = 15) -> None:
        """Send ``signal`` to the command and every process it started, in the container."""
        self._native.kill(signal, False)

    def wait(self, timeout: Optional[float] = None) -> ExecResult:
        """Wait for the exit, at most ``timeout`` seconds. When the timeout passes first the
        result has ``timed_out=True`` and the command keeps running."""
        return exec_result(self._native.wait(timeout, False))


SyncExecStream = ExecStream
SyncProcess = Process

__all__ = [
    "AsyncExecStream",
    "AsyncProcess",
    "ExecStream",
    "Process",
    "SyncExecStream",
    "SyncProcess",
]
