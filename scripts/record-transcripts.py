#!/usr/bin/env python3
"""Record raw request/response byte transcripts from real engines, for the proto replay tests.

Usage: eval "$(scripts/engines.sh env)"; scripts/record-transcripts.py
Writes pocketdock-proto/tests/transcripts/<engine>/<NN-name>.req and .resp (exact bytes on the
wire). Uses the busybox test image and removes the container it creates.
"""
import json
import os
import socket
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "pocketdock-proto", "tests", "transcripts")


def exchange(sock_path, raw, upgrade=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.sendall(raw)
    s.settimeout(10)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def raw_request(method, path, payload, content_type):
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: pocketdock/0.1.0\r\nConnection: close\r\n"
    head += f"Content-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n"
    return head.encode() + b"\r\n" + payload


def tar_of(files):
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def request(method, path, body=None, upgrade=False):
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: pocketdock/0.1.0\r\n"
    head += "Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else "Connection: close\r\n"
    payload = b""
    if body is not None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    elif method in ("POST", "PUT"):
        head += "Content-Length: 0\r\n"
    return head.encode() + b"\r\n" + payload


def body_json(resp):
    _, _, body = resp.partition(b"\r\n\r\n")
    if b"chunked" in resp.split(b"\r\n\r\n")[0].lower():
        out = b""
        rest = body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out += rest[:size]
            rest = rest[size + 2:]
        body = out
    return json.loads(body)


def record(engine, sock_path):
    d = os.path.join(OUT, engine)
    os.makedirs(d, exist_ok=True)
    n = [0]

    def save(name, raw, upgrade=False):
        resp = exchange(sock_path, raw, upgrade)
        n[0] += 1
        base = os.path.join(d, f"{n[0]:02d}-{name}")
        open(base + ".req", "wb").write(raw)
        open(base + ".resp", "wb").write(resp)
        return resp

    name = f"pd-transcript-{engine}"
    exchange(sock_path, request("DELETE", f"/containers/{name}?force=true"))
    save("ping", request("GET", "/_ping"))
    save("version", request("GET", "/version"))
    save("create", request("POST", f"/containers/create?name={name}", {
        "Image": "pocketdock/busybox",
        "Cmd": ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"],
        "Labels": {"pocketdock.managed": "true", "pocketdock.instance": name},
        "HostConfig": {"NetworkMode": "none"},
    }))
    save("create-conflict", request("POST", f"/containers/create?name={name}", {"Image": "pocketdock/busybox"}))
    save("create-no-image", request("POST", "/containers/create", {"Image": "pocketdock/does-not-exist"}))
    save("start", request("POST", f"/containers/{name}/start"))
    resp = save("exec-create", request("POST", f"/containers/{name}/exec", {
        "AttachStdout": True, "AttachStderr": True, "AttachStdin": False, "Tty": False,
        "Cmd": ["sh", "-c", "echo hello; echo oops >&2; printf 'no newline'; exit 3"],
    }))
    exec_id = first_exec = body_json(resp)["Id"]
    save("exec-start-upgrade", request("POST", f"/exec/{exec_id}/start", {"Detach": False, "Tty": False}, upgrade=True), True)
    time.sleep(0.3)
    save("exec-inspect", request("GET", f"/exec/{exec_id}/json"))
    resp = exchange(sock_path, request("POST", f"/containers/{name}/exec", {
        "AttachStdout": True, "AttachStderr": True, "Cmd": ["sh", "-c", "seq 1 3000"]}))
    exec_id = body_json(resp)["Id"]
    save("exec-start-plain", request("POST", f"/exec/{exec_id}/start", {"Detach": False, "Tty": False}))
    resp = exchange(sock_path, request("POST", f"/containers/{name}/exec", {
        "AttachStdout": True, "AttachStderr": True, "Tty": True, "Cmd": ["sh", "-c", "printf '\\001\\002tty'"]}))
    exec_id = body_json(resp)["Id"]
    save("exec-start-tty", request("POST", f"/exec/{exec_id}/start", {"Detach": False, "Tty": True}, upgrade=True), True)
    save("inspect", request("GET", f"/containers/{name}/json"))
    save("list", request("GET", "/containers/json?all=true&filters=%7B%22label%22%3A%5B%22pocketdock.managed%3Dtrue%22%5D%7D"))
    save("top", request("GET", f"/containers/{name}/top"))
    save("stats", request("GET", f"/containers/{name}/stats?stream=false&one-shot=true"))
    save("archive-get", request("GET", f"/containers/{name}/archive?path=%2Fetc%2Fpasswd"))
    save("archive-missing", request("GET", f"/containers/{name}/archive?path=%2Fnope"))
    save("archive-put", raw_request("PUT", f"/containers/{name}/archive?path=%2Ftmp&noOverwriteDirNonDir=true",
                                     tar_of({"hello.sh": b"#!/bin/sh\necho hi\n"}), "application/x-tar"))
    save("archive-head", request("HEAD", f"/containers/{name}/archive?path=%2Ftmp%2Fhello.sh"))
    save("commit", request("POST", f"/commit?container={name}&repo=localhost%2Fpd-transcript-{engine}&tag=snap", {}))
    save("image-remove", request("DELETE", f"/images/localhost%2Fpd-transcript-{engine}%3Asnap?force=true"))
    save("inspect-missing", request("GET", "/containers/pd-no-such-container/json"))
    save("stop", request("POST", f"/containers/{name}/stop?t=5"))
    save("stop-again", request("POST", f"/containers/{name}/stop?t=5"))
    save("exec-create-stopped", request("POST", f"/containers/{name}/exec", {"AttachStdout": True, "Cmd": ["true"]}))
    save("remove", request("DELETE", f"/containers/{name}?force=true&v=true"))
    save("images", request("GET", "/images/json"))
    ctx = tar_of({"Dockerfile": b"FROM pocketdock/busybox\nRUN echo built-ok\n"})
    save("build", raw_request("POST", f"/build?t=localhost%2Fpd-transcript-build-{engine}%3Alatest&rm=1&forcerm=1", ctx, "application/x-tar"))
    exchange(sock_path, request("DELETE", f"/images/localhost%2Fpd-transcript-build-{engine}%3Alatest?force=true"))
    bad = tar_of({"Dockerfile": b"FROM pocketdock/busybox\nRUN echo failing-step && exit 3\n"})
    save("build-fails", raw_request("POST", f"/build?t=localhost%2Fpd-transcript-bad-{engine}%3Alatest&rm=1&forcerm=1", bad, "application/x-tar"))
    # An exec of the container removed above (Podman answers 500 "no such container").
    save("exec-inspect-removed", request("GET", f"/exec/{first_exec}/json"))


def main():
    for engine in ("podman", "docker"):
        var = os.environ.get(f"POCKETDOCK_TEST_{engine.upper()}", "")
        if not var:
            sys.exit(f"POCKETDOCK_TEST_{engine.upper()} is not set")
        record(engine, var.removeprefix("unix://"))
        print(f"recorded {engine}")


if __name__ == "__main__":
    main()
