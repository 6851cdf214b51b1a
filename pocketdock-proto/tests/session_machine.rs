//! The session machine on a virtual clock, with no shell and no engine: turns, writes, results
//! at every split point of the shell's output, the interrupt and grace of a timed-out command,
//! a stuck shell, a shell that exits, close and cancellation.

use std::time::{Duration, Instant};

use pocketdock_proto::session::{
    sentinel_token, Closing, SessionCall, SessionMachine, SessionOptions, Ticket, TicketStep,
    INTERRUPT_GRACE,
};
use pocketdock_proto::{Error, ExecResult, StreamKind};

const SECOND: Duration = Duration::from_secs(1);

fn machine() -> SessionMachine {
    SessionMachine::new(&SessionOptions::default(), "ctr", "sess")
}

/// What the shell prints for the command of token `random`: `out` and `err`, then the end
/// markers with exit code `code`.
fn shell_output(random: u64, out: &[u8], err: &[u8], code: i64) -> Vec<(StreamKind, Vec<u8>)> {
    let token = sentinel_token(random);
    let mut stdout = out.to_vec();
    stdout.extend(format!("\n__PD_{token}_{code}__\n").into_bytes());
    let mut stderr = err.to_vec();
    stderr.extend(format!("\n__PD_{token}__\n").into_bytes());
    vec![(StreamKind::Stdout, stdout), (StreamKind::Stderr, stderr)]
}

/// Feed `chunks` in pieces of `step` bytes, stdout and stderr pieces alternating.
fn feed(m: &mut SessionMachine, now: Instant, chunks: &[(StreamKind, Vec<u8>)], step: usize) {
    let mut positions = vec![0; chunks.len()];
    loop {
        let mut fed = false;
        for (i, (kind, data)) in chunks.iter().enumerate() {
            let pos = positions[i];
            if pos < data.len() {
                let end = (pos + step).min(data.len());
                m.handle_output(now, *kind, &data[pos..end]);
                positions[i] = end;
                fed = true;
            }
        }
        if !fed {
            return;
        }
    }
}

/// Take the turn and write: returns the bytes written.
fn write(m: &mut SessionMachine, t: Ticket, now: Instant) -> Vec<u8> {
    assert!(matches!(m.poll_ticket(t, now), Some(TicketStep::Write)));
    let bytes = m.take_write(t, now).expect("bytes to write");
    m.written(t, Ok(()));
    bytes.to_vec()
}

fn done(step: Option<TicketStep>) -> pocketdock_proto::Result<Option<ExecResult>> {
    match step {
        Some(TicketStep::Done(r)) => r,
        other => panic!("expected the result, got {other:?}"),
    }
}

fn result(step: Option<TicketStep>) -> ExecResult {
    done(step)
        .expect("a result")
        .expect("a send_and_wait result")
}

#[test]
fn a_command_completes_at_every_split_point() {
    let output = shell_output(7, b"hello\nno newline", "é err".as_bytes(), 3);
    let longest = output.iter().map(|(_, d)| d.len()).max().unwrap_or(1);
    for step in 1..=longest {
        let start = Instant::now();
        let mut m = machine();
        let t = m.send_and_wait("echo hello", None, start, 7).unwrap();
        let bytes = write(&mut m, t, start);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("echo hello"), "{text}");
        assert!(text.contains(&sentinel_token(7)), "{text}");
        assert!(text.contains("POCKETDOCK_EXEC=sess."), "{text}");
        assert!(m.poll_ticket(t, start).is_none());
        let end = start + Duration::from_millis(250);
        feed(&mut m, end, &output, step);
        let r = result(m.poll_ticket(t, end));
        assert_eq!(r.stdout, b"hello\nno newline", "step {step}");
        assert_eq!(r.stderr, "é err".as_bytes(), "step {step}");
        assert_eq!(r.exit_code, 3);
        assert!(!r.timed_out);
        assert_eq!(r.duration, Duration::from_millis(250));
        // The command's output was echoed to general output too (the default), in arrival
        // order.
        if step == longest {
            assert_eq!(m.read_text(), "hello\nno newlineé err");
        } else {
            let mut general = m.read_bytes();
            let mut expected = "hello\nno newlineé err".as_bytes().to_vec();
            general.sort_unstable();
            expected.sort_unstable();
            assert_eq!(general, expected, "step {step}");
        }
        assert!(!m.is_busy());
    }
}

