//! The scripted-engine harness itself (`support/mod.rs`): that it delivers what it says, and
//! that it fails a test when an operation strays from the script.

mod support;

use std::time::Duration;

use pocketdock_proto::op::calls;
use support::{drive, every_delivery, json, reply, silent, Delivery, Script};

#[test]
fn every_delivery_covers_each_split_of_each_answer() {
    let script = [reply("A", "abc"), reply("B", ""), reply("C", "de")];
    let all = every_delivery(&script);
    assert_eq!(
        all,
        vec![
            Delivery::Whole,
            Delivery::Chunks(1),
            Delivery::SplitAt { reply: 0, at: 1 },
            Delivery::SplitAt { reply: 0, at: 2 },
            Delivery::SplitAt { reply: 2, at: 1 },
        ]
    );
}

#[test]
fn an_answer_reaches_the_op_in_the_pieces_asked_for_and_time_moves_per_read() {
    let answer = json("200 OK", "OK");
    let n = answer.len();
    for (delivery, reads) in [
        (Delivery::Whole, 1),
        (Delivery::Chunks(1), n),
        (Delivery::Chunks(4), n.div_ceil(4)),
        (Delivery::SplitAt { reply: 0, at: 5 }, 2),
    ] {
        let out = drive(
            calls::ping(),
            vec![reply("GET /_ping ", answer.clone())],
            delivery,
        );
        assert_eq!(out.result.ok().as_deref(), Some("OK"), "{delivery:?}");
        let reads = u32::try_from(reads).unwrap_or(u32::MAX);
        assert_eq!(
            out.elapsed,
            Duration::from_millis(1) * reads,
            "{delivery:?}"
        );
        assert_eq!(out.requests, vec!["GET /_ping HTTP/1.1".to_string()]);
        assert!(out.sent[0].starts_with(b"GET /_ping HTTP/1.1\r\n"));
    }
}

#[test]
fn an_op_that_waits_forever_is_stuck_not_a_hang() {
    let op = calls::ping().with_timeout(None);
    let stuck = Script::new(vec![silent("GET /_ping")]).try_run(op);
    assert!(matches!(stuck, Err(ref s) if s.requests.len() == 1));
}

#[test]
#[should_panic(expected = "expected \"GET /version\"")]
fn a_request_other_than_the_scripted_one_fails_the_test() {
    drive(
        calls::ping(),
        vec![reply("GET /version", json("200 OK", "{}"))],
        Delivery::Whole,
    );
}

#[test]
#[should_panic(expected = "unused replies: 1")]
fn a_reply_left_unused_fails_the_test() {
    drive(
        calls::ping(),
        vec![
            reply("GET /_ping", json("200 OK", "OK")),
            reply("GET /version", json("200 OK", "{}")),
        ],
        Delivery::Whole,
    );
}

#[test]
#[should_panic(expected = "no reply scripted for GET /_ping")]
fn a_request_nobody_scripted_fails_the_test() {
    drive(calls::ping(), vec![], Delivery::Whole);
}
