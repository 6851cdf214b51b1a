//! pocketdock beside the floor: the same operations through pocketdock-blocking and through a
//! minimal hand-written client (one Unix socket connection per request, `Connection: close`, no
//! parsing beyond what the answer needs), on the same container, interleaved.
//!
//! `cargo run --release -p pocketdock-blocking --example floor` (`POCKETDOCK_SOCKET` selects the
//! engine; `scripts/bench-floor.sh` runs it on both). Figures: wall time (median and spread) and
//! client CPU per exec, lifecycle (create + start + stop + remove), write and read of 1 MB and
//! 64 MB, and stdout streamed at 100 MB and 1 GiB with MB/s, CPU and the client's peak RSS
//! (measured in a child process per case, so one case's memory never shows in another's).
//! Everything runs on the engine path (the agent off), except one more figure when the agent
//! binary is at hand (`POCKETDOCK_AGENT`): the 1 MB write with the agent up in a second
//! sandbox, whose path stat the agent answers.
#![expect(
    clippy::cast_precision_loss,
    reason = "benchmark figures: rates of counts far below 2^52"
)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pocketdock_blocking::{AgentMode, ContainerSpec, Engine, LimitPolicy, RunOptions};

#[path = "support/measure.rs"]
mod measure;

use measure::{cpu, peak_rss_kib, summary};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The raw client: one request per connection, the whole answer read until the engine closes.
struct Raw {
    socket: PathBuf,
}

