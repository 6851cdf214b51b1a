//! pocketdock on smol: run, concurrent runs on one container, a stream, a detached process,
//! and cancellation (a dropped future kills its command). The same program runs under
//! async-std or any futures-io executor: only `smol::block_on` would change.
//!
//! `cargo run -p pocketdock-smol --example sandbox` (with `POCKETDOCK_SOCKET` set or an engine
//! on a standard socket).

use std::time::Duration;

use async_io::Timer;
use futures_lite::future;
use pocketdock_smol::{create_new_container, ContainerSpec, Lang, RunOptions, StreamKind};

fn main() -> pocketdock_smol::Result<()> {
    smol::block_on(async {
        let mut c = create_new_container(ContainerSpec::new().mem_limit("256m")).await?;

        // Blocking mode, as an async fn.
        let r = c.run("echo hello from $(hostname)").await?;
        print!("{}", r.stdout_str());
        let r = c
            .run_with(
                "print(sum(range(10)))",
                &RunOptions::new().lang(Lang::Python),
            )
            .await?;
        println!("python says {}", r.stdout_str().trim());

        // Many commands at once on one container: each has its own connection.
        let (first, second) = future::zip(c.run("sleep 1; echo a"), c.run("sleep 1; echo b")).await;
        println!(
            "together: {} {}",
            first?.stdout_str().trim(),
            second?.stdout_str().trim()
        );

        // Streaming mode: a futures_core::Stream of chunks (or the inherent `next`).
        let mut s = c.stream(
            "for i in 1 2 3; do echo step $i; sleep 0.3; done; echo done >&2",
            &RunOptions::new(),
        )?;
        while let Some(chunk) = s.next().await {
            let chunk = chunk?;
            match chunk.stream {
                StreamKind::Stdout => print!("{}", chunk.text()),
                _ => eprint!("{}", chunk.text()),
            }
        }
        println!("exit code {:?}", s.result().map(|r| r.exit_code));

        // Detached mode: read by a thread of its own into a ring buffer.
        c.on_exit(|code| println!("process exited with {code}"));
        let process = c
            .detach(
                "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done",
                &RunOptions::new(),
            )
            .await?;
        Timer::after(Duration::from_secs(1)).await;
        print!("{}", process.read().stdout_str());
        process.kill(15).await?;
        let r = process.wait(Some(Duration::from_secs(10))).await?;
        println!(
            "running: {}, exit code {}",
            process.is_running(),
            r.exit_code
        );

        // Cancellation: the timer wins the race and drops the run future, which kills
        // `sleep 60` in the container.
        let run = async {
            let _ = c.run("sleep 60").await;
            false
        };
        let timer = async {
            Timer::after(Duration::from_secs(1)).await;
            true
        };
        let cancelled = future::or(run, timer).await;
        println!("cancelled: {cancelled}");

        c.shutdown(false).await
    })
}
