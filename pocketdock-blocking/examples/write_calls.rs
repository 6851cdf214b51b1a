//! Engine calls of `write_file`, for counting with `strace -f -e trace=connect`: creates a
//! container of IMAGE, writes 1 MB to `/tmp/calls.bin` WRITES times on its handle, and removes
//! it. The difference between two counts (e.g. WRITES=2 and WRITES=1) is what one more write
//! costs; between WRITES=1 and WRITES=0, what the first write of a handle costs.
//!
//! ```text
//! POCKETDOCK_SOCKET=unix:///path/engine.sock strace -f -e trace=connect -o /tmp/t \
//!     target/release/examples/write_calls pocketdock/minimal-python 2
//! ```

use pocketdock_blocking::ContainerSpec;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(image), Some(writes)) = (args.get(1), args.get(2)) else {
        return Err("usage: write_calls IMAGE WRITES".into());
    };
    let writes: usize = writes.parse()?;
    let engine = pocketdock_blocking::Engine::detect()?;
    let mut c = engine.create_container(ContainerSpec::new().image(image))?;
    let data = vec![b'x'; 1_000_000];
    for _ in 0..writes {
        c.write_file("/tmp/calls.bin", &data)?;
    }
    c.shutdown(true)?;
    Ok(())
}