impl Raw {
    /// Send one request; returns the status code and the body (chunked bodies decoded).
    fn call(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        ctype: &str,
    ) -> BenchResult<(u16, Vec<u8>)> {
        let mut s = UnixStream::connect(&self.socket)?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer)?;
        let end = find(&answer, b"\r\n\r\n").ok_or("no response head")?;
        let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or("no status")?;
        let mut body = answer.split_off(end + 4);
        if head.contains("transfer-encoding: chunked") {
            body = dechunk(&body);
        }
        Ok((status, body))
    }

    fn json(&self, method: &str, path: &str, body: &str) -> BenchResult<serde_json::Value> {
        let (status, body) = self.call(method, path, body.as_bytes(), "application/json")?;
        if status >= 300 {
            return Err(format!(
                "{method} {path}: {status} {}",
                String::from_utf8_lossy(&body)
            )
            .into());
        }
        Ok(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }

    /// Run `cmd` and count the bytes of its output frames; returns (exit code, payload bytes).
    fn exec(&self, container: &str, cmd: &[&str]) -> BenchResult<(i64, u64)> {
        let create = serde_json::json!({"Cmd": cmd, "AttachStdout": true, "AttachStderr": true});
        let id = self.json(
            "POST",
            &format!("/containers/{container}/exec"),
            &create.to_string(),
        )?;
        let id = id["Id"].as_str().ok_or("no exec id")?.to_string();
        let mut s = UnixStream::connect(&self.socket)?;
        let body = r#"{"Detach":false,"Tty":false}"#;
        let head = format!(
            "POST /exec/{id}/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(head.as_bytes())?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut pending: Vec<u8> = Vec::new();
        let mut in_head = true;
        let mut payload = 0u64;
        let mut frame_left = 0usize;
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let mut data = &buf[..n];
            if in_head {
                pending.extend_from_slice(data);
                let Some(end) = find(&pending, b"\r\n\r\n") else {
                    continue;
                };
                in_head = false;
                let rest = pending.split_off(end + 4);
                pending = rest;
                data = &[];
            }
            pending.extend_from_slice(data);
            let mut at = 0;
            loop {
                if frame_left > 0 {
                    let take = frame_left.min(pending.len() - at);
                    payload += take as u64;
                    frame_left -= take;
                    at += take;
                    if frame_left > 0 {
                        break;
                    }
                }
                if pending.len() - at < 8 {
                    break;
                }
                let h = &pending[at..at + 8];
                frame_left = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
                at += 8;
            }
            pending.drain(..at);
        }
        loop {
            let v = self.json("GET", &format!("/exec/{id}/json"), "")?;
            if v["Running"].as_bool() == Some(false) {
                return Ok((v["ExitCode"].as_i64().unwrap_or(-1), payload));
            }
        }
    }

    fn put_file(&self, container: &str, dir: &str, name: &str, data: &[u8]) -> BenchResult<()> {
        let tar = one_file_tar(name, data);
        let (status, body) = self.call(
            "PUT",
            &format!("/containers/{container}/archive?path={dir}"),
            &tar,
            "application/x-tar",
        )?;
        if status >= 300 {
            return Err(format!("put: {status} {}", String::from_utf8_lossy(&body)).into());
        }
        Ok(())
    }

    fn get_file(&self, container: &str, path: &str) -> BenchResult<usize> {
        let (status, body) = self.call(
            "GET",
            &format!("/containers/{container}/archive?path={path}"),
            b"",
            "application/json",
        )?;
        if status >= 300 {
            return Err(format!("get: {status}").into());
        }
        Ok(body.len())
    }

    fn lifecycle(&self, image: &str, name: &str) -> BenchResult<()> {
        let create = serde_json::json!({"Image": image, "Cmd": ["sleep", "infinity"]});
        let c = self.json(
            "POST",
            &format!("/containers/create?name={name}"),
            &create.to_string(),
        )?;
        let id = c["Id"].as_str().ok_or("no container id")?.to_string();
        self.call(
            "POST",
            &format!("/containers/{id}/start"),
            b"",
            "application/json",
        )?;
        self.call(
            "POST",
            &format!("/containers/{id}/stop?t=0"),
            b"",
            "application/json",
        )?;
        self.call(
            "DELETE",
            &format!("/containers/{id}?force=true"),
            b"",
            "application/json",
        )?;
        Ok(())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    while let Some(eol) = find(body, b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&body[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        let end = (start + size).min(body.len());
        out.extend_from_slice(&body[start..end]);
        body = body.get(end + 2..).unwrap_or_default();
    }
    out
}

/// A ustar archive of one regular file.
fn one_file_tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut tar = h.to_vec();
    tar.extend_from_slice(data);
    tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
    tar
}

/// Time `n` interleaved rounds of `pd` and `raw`; print wall and CPU per call of each.
fn compare(
    what: &str,
    n: usize,
    mut pd: impl FnMut() -> BenchResult<()>,
    mut raw: impl FnMut() -> BenchResult<()>,
) -> BenchResult<()> {
    let (mut wall_pd, mut wall_raw) = (Vec::new(), Vec::new());
    let (mut cpu_pd, mut cpu_raw) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..n {
        let (t, c) = (Instant::now(), cpu());
        pd()?;
        wall_pd.push(t.elapsed());
        cpu_pd += cpu().saturating_sub(c);
        let (t, c) = (Instant::now(), cpu());
        raw()?;
        wall_raw.push(t.elapsed());
        cpu_raw += cpu().saturating_sub(c);
    }
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / n as f64;
    println!(
        "{what}: pocketdock {} cpu {:.3} ms/call | raw {} cpu {:.3} ms/call",
        summary(wall_pd),
        per(cpu_pd),
        summary(wall_raw),
        per(cpu_raw)
    );
    Ok(())
}

/// One streaming case, run in this child process: `client` reads `bytes` of stdout.
fn stream_case(client: &str, container: &str, bytes: u64) -> BenchResult<()> {
    let cmd = format!("head -c {bytes} /dev/zero");
    let (t, c) = (Instant::now(), cpu());
    let got = if client == "raw" {
        let raw = Raw {
            socket: Engine::detect()?.socket().to_path_buf(),
        };
        raw.exec(container, &["sh", "-c", &cmd])?.1
    } else {
        let engine = Engine::detect()?;
        let c = engine.attach(container)?;
        let mut s = c.stream(
            cmd.as_str(),
            // The raw client keeps nothing of what it reads; neither does this stream, and its
            // cap is above the output, so every byte is handed out.
            &RunOptions::new()
                .no_timeout()
                .keep_output(false)
                .max_output(usize::try_from(2 * bytes)?)
                .policy(LimitPolicy::KeepRunning),
        )?;
        let mut got = 0u64;
        for chunk in &mut s {
            got += chunk?.data.len() as u64;
        }
        got
    };
    // One line for the parent: bytes, wall seconds, CPU seconds, peak RSS in KiB.
    println!(
        "{got} {} {} {}",
        t.elapsed().as_secs_f64(),
        cpu().saturating_sub(c).as_secs_f64(),
        peak_rss_kib()
    );
    Ok(())
}

/// `rounds` runs of `echo hi` by one client on an existing container, nothing else: a case to
/// count instructions of under callgrind (`floor exec pocketdock|raw CONTAINER ROUNDS`).
fn exec_case(client: &str, container: &str, rounds: usize) -> BenchResult<()> {
    let engine = Engine::detect()?;
    let raw = Raw {
        socket: engine.socket().to_path_buf(),
    };
    let c = engine.attach(container)?;
    for _ in 0..rounds {
        if client == "raw" {
            raw.exec(container, &["sh", "-c", "echo hi"])?;
        } else {
            c.run("echo hi")?;
        }
    }
    Ok(())
}

/// The 1 MB write again, in a sandbox whose agent is up (it answers the path stat).
fn write_with_the_agent(engine: &Engine, image: &str, raw: &Raw, n: usize) -> BenchResult<()> {
    let mut a = engine.create_container(ContainerSpec::new().image(image).agent(AgentMode::On))?;
    println!("with the agent: {}", a.command_path());
    let data = vec![b'x'; 1_000_000];
    compare(
        "write 1 MB, agent up",
        n,
        || Ok(a.write_file("/tmp/pd.bin", &data)?),
        || raw.put_file(a.id(), "/tmp", "raw.bin", &data),
    )?;
    a.shutdown(true)?;
    Ok(())
}

fn main() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 5 && args[1] == "stream" {
        return stream_case(&args[2], &args[3], args[4].parse()?);
    }
    if args.len() == 5 && args[1] == "exec" {
        return exec_case(&args[2], &args[3], args[4].parse()?);
    }
    let engine = Engine::detect()?;
    let image = std::env::var("BENCH_IMAGE").unwrap_or_else(|_| "pocketdock/minimal-python".into());
    let n: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    println!(
        "engine: {:?} at {}",
        engine.kind()?,
        engine.socket().display()
    );
    let raw = Raw {
        socket: engine.socket().to_path_buf(),
    };
    let mut c =
        engine.create_container(ContainerSpec::new().image(&image).agent(AgentMode::Off))?;
    let id = c.id().to_string();

    compare(
        "exec echo",
        n,
        || Ok(c.run("echo hi").map(|_| ())?),
        || raw.exec(&id, &["echo", "hi"]).map(|_| ()),
    )?;
    for (label, size) in [("1 MB", 1_000_000usize), ("64 MB", 64_000_000)] {
        let data = vec![b'x'; size];
        let rounds = if size > 1_000_000 { n.min(5) } else { n };
        compare(
            &format!("write {label}"),
            rounds,
            || Ok(c.write_file("/tmp/pd.bin", &data)?),
            || raw.put_file(&id, "/tmp", "raw.bin", &data),
        )?;
        compare(
            &format!("read {label}"),
            rounds,
            || Ok(c.read_file("/tmp/pd.bin").map(|_| ())?),
            || raw.get_file(&id, "/tmp/raw.bin").map(|_| ()),
        )?;
    }
    if std::env::var_os("POCKETDOCK_AGENT").is_some() {
        write_with_the_agent(&engine, &image, &raw, n)?;
    }
    let mut k = 0;
    compare(
        "lifecycle (create, start, stop, remove)",
        n.min(10),
        || {
            let mut c = engine.create_container(ContainerSpec::new().image(&image))?;
            Ok(c.shutdown(true)?)
        },
        || {
            k += 1;
            raw.lifecycle(&image, &format!("pd-floor-raw-{}-{k}", std::process::id()))
        },
    )?;
    let me: PathBuf = std::env::current_exe()?;
    let stream_rounds: usize = std::env::var("BENCH_STREAM_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    for bytes in [100_000_000u64, 1 << 30] {
        println!(
            "stream {bytes} B of stdout (child process per client and round, {stream_rounds} rounds, interleaved; medians):"
        );
        let mut runs: [Vec<StreamRun>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..stream_rounds {
            for (client, got) in ["pocketdock", "raw"].into_iter().zip(runs.iter_mut()) {
                got.push(run_child(&me, client, &id, bytes)?);
            }
        }
        let [pd, raw] = runs.map(|r| StreamRun::medians(&r));
        for (client, m) in [("pocketdock", &pd), ("raw", &raw)] {
            println!(
                "{client}: {:.0} MB/s, cpu {:.2} s/GB, peak RSS {} KiB",
                m.mb_per_s, m.cpu_s_per_gb, m.peak_rss_kib
            );
        }
        println!(
            "pocketdock / raw: wall speed {:.2}x, cpu {:.2}x",
            pd.mb_per_s / raw.mb_per_s,
            pd.cpu_s_per_gb / raw.cpu_s_per_gb
        );
    }
    c.shutdown(true)?;
    Ok(())
}

/// One streaming round's figures, as its child process printed them.
struct StreamRun {
    mb_per_s: f64,
    cpu_s_per_gb: f64,
    peak_rss_kib: u64,
}

impl StreamRun {
    /// Median speed and CPU, and the highest peak RSS, of `runs`.
    fn medians(runs: &[StreamRun]) -> StreamRun {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        };
        StreamRun {
            mb_per_s: median(runs.iter().map(|r| r.mb_per_s).collect()),
            cpu_s_per_gb: median(runs.iter().map(|r| r.cpu_s_per_gb).collect()),
            peak_rss_kib: runs.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0),
        }
    }
}

fn run_child(me: &Path, client: &str, id: &str, bytes: u64) -> BenchResult<StreamRun> {
    let out = Command::new(me)
        .args(["stream", client, id, &bytes.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("{client} stream case failed: {}", out.status).into());
    }
    let line = String::from_utf8(out.stdout)?;
    let bad = || format!("{client} stream case printed {line:?}");
    let mut fields = line.split_whitespace();
    let mut next = || fields.next().ok_or_else(bad);
    let (got, secs, cpu_s, rss): (u64, f64, f64, u64) = (
        next()?.parse()?,
        next()?.parse()?,
        next()?.parse()?,
        next()?.parse()?,
    );
    if got != bytes {
        return Err(format!("{client} streamed {got} of {bytes} bytes").into());
    }
    let got = got as f64;
    Ok(StreamRun {
        mb_per_s: got / 1e6 / secs,
        cpu_s_per_gb: cpu_s / (got / 1e9),
        peak_rss_kib: rss,
    })
}
