//! Detached mode: a background server, its buffered output, and a kill that really stops it.
//!
//! `cargo run -p pocketdock-blocking --example detach`

use std::time::Duration;

use pocketdock_blocking::{create_new_container, ContainerSpec, RunOptions};

fn main() -> pocketdock_blocking::Result<()> {
    let c = create_new_container(ContainerSpec::new())?;
    c.on_exit(|code| println!("process exited with {code}"));
    let p = c.detach(
        "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done",
        &RunOptions::new(),
    )?;
    std::thread::sleep(Duration::from_secs(1));
    print!("{}", p.read().stdout_str());
    p.kill(15)?;
    let r = p.wait(Some(Duration::from_secs(10)))?;
    println!("running: {}, exit code {}", p.is_running(), r.exit_code);
    Ok(())
}
