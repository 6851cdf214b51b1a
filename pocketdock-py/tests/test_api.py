"""The API's values, errors, streams, sessions and commands."""

from __future__ import annotations

import datetime
import gc
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pocketdock
import pytest
from pocketdock import errors
from pocketdock.async_ import AsyncContainer

from .conftest import unique_name


def test_exec_result_fields_have_python_types(container: pocketdock.Container) -> None:
    r = container.run("printf 'h\\303\\251llo'; echo oops >&2; exit 2")
    assert isinstance(r, pocketdock.ExecResult)
    assert r.stdout == "héllo"
    assert r.stderr == "oops\n"
    assert isinstance(r.exit_code, int)
    assert r.exit_code == 2
    assert isinstance(r.duration_ms, float)
    assert r.duration_ms > 0
    assert r.timed_out is False
    assert r.truncated is False
    assert r.ok is False


def test_info_fields_have_python_types(container: pocketdock.Container) -> None:
    info = container.info()
    assert isinstance(info, pocketdock.ContainerInfo)
    assert info.id == container.container_id
    assert info.name == container.name
    assert info.status == "running"
    assert isinstance(info.created_at, datetime.datetime)
    assert info.created_at.tzinfo is not None
    assert isinstance(info.started_at, datetime.datetime)
    assert isinstance(info.uptime, datetime.timedelta)
    assert info.uptime.total_seconds() >= 0
    assert isinstance(info.pids, int)
    assert info.pids >= 1
    assert isinstance(info.ports, dict)
    assert isinstance(info.processes, tuple)


def test_list_containers_lists_ours(container: pocketdock.Container) -> None:
    items = pocketdock.list_containers()
    mine = [i for i in items if i.name == container.name]
    assert len(mine) == 1
    item = mine[0]
    assert isinstance(item, pocketdock.ContainerListItem)
    assert container.container_id.startswith(item.id)
    assert len(item.id) == 12
    assert item.status == "running"
    assert item.persist is False


def test_stream_chunks_are_text_and_whole_characters(container: pocketdock.Container) -> None:
    s = container.run(
        "printf 'a\\342\\202'; sleep 0.3; printf '\\254\\n'; echo e >&2", stream=True
    )
    with pytest.raises(RuntimeError):
        _ = s.result
    chunks = list(s)
    assert all(isinstance(c, pocketdock.StreamChunk) for c in chunks)
    out = "".join(c.data for c in chunks if c.stream == "stdout")
    err = "".join(c.data for c in chunks if c.stream == "stderr")
    assert out == "a\u20ac\n"
    assert err == "e\n"
    assert s.result.exit_code == 0
    assert s.result.stdout == out


def test_stream_hands_out_everything_past_max_output(container: pocketdock.Container) -> None:
    s = container.run("head -c 3000000 /dev/zero | tr '\\0' z", stream=True, max_output=1000)
    total = sum(len(c.data) for c in s)
    assert total == 3_000_000
    assert s.result.exit_code == 0
    assert s.result.truncated
    assert len(s.result.stdout) == 1000


def test_detached_process_buffers_and_callbacks(container: pocketdock.Container) -> None:
    seen: list[str] = []
    codes: list[int] = []
    container.on_stdout(lambda c, text: seen.append(text))
    container.on_exit(lambda c, code: codes.append(code))
    p = container.run("echo one; echo two >&2; exit 4", detach=True)
    assert isinstance(p, pocketdock.Process)
    r = p.wait(timeout=10)
    assert r.exit_code == 4
    assert "".join(seen) == "one\n"
    assert codes == [4]
    snap = p.peek()
    assert isinstance(snap, pocketdock.BufferSnapshot)
    assert snap.stdout == "one\n"
    assert snap.stderr == "two\n"
    assert p.read().stdout == "one\n"
    assert p.read().stdout == ""


def test_sync_session_keeps_state(container: pocketdock.Container) -> None:
    s = container.session()
    assert isinstance(s, pocketdock.Session)
    s.send_and_wait("cd /tmp && export X=42")
    r = s.send_and_wait("echo $X; pwd")
    assert r.stdout == "42\n/tmp\n"
    r = s.send_and_wait("sleep 30", timeout=0.5)
    assert r.timed_out
    assert s.send_and_wait("echo still").stdout == "still\n"
    s.close()
    with pytest.raises(pocketdock.SessionClosed):
        s.send_and_wait("echo no")


def test_files_round_trip(container: pocketdock.Container, tmp_path: Path) -> None:
    container.write_file("/tmp/dir with space/f.txt", "héllo")
    assert container.read_file("/tmp/dir with space/f.txt") == "héllo".encode()
    assert container.list_files("/tmp/dir with space") == ["f.txt"]
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "x.sh").write_text("echo x\n")
    os.chmod(src / "sub" / "x.sh", 0o755)
    container.push(str(src), "/tmp/tree")
    assert container.run("/tmp/tree/sub/x.sh").stdout == "x\n"
    container.pull("/tmp/tree", str(tmp_path / "back"))
    assert (tmp_path / "back" / "sub" / "x.sh").read_text() == "echo x\n"


