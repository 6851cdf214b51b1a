//! `shell CONTAINER`: an interactive shell on a TTY in the container, over the engine's hijacked
//! exec connection (no docker or podman binary involved).
//!
//! The local terminal is put in raw mode (every key, Ctrl-C included, goes to the container's
//! terminal) and restored on every way out: the shell exiting, an error, a panic (the guard's
//! `Drop`), and SIGTERM/SIGHUP/SIGINT sent to pocketdock (the signal thread). The window size is
//! sent at start and again on every SIGWINCH. pocketdock exits with the shell's exit code.

use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pocketdock_blocking::{Container, Error, RunOptions, TtyOptions};
use rustix::termios::{self, OptionalActions, Termios};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGWINCH};
use signal_hook::iterator::Signals;

use crate::cli::ShellArgs;
use crate::commands::{Ctx, Failure, Outcome};
use crate::{vlog, EXIT_FAILURE};

/// The terminal settings to put back, shared by the guard and the signal thread.
type Saved = Arc<Mutex<Option<Termios>>>;

/// Raw mode on stdin until dropped (or until [`restore`] is called by the signal thread).
struct RawMode {
    saved: Saved,
}

impl RawMode {
    fn enter() -> std::io::Result<Self> {
        let stdin = std::io::stdin();
        let original = termios::tcgetattr(stdin.as_fd())?;
        let mut raw = original.clone();
        raw.make_raw();
        termios::tcsetattr(stdin.as_fd(), OptionalActions::Flush, &raw)?;
        Ok(Self {
            saved: Arc::new(Mutex::new(Some(original))),
        })
    }
}

/// Put the saved settings back (once).
fn restore(saved: &Saved) {
    let original = saved.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(t) = original {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), OptionalActions::Now, &t);
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore(&self.saved);
    }
}

/// The terminal's size as `(rows, cols)`, if there is one.
fn window_size() -> Option<(u16, u16)> {
    let from = |fd: std::os::fd::BorrowedFd<'_>| {
        termios::tcgetwinsize(fd)
            .ok()
            .filter(|w| w.ws_row > 0 && w.ws_col > 0)
            .map(|w| (w.ws_row, w.ws_col))
    };
    from(std::io::stdout().as_fd()).or_else(|| from(std::io::stdin().as_fd()))
}

/// `bash` when the container has it, else `sh`.
fn pick_shell(c: &Container) -> &'static str {
    let probe = c.run_with(
        vec![
            "sh".to_string(),
            "-c".to_string(),
            "command -v bash >/dev/null".to_string(),
        ],
        &RunOptions::new().timeout(Duration::from_secs(15)),
    );
    match probe {
        Ok(r) if r.exit_code == 0 => "bash",
        _ => "sh",
    }
}

/// `shell CONTAINER`.
#[expect(
    clippy::too_many_lines,
    reason = "one linear interactive loop, read top to bottom"
)]
pub fn shell(ctx: &Ctx, a: &ShellArgs) -> Outcome {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(
            "shell needs a terminal on stdin; use 'pocketdock run CONTAINER -- CMD' in scripts"
                .into(),
        ));
    }
    let engine = ctx.engine()?;
    let c = engine.attach(&a.container)?;
    let shell = pick_shell(&c);
    let size = window_size().unwrap_or((24, 80));
    let term = std::env::var("TERM")
        .ok()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "xterm".to_string());
    vlog!(
        "container {} is {}; {shell} on a {}x{} terminal, TERM={term}",
        a.container,
        c.id(),
        size.1,
        size.0
    );
    let opts = TtyOptions {
        env: vec![format!("TERM={term}")],
        size,
        ..TtyOptions::default()
    };
    let mut tty = c.open_tty(&[shell], &opts).map_err(|e| match e {
        Error::ContainerNotRunning(_) => Error::ContainerNotRunning(a.container.clone()),
        e => e,
    })?;
    let (Some(mut reader), Some(mut writer)) = (tty.take_reader(), tty.take_writer()) else {
        return Err(Failure::msg("the terminal connection has no halves", None));
    };
    // TtyExec is Send but not Sync: share it behind a mutex. The main thread only locks it for
    // `wait` once the shell's output has ended; the signal thread never blocks on it.
    let tty = Arc::new(Mutex::new(tty));
    let raw = RawMode::enter()?;

    // Signals: resize on SIGWINCH; on SIGTERM/SIGHUP/SIGINT restore the terminal, end the shell
    // and exit as a signalled process would.
    let mut signals = Signals::new([SIGWINCH, SIGTERM, SIGHUP, SIGINT])?;
    let handle = signals.handle();
    {
        let (tty, saved) = (Arc::clone(&tty), Arc::clone(&raw.saved));
        std::thread::Builder::new()
            .name("pocketdock-signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    let exec = tty.try_lock().ok();
                    if sig == SIGWINCH {
                        if let (Some(exec), Some((rows, cols))) = (&exec, window_size()) {
                            let _ = exec.resize(rows, cols);
                        }
                        continue;
                    }
                    restore(&saved);
                    if let Some(exec) = &exec {
                        let _ = exec.kill(9);
                        exec.close();
                    }
                    std::process::exit(128 + sig);
                }
            })?;
    }

    // Keys to the container. This thread may stay blocked in read() after the shell exits;
    // the process ends without waiting for it.
    std::thread::Builder::new()
        .name("pocketdock-stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 4096];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = writer.close_stdin();
                        break;
                    }
                    Ok(n) => {
                        if writer.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
        })?;

    // The container's terminal to ours, until the shell exits.
    let copied = {
        let mut out = std::io::stdout().lock();
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    if out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                        break Ok(());
                    }
                }
                Err(e) => break Err(e),
            }
        }
    };
    let code = match copied {
        Ok(()) => tty.lock().unwrap_or_else(PoisonError::into_inner).wait(),
        Err(e) => Err(Error::Io(e)),
    };
    handle.close();
    drop(raw);
    let code = code?;
    vlog!("{shell} exited with {code}");
    Ok(i32::try_from(code)
        .ok()
        .filter(|c| (0..=255).contains(c))
        .unwrap_or(EXIT_FAILURE))
}