#[test]
fn commands_take_turns_and_a_queued_one_can_time_out() {
    let start = Instant::now();
    let mut m = machine();
    let a = m.send_and_wait("sleep 5", None, start, 1).unwrap();
    let b = m
        .send_and_wait("echo b", Some(2 * SECOND), start, 2)
        .unwrap();
    let c = m.send_and_wait("echo c", None, start, 3).unwrap();
    write(&mut m, a, start);
    // b and c wait for a; b's timeout covers its wait for the turn.
    assert!(m.poll_ticket(b, start).is_none());
    assert!(m.poll_ticket(c, start).is_none());
    assert_eq!(m.deadline(b), Some(start + 2 * SECOND));
    assert_eq!(m.deadline(c), None);
    let err = done(m.poll_ticket(b, start + 2 * SECOND)).unwrap_err();
    assert!(
        matches!(err, Error::Timeout { op, after_ms: 2000 } if op.contains("waiting for the previous command")),
        "{err:?}"
    );
    // a finishes: its result keeps the turn until it is taken, then c goes.
    feed(
        &mut m,
        start + 5 * SECOND,
        &shell_output(1, b"", b"", 0),
        64,
    );
    assert!(m.poll_ticket(c, start + 5 * SECOND).is_none());
    assert_eq!(result(m.poll_ticket(a, start + 5 * SECOND)).exit_code, 0);
    let bytes = write(&mut m, c, start + 5 * SECOND);
    assert!(String::from_utf8_lossy(&bytes).contains("echo c"));
}

#[test]
fn a_timed_out_command_is_interrupted_and_keeps_its_partial_output() {
    let start = Instant::now();
    let mut m = machine();
    let t = m
        .send_and_wait("echo partial; sleep 60", Some(SECOND), start, 9)
        .unwrap();
    write(&mut m, t, start);
    m.handle_output(start, StreamKind::Stdout, b"partial\n");
    assert_eq!(m.deadline(t), Some(start + SECOND));
    assert!(m
        .poll_ticket(t, start + Duration::from_millis(999))
        .is_none());
    let at = start + SECOND;
    match m.poll_ticket(t, at) {
        Some(TicketStep::Call(SessionCall::Interrupt { token, elapsed })) => {
            assert_eq!(token, sentinel_token(9));
            assert_eq!(elapsed, SECOND);
        }
        other => panic!("expected the interrupt, got {other:?}"),
    }
    // While the call runs, there is nothing else to do and no deadline.
    assert!(m.poll_ticket(t, at).is_none());
    assert_eq!(m.deadline(t), None);
    let called = at + Duration::from_millis(120);
    m.call_finished(t, called);
    assert_eq!(m.deadline(t), Some(called + INTERRUPT_GRACE));
    // The killed command ends (kill: 137) within the grace period.
    feed(&mut m, called, &shell_output(9, b"", b"Killed\n", 137), 5);
    let r = result(m.poll_ticket(t, called));
    assert!(r.timed_out);
    assert_eq!(r.exit_code, -1);
    assert_eq!(r.stdout, b"partial\n");
    assert_eq!(r.stderr, b"Killed\n");
    // The session goes on.
    let next = m.send_and_wait("echo next", None, called, 10).unwrap();
    write(&mut m, next, called);
    feed(&mut m, called, &shell_output(10, b"next\n", b"", 0), 3);
    assert_eq!(result(m.poll_ticket(next, called)).stdout, b"next\n");
}

#[test]
fn a_stuck_shell_is_ended_after_the_grace_period() {
    let start = Instant::now();
    let mut m = machine();
    let t = m
        .send_and_wait("while :; do :; done", Some(SECOND), start, 4)
        .unwrap();
    write(&mut m, t, start);
    m.handle_output(start, StreamKind::Stderr, b"spinning");
    assert!(matches!(
        m.poll_ticket(t, start + SECOND),
        Some(TicketStep::Call(SessionCall::Interrupt { .. }))
    ));
    m.call_finished(t, start + SECOND);
    let grace_end = start + SECOND + INTERRUPT_GRACE;
    assert!(m
        .poll_ticket(t, start + SECOND + Duration::from_millis(1999))
        .is_none());
    // The grace period passed: the caller runs the end-shell call before it gets its result.
    assert!(matches!(
        m.poll_ticket(t, grace_end),
        Some(TicketStep::Call(SessionCall::EndShell))
    ));
    assert!(m.poll_ticket(t, grace_end).is_none());
    m.call_finished(t, grace_end);
    let r = result(m.poll_ticket(t, grace_end));
    assert!(r.timed_out);
    assert_eq!(r.stderr, b"spinning");
    assert_eq!(r.duration, SECOND + INTERRUPT_GRACE);
    // The shell's stream then ends.
    let (_, wants_exit) = m.handle_end(grace_end, None);
    assert!(wants_exit);
    assert!(matches!(
        m.send_and_wait("echo", None, grace_end, 5),
        Err(Error::SessionClosed)
    ));
}

