"""What the Python pocketdock got wrong and this package does right."""

from __future__ import annotations

import time

import pocketdock

from .conftest import wait_gone


def test_timeout_kills_the_tree_and_keeps_partial_output(container: pocketdock.Container) -> None:
    r = container.run("echo before; sh -c 'sleep 603' & sleep 603; echo never", timeout=1)
    assert r.timed_out
    assert r.exit_code == -1
    assert not r.ok
    assert r.stdout == "before\n"
    assert r.duration_ms >= 900
    assert wait_gone(container, "sleep 603"), "the timed-out command's processes still run"


def test_kill_signals_the_process(container: pocketdock.Container) -> None:
    handler = (
        "import signal, sys, time\n"
        "def term(*_):\n"
        "    print('got-term', flush=True)\n"
        "    sys.exit(7)\n"
        "signal.signal(signal.SIGTERM, term)\n"
        "print('ready', flush=True)\n"
        "time.sleep(604)\n"
    )
    p = container.run(handler, detach=True, lang="python")
    deadline = time.monotonic() + 10
    while "ready" not in p.peek().stdout and time.monotonic() < deadline:
        time.sleep(0.1)
    assert p.is_running()
    p.kill(15)
    r = p.wait(timeout=10)
    assert not r.timed_out
    assert r.exit_code == 7
    assert r.stdout == "ready\ngot-term\n"
    assert not p.is_running()
    assert wait_gone(container, "sleep(604)")


def test_kill_9_ends_the_process(container: pocketdock.Container) -> None:
    p = container.run("sleep 608", detach=True)
    time.sleep(0.3)
    p.kill(9)
    r = p.wait(timeout=10)
    assert not r.timed_out
    assert r.exit_code == 137
    assert wait_gone(container, "sleep 608")


def test_truncated_run_is_stopped_with_an_honest_exit_code(
    container: pocketdock.Container,
) -> None:
    r = container.run("head -c 100000 /dev/zero | tr '\\0' x; sleep 605", max_output=1024)
    assert r.truncated
    assert r.exit_code == -1
    assert len(r.stdout) == 1024
    assert wait_gone(container, "sleep 605"), "the truncated command still runs"


def test_exit_code_is_read_after_the_command_ended(container: pocketdock.Container) -> None:
    for code in (0, 3, 42):
        r = container.run(f"head -c 5000 /dev/zero | tr '\\0' y; exit {code}")
        assert r.exit_code == code
        assert len(r.stdout) == 5000
        assert not r.truncated


def test_wait_timeout_returns_a_timed_out_result(container: pocketdock.Container) -> None:
    p = container.run("echo started; sleep 609", detach=True)
    r = p.wait(timeout=0.5)
    assert r.timed_out
    assert p.is_running()
    p.kill(9)
    assert not p.wait(timeout=10).timed_out
