#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pocketdock_proto::fuzzing::fuzz_limits_probe(data);
});