#[test]
fn a_command_that_ends_the_shell_gets_the_shell_exit_code() {
    let start = Instant::now();
    let mut m = machine();
    let t = m.send_and_wait("exit 3", None, start, 6).unwrap();
    let waiting = m.send_and_wait("echo never", None, start, 8).unwrap();
    write(&mut m, t, start);
    m.handle_output(start, StreamKind::Stdout, b"bye\n");
    let (_, wants_exit) = m.handle_end(start + SECOND, None);
    assert!(wants_exit);
    // The result waits for the exit code.
    assert!(m.poll_ticket(t, start + SECOND).is_none());
    m.handle_exit_code(Some(3));
    let r = result(m.poll_ticket(t, start + 2 * SECOND));
    assert_eq!(r.exit_code, 3);
    assert_eq!(r.stdout, b"bye\n");
    assert_eq!(r.duration, SECOND);
    assert!(matches!(
        done(m.poll_ticket(waiting, start)),
        Err(Error::SessionClosed)
    ));
    assert_eq!(m.exit_code(), Some(3));
}

#[test]
fn close_ends_every_waiter_and_asks_for_the_shell_to_be_ended_once() {
    let start = Instant::now();
    let mut m = machine();
    let running = m.send_and_wait("sleep 60", None, start, 1).unwrap();
    let queued = m.send_and_wait("echo", None, start, 2).unwrap();
    write(&mut m, running, start);
    assert_eq!(
        m.close(),
        Closing::Closed {
            end_shell: Some(SessionCall::EndShell)
        }
    );
    assert_eq!(m.close(), Closing::AlreadyClosed);
    assert!(matches!(
        done(m.poll_ticket(running, start)),
        Err(Error::SessionClosed)
    ));
    assert!(matches!(
        done(m.poll_ticket(queued, start)),
        Err(Error::SessionClosed)
    ));
    // After close the reader does not ask for the exit code.
    let (_, wants_exit) = m.handle_end(start, None);
    assert!(!wants_exit);
    assert!(m.exit_known());
    assert_eq!(m.exit_code(), None);
    // A session whose shell already ended needs no end-shell call.
    let mut m = machine();
    m.handle_end(start, Some("connection reset".into()));
    assert_eq!(m.close(), Closing::Closed { end_shell: None });
    assert_eq!(m.end_error(), Some("connection reset"));
}

#[test]
fn a_cancelled_command_is_interrupted_and_never_leaks_into_the_next_result() {
    let start = Instant::now();
    let mut m = machine();
    let t = m
        .send_and_wait("sleep 1; echo late", None, start, 11)
        .unwrap();
    write(&mut m, t, start);
    let call = m.cancel(t, start + SECOND);
    assert_eq!(
        call,
        Some(SessionCall::Interrupt {
            token: sentinel_token(11),
            elapsed: SECOND
        })
    );
    assert!(!m.is_busy());
    let next = m.send_and_wait("echo next", None, start, 12).unwrap();
    write(&mut m, next, start);
    // The cancelled command's late output and markers arrive first.
    feed(&mut m, start, &shell_output(11, b"late\n", b"", 0), 4);
    feed(&mut m, start, &shell_output(12, b"next\n", b"", 0), 4);
    let r = result(m.poll_ticket(next, start));
    assert_eq!(r.stdout, b"next\n");
    assert_eq!(m.read_text(), "late\nnext\n");
}

#[test]
fn send_is_done_once_written_and_its_output_is_general() {
    let start = Instant::now();
    let mut m = SessionMachine::new(
        &SessionOptions {
            echo_command_output: false,
            ..SessionOptions::default()
        },
        "ctr",
        "sess",
    );
    let s = m.send("echo bg", start, 21).unwrap();
    let wait = m.send_and_wait("echo fg", None, start, 22).unwrap();
    assert!(m.poll_ticket(wait, start).is_none());
    write(&mut m, s, start);
    assert!(matches!(done(m.poll_ticket(s, start)), Ok(None)));
    write(&mut m, wait, start);
    feed(&mut m, start, &shell_output(21, b"bg\n", b"", 0), 2);
    feed(&mut m, start, &shell_output(22, b"fg\n", b"", 0), 2);
    assert_eq!(result(m.poll_ticket(wait, start)).stdout, b"fg\n");
    // Without echo, only the output of no waited-for command is general.
    assert_eq!(m.read_text(), "bg\n");
}

