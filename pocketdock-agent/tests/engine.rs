//! The static agent in real sandboxes: built by `scripts/build-agent.sh`, pushed through the
//! engine's archive endpoint to `/.pocketdock/agent`, and run there, on Podman and Docker, in
//! the Python image and in busybox (an image without a C library).
//!
//! The engines come from `POCKETDOCK_TEST_PODMAN` and `POCKETDOCK_TEST_DOCKER`
//! (`eval "$(scripts/engines.sh env)"`); a missing variable fails the test.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bytes::BytesMut;
use pocketdock_blocking::{Container, ContainerSpec, Engine};
use pocketdock_proto::agent::{
    encode_frame, ExitReport, Frame, FrameDecoder, Hello, Kind, SpawnRequest, AGENT_PROTOCOL,
};

const PYTHON_IMAGE: &str = "pocketdock/minimal-python";
const BUSYBOX_IMAGE: &str = "pocketdock/busybox";
const AGENT_PATH: &str = "/.pocketdock/agent";

fn socket(engine: &str) -> String {
    let var = format!("POCKETDOCK_TEST_{}", engine.to_ascii_uppercase());
    match std::env::var(&var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: eval \"$(scripts/engines.sh env)\" (a missing engine is a \
             failure, never a skip)"
        ),
    }
}

/// The static agent, built once per test run by the project's script (cargo makes that quick
/// when nothing changed).
fn static_agent() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root");
        let status = std::process::Command::new(root.join("scripts/build-agent.sh"))
            .status()
            .expect("run scripts/build-agent.sh");
        assert!(status.success(), "scripts/build-agent.sh: {status}");
        root.join("target/agent/pocketdock-agent")
    })
}

/// A container removed when dropped, also when the test fails.
struct Sandbox(Container);

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Err(e) = self.0.shutdown(true) {
            eprintln!("removing {}: {e}", self.0.name());
        }
    }
}

fn sandbox(engine: &str, image: &str) -> Sandbox {
    sandbox_with(engine, image, "", |spec| spec)
}

fn sandbox_with(
    engine: &str,
    image: &str,
    tag: &str,
    spec: impl FnOnce(ContainerSpec) -> ContainerSpec,
) -> Sandbox {
    let image_tag = image.rsplit('/').next().unwrap_or(image);
    let name = format!("pdagent-{engine}-{image_tag}{tag}-{}", std::process::id());
    let container = Engine::new(socket(engine))
        .create_container(spec(ContainerSpec::new().image(image).name(name)))
        .unwrap_or_else(|e| panic!("create a {image} sandbox on {engine}: {e}"));
    Sandbox(container)
}

/// Bytes as a `printf` format of octal escapes only, so no byte means anything to the shell
/// or to printf.
fn printf_format(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        write!(s, "\\{b:03o}").expect("write to a String");
        s
    })
}

/// Run the agent in the sandbox on `frames` as its stdin, keeping its stdin open until the
/// process whose pid the command writes to `/tmp/pd-pid` is gone (reaped by the agent), and
/// decode what it wrote.
fn serve_until_reaped(c: &Container, frames: &[u8]) -> Vec<Frame> {
    let script = format!(
        "rm -f /tmp/pd-pid; {{ printf '{}'; until [ -s /tmp/pd-pid ]; do sleep 0.05; done; \
         while kill -0 \"$(cat /tmp/pd-pid)\" 2>/dev/null; do sleep 0.05; done; }} | {AGENT_PATH}",
        printf_format(frames)
    );
    let r = c.run(&script).unwrap_or_else(|e| panic!("serve: {e}"));
    assert_eq!(r.exit_code, 0, "agent: {}", r.stderr_str());
    assert!(!r.timed_out);
    let mut decoder = FrameDecoder::new();
    decoder.feed(&r.stdout);
    let mut frames = Vec::new();
    while let Some(f) = decoder.next_frame().expect("agent frame") {
        frames.push(f);
    }
    assert!(
        decoder.finish().is_ok(),
        "the agent's stream ended inside a frame"
    );
    frames
}

