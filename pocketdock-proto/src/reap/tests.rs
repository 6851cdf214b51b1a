//! The owner rules, on made-up owners and a real `/proc/<pid>/stat` line.

use super::*;

fn owner() -> Owner {
    Owner {
        pid: 4242,
        start: 987_654,
        boot_id: "0b8e2a4c-1111-2222-3333-444455556666".into(),
        pid_ns: 4_026_531_836,
        host: "box.example".into(),
    }
}

fn here() -> HostView {
    HostView {
        boot_id: owner().boot_id,
        pid_ns: owner().pid_ns,
        host: owner().host,
    }
}

fn labels(persist: bool, owner: Option<&Owner>, ttl: Option<u64>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert(LABEL_MANAGED.to_string(), "true".to_string());
    m.insert(LABEL_PERSIST.to_string(), persist.to_string());
    if let Some(o) = owner {
        for (k, v) in o.labels() {
            m.insert(k.to_string(), v);
        }
    }
    if let Some(t) = ttl {
        m.insert(LABEL_TTL.to_string(), t.to_string());
    }
    m
}

#[test]
fn liveness_table() {
    let o = owner();
    let h = here();
    assert_eq!(owner_liveness(&o, &h, Some(987_654)), Liveness::Alive);
    assert!(matches!(owner_liveness(&o, &h, None), Liveness::Gone(_)));
    assert!(
        matches!(owner_liveness(&o, &h, Some(1)), Liveness::Gone(w) if w.contains("another process"))
    );
    let rebooted = HostView {
        boot_id: "other".into(),
        ..h.clone()
    };
    assert!(
        matches!(owner_liveness(&o, &rebooted, Some(987_654)), Liveness::Gone(w) if w.contains("rebooted"))
    );
    let elsewhere = HostView {
        host: "other-host".into(),
        ..h.clone()
    };
    assert!(matches!(
        owner_liveness(&o, &elsewhere, None),
        Liveness::Unknown(_)
    ));
    let other_ns = HostView { pid_ns: 1, ..h };
    assert!(matches!(
        owner_liveness(&o, &other_ns, None),
        Liveness::Unknown(_)
    ));
}

#[test]
fn verdicts() {
    let o = owner();
    let h = here();
    let alive = |pid: u32| (pid == 4242).then_some(987_654);
    let dead = |_: u32| None;
    let now = 1_000_000;
    // A live owner's container stays; a dead one's goes.
    assert_eq!(
        container_verdict(&labels(false, Some(&o), None), now - 5, now, &h, alive),
        None
    );
    assert!(matches!(
        container_verdict(&labels(false, Some(&o), None), now - 5, now, &h, dead),
        Some(ReapReason::OwnerGone(_))
    ));
    // Persistent, unmanaged and unowned containers are never taken for an owner's.
    assert_eq!(
        container_verdict(&labels(true, Some(&o), Some(1)), 0, now, &h, dead),
        None
    );
    let mut unmanaged = labels(false, Some(&o), None);
    unmanaged.remove(LABEL_MANAGED);
    assert_eq!(container_verdict(&unmanaged, now - 5, now, &h, dead), None);
    assert_eq!(
        container_verdict(&labels(false, None, None), now - 5, now, &h, dead),
        None
    );
    // A time to live ends a container whoever owns it, not before.
    assert_eq!(
        container_verdict(&labels(false, None, Some(60)), now - 59, now, &h, dead),
        None
    );
    assert_eq!(
        container_verdict(&labels(false, Some(&o), Some(60)), now - 61, now, &h, alive),
        Some(ReapReason::TtlPassed(61))
    );
    // Malformed owner labels are no owner at all.
    let mut bad = labels(false, Some(&o), None);
    bad.insert(LABEL_OWNER_PID.to_string(), "x".to_string());
    assert_eq!(container_verdict(&bad, now - 5, now, &h, dead), None);
    bad.insert(LABEL_OWNER_PID.to_string(), "1".to_string());
    bad.insert(LABEL_OWNER_HOST.to_string(), "a b".to_string());
    assert_eq!(container_verdict(&bad, now - 5, now, &h, dead), None);
}

#[test]
fn labels_and_tokens_round_trip() {
    let o = owner();
    let m = labels(false, Some(&o), None);
    assert_eq!(Owner::from_labels(&m), Some(o.clone()));
    let t = o.token();
    assert_eq!(
        t,
        "po_0b8e2a4c-1111-2222-3333-444455556666_4026531836_4242_987654_box.example"
    );
    assert_eq!(Owner::parse_token(&t), Some(o));
    for bad in [
        "",
        "po_",
        "po_a_b_c_d_e",
        "xx_a_1_2_3_h",
        "po_a_1_2_3_h h",
        "po_a_1_2_3_",
    ] {
        assert_eq!(Owner::parse_token(bad), None, "{bad:?}");
    }
}

#[test]
fn start_time_is_field_22() {
    // A real line (`cat /proc/self/stat`), and the same with a hostile command name.
    let line = "12345 (cat) R 100 12345 100 34816 12345 4194304 95 0 0 0 0 0 0 0 20 0 1 0 \
                7345123 5754880 229 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
    assert_eq!(stat_start_time(line), Some(7_345_123));
    let hostile = line.replace("(cat)", "(a) b ) c (d)");
    assert_eq!(stat_start_time(&hostile), Some(7_345_123));
    assert_eq!(running_start_time(line), Some(7_345_123));
    assert_eq!(
        running_start_time(&line.replace(") R ", ") Z ")),
        None,
        "a zombie has ended"
    );
    for bad in ["", "1 (x", "1 (x) R 2", "garbage )"] {
        assert_eq!(stat_start_time(bad), None, "{bad:?}");
    }
}

#[test]
fn record_lines() {
    let l = RecordLine {
        socket: "/run/docker.sock".into(),
        container: "abc123".into(),
        user: String::new(),
    };
    let text = format!(
        "{}{}junk\n\tx\t\n/s\tbad id!\t\n{}",
        l.format(),
        l.format(),
        "/s\tc2\troot\n"
    );
    let parsed = RecordLine::parse_all(&text);
    assert_eq!(parsed.len(), 2);
    assert!(parsed.contains(&l));
    assert_eq!(parsed.iter().filter(|p| p.user == "root").count(), 1);
}

#[test]
fn kill_script_matches_by_containment() {
    let argv = kill_owned_command(&owner());
    assert_eq!(argv[4], owner().token());
    assert!(KILL_OWNED_SCRIPT.contains(r#"*"$t"*"#));
}