def test_errors_map_to_the_python_hierarchy(tmp_path: Path) -> None:
    c = pocketdock.create_new_container(name=unique_name("err"))
    c.shutdown()
    with pytest.raises(errors.ContainerNotFound) as e:
        c.run("true")
    assert isinstance(e.value, errors.ContainerError)
    assert isinstance(e.value, pocketdock.PocketDockError)
    with pytest.raises(pocketdock.ContainerNotFound):
        pocketdock.resume_container(unique_name("missing"))
    with pytest.raises(pocketdock.ImageNotFound) as img:
        pocketdock.create_new_container(image="pdpy/no-such-image:none")
    assert "pdpy/no-such-image" in img.value.image
    with pytest.raises(ValueError, match="Unknown profile 'nope'"):
        pocketdock.create_new_container(profile="nope")
    with pytest.raises(ValueError, match="mem_limit"):
        pocketdock.create_new_container(mem_limit="lots")
    with pytest.raises(pocketdock.SocketConnectionError) as sock:
        pocketdock.list_containers(socket_path=str(tmp_path / "none.sock"))
    assert sock.value.socket_path.endswith("none.sock")
    with pytest.raises(pocketdock.ProjectNotInitialized):
        pocketdock.doctor(project_root=tmp_path)


def test_missing_paths_are_file_not_found(container: pocketdock.Container) -> None:
    with pytest.raises(FileNotFoundError):
        container.read_file("/tmp/nope.txt")
    with pytest.raises(FileNotFoundError):
        container.list_files("/no/such/dir")
    with pytest.raises(FileNotFoundError):
        container.push("/no/such/host/file", "/tmp/x")


def test_name_in_use_is_refused(container: pocketdock.Container) -> None:
    with pytest.raises(pocketdock.ContainerError, match="already in use"):
        pocketdock.create_new_container(name=container.name)


async def test_async_surface(acontainer: AsyncContainer) -> None:
    r = await acontainer.run("echo hi")
    assert r.stdout == "hi\n"
    s = await acontainer.run("seq 1 3", stream=True)
    assert "".join([c.data async for c in s]) == "1\n2\n3\n"
    p = await acontainer.run("echo bg", detach=True)
    assert (await p.wait(timeout=10)).stdout == "bg\n"
    sess = await acontainer.session()
    assert (await sess.send_and_wait("echo $((6*7))")).stdout == "42\n"
    await sess.close()
    info = await acontainer.info()
    assert info.status == "running"


def test_projects_and_profiles(tmp_path: Path) -> None:
    root = pocketdock.init_project(tmp_path / "p", project_name="pdpy-proj")
    assert (root / ".pocketdock" / "pocketdock.yaml").is_file()
    assert pocketdock.find_project_root(root / ".pocketdock") == root
    assert pocketdock.find_project_root(tmp_path) is None
    names = [p.name for p in pocketdock.list_profiles()]
    assert names[0] == "minimal-python"
    assert len(names) == 6
    assert pocketdock.resolve_profile("dev").network_default is True
    assert pocketdock.get_version() == pocketdock.__version__


def test_cli_is_installed_with_the_wheel() -> None:
    cli = Path(sys.executable).parent / "pocketdock"
    assert cli.is_file(), f"{cli} is missing: the wheel did not install the CLI"
    out = subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("pocketdock ")


def test_the_installed_agent_is_found_and_serves_commands() -> None:
    """A fresh interpreter with no ``POCKETDOCK_AGENT`` finds the agent the wheel installed
    beside the CLI, and commands go through it: the agent runs in the sandbox."""
    agent = Path(sys.executable).parent / "pocketdock-agent"
    assert agent.is_file(), f"{agent} is missing: the wheel did not install the agent"
    env = {k: v for k, v in os.environ.items() if k != "POCKETDOCK_AGENT"}
    child = Path(__file__).with_name("agent_child.py")
    out = subprocess.run(
        [sys.executable, str(child), str(agent), unique_name("agent")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "agent ok"


def test_network_is_off_unless_asked_for(container: pocketdock.Container) -> None:
    assert container.info().network is False
    with pocketdock.create_new_container(name=unique_name("net"), network=True) as c:
        assert c.info().network is True


def test_shutdown_does_not_wait_for_a_running_command() -> None:
    c = pocketdock.create_new_container(name=unique_name("shut"))
    outcome: list[object] = []

    def work() -> None:
        try:
            outcome.append(c.run("sleep 611", timeout=120))
        except pocketdock.PocketDockError as e:
            outcome.append(e)

    t = threading.Thread(target=work)
    t.start()
    time.sleep(0.5)
    c.shutdown()
    t.join(30)
    assert not t.is_alive(), "the run kept waiting after its container was removed"
    assert len(outcome) == 1
    result = outcome[0]
    assert not (isinstance(result, pocketdock.ExecResult) and result.ok)
    assert c.name not in [i.name for i in pocketdock.list_containers()]


def test_a_dropped_ephemeral_handle_removes_its_container() -> None:
    name = unique_name("gc")
    c = pocketdock.create_new_container(name=name)
    del c
    gc.collect()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if name not in [i.name for i in pocketdock.list_containers()]:
            return
        time.sleep(0.2)
    pytest.fail(f"{name} is still there after its handle was dropped")