/// Push the agent into a fresh sandbox of `image` on `engine`, check `--version`, then serve
/// one ping over the exec's stdin and stdout as the host will.
fn agent_runs_in(engine: &str, image: &str) {
    let agent = static_agent();
    let sandbox = sandbox(engine, image);
    let c = &sandbox.0;
    c.push(agent, AGENT_PATH)
        .unwrap_or_else(|e| panic!("push the agent on {engine}: {e}"));
    if image == BUSYBOX_IMAGE {
        // The point of the static build: nothing to load it with here.
        let r = c
            .run("ls /lib*/ld-linux* /lib*/libc.so* /lib/*/libc.so* /usr/lib*/libc.so* 2>/dev/null")
            .unwrap_or_else(|e| panic!("{engine}/{image}: {e}"));
        assert_ne!(
            r.exit_code,
            0,
            "{image} has a C library: {}",
            r.stdout_str()
        );
    }

    let r = c
        .run(&format!("{AGENT_PATH} --version"))
        .unwrap_or_else(|e| panic!("{engine}/{image}: {e}"));
    assert_eq!(r.exit_code, 0, "{engine}/{image}: {}", r.stderr_str());
    assert_eq!(
        r.stdout_str(),
        format!(
            "pocketdock-agent {} (protocol {AGENT_PROTOCOL})\n",
            env!("CARGO_PKG_VERSION")
        ),
        "{engine}/{image}"
    );

    // A ping frame (length 5, kind 0x05, id 7) on its stdin, then end of file: the agent says
    // hello, answers the ping, and exits 0 when its stdin ends.
    let r = c
        .run(&format!(
            r"printf '\000\000\000\005\005\000\000\000\007' | {AGENT_PATH}"
        ))
        .unwrap_or_else(|e| panic!("{engine}/{image}: {e}"));
    assert_eq!(r.exit_code, 0, "{engine}/{image}: {}", r.stderr_str());
    let mut decoder = FrameDecoder::new();
    decoder.feed(&r.stdout);
    let hello = decoder.next_frame().expect("frame").expect("hello frame");
    let pong = decoder.next_frame().expect("frame").expect("pong frame");
    assert_eq!(
        decoder.next_frame(),
        Ok(None),
        "{engine}/{image}: more than hello and pong"
    );
    assert!(decoder.finish().is_ok());
    assert_eq!((hello.kind, hello.id), (Kind::Hello, 0));
    let hello: Hello = serde_json::from_slice(&hello.payload).expect("hello JSON");
    assert_eq!(hello.protocol, AGENT_PROTOCOL);
    assert_eq!(hello.version, env!("CARGO_PKG_VERSION"));
    assert!(hello.pid > 1, "{hello:?}");
    assert_eq!((pong.kind, pong.id, pong.payload.len()), (Kind::Pong, 7, 0));
}

#[test]
fn the_static_agent_runs_in_the_python_image_on_podman() {
    agent_runs_in("podman", PYTHON_IMAGE);
}

#[test]
fn the_static_agent_runs_in_the_python_image_on_docker() {
    agent_runs_in("docker", PYTHON_IMAGE);
}

#[test]
fn the_static_agent_runs_in_busybox_without_a_c_library_on_podman() {
    agent_runs_in("podman", BUSYBOX_IMAGE);
}

#[test]
fn the_static_agent_runs_in_busybox_without_a_c_library_on_docker() {
    agent_runs_in("docker", BUSYBOX_IMAGE);
}

/// A command the OOM killer ends, in a sandbox with a 64 MiB limit, is reported as such with a
/// peak near the limit.
fn an_oom_kill_is_reported(engine: &str) {
    let agent = static_agent();
    let sandbox = sandbox_with(engine, PYTHON_IMAGE, "-oom", |spec| spec.mem_limit("64m"));
    let c = &sandbox.0;
    c.push(agent, AGENT_PATH)
        .unwrap_or_else(|e| panic!("push the agent on {engine}: {e}"));
    let alloc = "import os\nopen('/tmp/pd-pid', 'w').write(str(os.getpid()))\n\
                 b = b'x' * (512 << 20)\n";
    let spawn = SpawnRequest {
        argv: vec!["python3".into(), "-c".into(), alloc.into()],
        ..SpawnRequest::default()
    };
    let mut frames = BytesMut::new();
    encode_frame(
        &mut frames,
        Kind::Spawn,
        1,
        &serde_json::to_vec(&spawn).expect("spawn JSON"),
    );
    let heard = serve_until_reaped(c, &frames);
    let kinds: Vec<(Kind, u32)> = heard.iter().map(|f| (f.kind, f.id)).collect();
    assert_eq!(
        kinds,
        [(Kind::Hello, 0), (Kind::Started, 1), (Kind::Exit, 1)],
        "{engine}: {heard:?}"
    );
    let exit: ExitReport = serde_json::from_slice(&heard[2].payload).expect("exit JSON");
    assert_eq!(
        (exit.code, exit.signal),
        (137, Some(9)),
        "{engine}: {exit:?}"
    );
    assert!(exit.oom_killed, "{engine}: {exit:?}");
    assert!(
        (16 * 1024..=80 * 1024).contains(&exit.max_rss_kib),
        "{engine}: a 64 MiB sandbox, max RSS {} KiB",
        exit.max_rss_kib
    );
}

#[test]
fn an_oom_kill_is_reported_on_podman() {
    an_oom_kill_is_reported("podman");
}

#[test]
fn an_oom_kill_is_reported_on_docker() {
    an_oom_kill_is_reported("docker");
}
