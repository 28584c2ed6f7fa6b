//! `--coalesce TIME`: after a wake-up that moved little, the proxy waits
//! TIME before it looks for more, so a line that follows another within
//! TIME waits for the rest of it; a line after a quiet spell does not.
//! (That heavy traffic is never held is shown by the unit tests of
//! `runtime/src/coalesce.rs` and, with figures, by `bench/run.sh`'s
//! `wbc-one-coalesce` rows.)

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::peers::{numbered, Sink, SinkOpts};
use crate::setup::{figures, start_with_args, tally};

const HOLD: Duration = Duration::from_secs(1);

pub fn coalesce_holds_a_line_that_follows_another_but_not_one_after_a_quiet_spell() {
    let sink = Sink::start(SinkOpts::default());
    let run = start_with_args("one", &[sink.port], &[], 1, &["--coalesce", "1s"]);
    let lines = numbered("coalesced ", 3);
    let line = |i: usize| {
        lines
            .split_inclusive(|&b| b == b'\n')
            .nth(i)
            .expect("a line")
    };
    let mut client = TcpStream::connect(("127.0.0.1", run.input)).expect("connect");
    // Whenever the first line arrives, the proxy then sleeps off its wake-up.
    let mut send = |i: usize| {
        client.write_all(line(i)).expect("write");
        let sent = Instant::now();
        let got = sink.wait_lines(i as u64 + 1, Duration::from_secs(20));
        assert_eq!(got, i as u64 + 1, "line {i} never arrived");
        sent.elapsed()
    };
    let first = send(0);
    // Sent as soon as the first arrived: it waits for the rest of the hold.
    let second = send(1);
    // Two holds later the proxy is parked, and a line wakes it at once.
    std::thread::sleep(HOLD * 2);
    let third = send(2);
    let r = sink.stop();
    let t = tally(3, &[&r.seqs]);
    figures(
        "coalesce",
        t,
        &format!(
            "hold_ms={} first_ms={} second_ms={} third_ms={}",
            HOLD.as_millis(),
            first.as_millis(),
            second.as_millis(),
            third.as_millis()
        ),
    );
    assert_eq!(t.delivered, 3);
    assert!(
        second >= HOLD / 2,
        "a line that followed another was not held: {second:?}"
    );
    assert!(
        third < HOLD / 2,
        "a line after a quiet spell was held: {third:?}"
    );
}
