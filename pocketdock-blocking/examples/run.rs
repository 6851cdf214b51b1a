//! Blocking mode: create a sandbox, run commands, read their output, remove it.
//!
//! `cargo run -p pocketdock-blocking --example run` (with `POCKETDOCK_SOCKET` set or an engine on a
//! standard socket).

use std::time::Duration;

use pocketdock_blocking::{create_new_container, ContainerSpec, Lang, RunOptions};

fn main() -> pocketdock_blocking::Result<()> {
    let c = create_new_container(ContainerSpec::new().mem_limit("256m"))?;
    let r = c.run("echo hello from $(hostname)")?;
    print!("{}", r.stdout_str());

    let r = c.run_with(
        "print(sum(range(10)))",
        &RunOptions::new().lang(Lang::Python),
    )?;
    println!("python says {}", r.stdout_str().trim());

    let r = c.run_with(
        "sleep 10",
        &RunOptions::new().timeout(Duration::from_secs(1)),
    )?;
    println!("timed out: {}, exit code {}", r.timed_out, r.exit_code);
    Ok(())
}