#[test]
fn a_failed_write_ends_the_ticket_and_frees_the_turn() {
    let start = Instant::now();
    let mut m = machine();
    let t = m.send_and_wait("echo", None, start, 31).unwrap();
    assert!(matches!(m.poll_ticket(t, start), Some(TicketStep::Write)));
    assert!(m.take_write(t, start).is_some());
    assert!(
        m.take_write(t, start).is_none(),
        "bytes are handed out once"
    );
    m.written(t, Err(Error::SocketCommunication("broken pipe".into())));
    assert!(matches!(
        done(m.poll_ticket(t, start)),
        Err(Error::SocketCommunication(_))
    ));
    let next = m.send_and_wait("echo ok", None, start, 32).unwrap();
    write(&mut m, next, start);
    feed(&mut m, start, &shell_output(32, b"ok\n", b"", 0), 7);
    assert_eq!(result(m.poll_ticket(next, start)).stdout, b"ok\n");
}

#[test]
fn bad_input_is_refused_with_a_typed_error() {
    let start = Instant::now();
    let mut m = machine();
    assert!(matches!(
        m.send_and_wait("echo", Some(Duration::ZERO), start, 1),
        Err(Error::InvalidInput { .. })
    ));
    let t = m.send_and_wait("echo \0", None, start, 2).unwrap();
    assert!(matches!(m.poll_ticket(t, start), Some(TicketStep::Write)));
    assert!(m.take_write(t, start).is_none());
    assert!(matches!(
        done(m.poll_ticket(t, start)),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        done(m.poll_ticket(t, start)),
        Err(Error::InvalidInput { .. })
    ));
    // The interrupt calls run as the session's user, against its nonce and command marker.
    let opts = SessionOptions {
        user: Some("1000".into()),
        ..SessionOptions::default()
    };
    let m = SessionMachine::new(&opts, "ctr", "sess");
    let spec = opts.shell_spec().expect("valid options");
    assert!(spec.stdin && !spec.tty);
    assert_eq!(spec.user.as_deref(), Some("1000"));
    let call = m.exec_config(
        &SessionCall::Interrupt {
            token: "t1".into(),
            elapsed: SECOND,
        },
        "n1",
    );
    assert_eq!(call.spec.user.as_deref(), Some("1000"));
    assert!(call.spec.cmd.iter().any(|a| a == "sess.t1"));
    // The shell's pid is unknown until its starter reports one (the agent does).
    let end = m.exec_config(&SessionCall::EndShell, "n2");
    let tail = |c: &pocketdock_proto::op::ExecConfig| c.spec.cmd[c.spec.cmd.len() - 2..].to_vec();
    assert_eq!(tail(&end), ["session", ""]);
    let mut m = m;
    m.set_shell_pid(42);
    let end = m.exec_config(&SessionCall::EndShell, "n3");
    assert_eq!(tail(&end), ["session", "42"]);
}

#[test]
fn cancelling_during_the_interrupt_hands_the_interrupt_back_and_frees_the_session() {
    let start = Instant::now();
    let mut m = machine();
    let t = m
        .send_and_wait("sleep 60", Some(SECOND), start, 41)
        .unwrap();
    write(&mut m, t, start);
    assert!(matches!(
        m.poll_ticket(t, start + SECOND),
        Some(TicketStep::Call(SessionCall::Interrupt { .. }))
    ));
    // The caller went away while its interrupt call ran: the call must run again in the
    // background, and the next command must not find the old one still pending.
    assert!(matches!(
        m.cancel(t, start + 2 * SECOND),
        Some(SessionCall::Interrupt { elapsed, .. }) if elapsed == 2 * SECOND
    ));
    let next = m.send_and_wait("echo ok", None, start, 42).unwrap();
    write(&mut m, next, start);
    feed(&mut m, start, &shell_output(41, b"", b"", 137), 9);
    feed(&mut m, start, &shell_output(42, b"ok\n", b"", 0), 9);
    assert_eq!(result(m.poll_ticket(next, start)).stdout, b"ok\n");
}
