//! Streaming mode: print output as the command produces it, then its exit code.
//!
//! `cargo run -p pocketdock-blocking --example stream`

use pocketdock_blocking::{create_new_container, ContainerSpec, RunOptions, StreamKind};

fn main() -> pocketdock_blocking::Result<()> {
    let c = create_new_container(ContainerSpec::new())?;
    let mut s = c.stream(
        "for i in 1 2 3; do echo step $i; sleep 0.5; done; echo done >&2",
        &RunOptions::new(),
    )?;
    for chunk in s.by_ref() {
        let chunk = chunk?;
        match chunk.stream {
            StreamKind::Stdout => print!("{}", chunk.text()),
            _ => eprint!("{}", chunk.text()),
        }
    }
    println!("exit code {:?}", s.result().map(|r| r.exit_code));
    Ok(())
}
