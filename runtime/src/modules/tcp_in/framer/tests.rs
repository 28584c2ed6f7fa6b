use super::*;
use proptest::collection::vec;
use proptest::sample::select;

/// Feeds `chunks` one read at a time; returns (events, dropped).
fn frame(max_line: u64, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, u64) {
    frame_limited(max_line, usize::MAX, chunks)
}

/// Like [`frame`], handing out at most `limit` events a call the way
/// tcp.in does: after each read, split again while lines are waiting;
/// at the end, finish until finished. Checks every call's limit.
fn frame_limited(max_line: u64, limit: usize, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, u64) {
    let mut framer = LineFramer::new(max_line);
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    let mut dropped = 0;
    let take = |out: Batch, events: &mut Vec<Vec<u8>>| {
        let most = limit.max(1);
        assert!(
            out.len() <= most,
            "{} events over a limit of {most}",
            out.len()
        );
        events.extend(out.events().map(|b| b.to_vec()));
    };
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        for calls in 0.. {
            assert!(calls <= chunk.len(), "split does not progress");
            let mut out = Batch::new();
            dropped += framer.split(&mut buf, &mut out, limit);
            take(out, &mut events);
            if !framer.has_pending() {
                break;
            }
        }
    }
    for calls in 0.. {
        assert!(
            calls <= 1 + events.len() + buf.len(),
            "finish does not progress"
        );
        let mut out = Batch::new();
        dropped += framer.finish(&mut buf, &mut out, limit);
        take(out, &mut events);
        if framer.is_finished(&buf) {
            break;
        }
    }
    (events, dropped)
}

fn lines(ls: &[&[u8]]) -> Vec<Vec<u8>> {
    ls.iter().map(|l| l.to_vec()).collect()
}

#[test]
fn splits_on_newline_without_delimiter() {
    let (ev, d) = frame(100, &[b"a\nbb\nccc\n"]);
    assert_eq!(ev, lines(&[b"a", b"bb", b"ccc"]));
    assert_eq!(d, 0);
}

#[test]
fn line_spread_over_reads_is_joined() {
    let (ev, d) = frame(100, &[b"he", b"ll", b"o\nwor", b"ld\n"]);
    assert_eq!(ev, lines(&[b"hello", b"world"]));
    assert_eq!(d, 0);
}

#[test]
fn partial_last_line_is_emitted_at_end() {
    let (ev, _) = frame(100, &[b"a\nlast"]);
    assert_eq!(ev, lines(&[b"a", b"last"]));
}

#[test]
fn terminated_input_gives_no_trailing_empty_event() {
    let (ev, _) = frame(100, &[b"a\n"]);
    assert_eq!(ev, lines(&[b"a"]));
}

#[test]
fn empty_lines_are_empty_events() {
    let (ev, _) = frame(100, &[b"\n\nx\n\n"]);
    assert_eq!(ev, lines(&[b"", b"", b"x", b""]));
}

#[test]
fn crlf_keeps_the_carriage_return() {
    let (ev, _) = frame(100, &[b"a\r\nb\r\n"]);
    assert_eq!(ev, lines(&[b"a\r", b"b\r"]));
}

#[test]
fn binary_bytes_pass_through() {
    let (ev, _) = frame(100, &[b"\xff\xfe\x00\x80\n\x00\n"]);
    assert_eq!(ev, lines(&[b"\xff\xfe\x00\x80", b"\x00"]));
}

#[test]
fn line_of_exactly_max_line_is_kept() {
    let (ev, d) = frame(4, &[b"abcd\n"]);
    assert_eq!(ev, lines(&[b"abcd"]));
    assert_eq!(d, 0);
}

#[test]
fn overlong_line_in_one_read_is_dropped_and_counted() {
    let (ev, d) = frame(4, &[b"ok\nabcde\nfine\n"]);
    assert_eq!(ev, lines(&[b"ok", b"fine"]));
    assert_eq!(d, 1);
}

#[test]
fn overlong_line_over_many_reads_resyncs_at_next_newline() {
    let (ev, d) = frame(4, &[b"ok\nabc", b"defgh", b"ijklmn", b"op\nnext\n"]);
    assert_eq!(ev, lines(&[b"ok", b"next"]));
    assert_eq!(d, 1);
}

#[test]
fn overlong_discarding_bounds_the_buffer() {
    let mut framer = LineFramer::new(8);
    let mut buf = BytesMut::new();
    let mut out = Batch::new();
    for _ in 0..1000 {
        buf.extend_from_slice(&[b'x'; 64]);
        assert_eq!(framer.split(&mut buf, &mut out, usize::MAX), 0);
        assert!(buf.is_empty(), "over-long line is not accumulated");
    }
    buf.extend_from_slice(b"tail\nz\n");
    assert_eq!(framer.split(&mut buf, &mut out, usize::MAX), 1);
    assert_eq!(out.to_vec(), vec![Bytes::from_static(b"z")]);
}

#[test]
fn overlong_unterminated_last_line_is_dropped_at_end() {
    let (ev, d) = frame(4, &[b"ok\nabcdefgh"]);
    assert_eq!(ev, lines(&[b"ok"]));
    assert_eq!(d, 1);
}

#[test]
fn events_share_the_read_buffer() {
    let mut framer = LineFramer::new(100);
    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(b"one\ntwo\n");
    let start = buf.as_ptr() as usize;
    let mut out = Batch::new();
    framer.split(&mut buf, &mut out, usize::MAX);
    assert_eq!(out.pieces().len(), 1, "one piece per read");
    assert_eq!(offsets(&out, start), vec![0, 4], "no copy of the lines");
}

/// Where each event of `out` starts, relative to the read buffer's start.
fn offsets(out: &Batch, start: usize) -> Vec<usize> {
    out.to_vec()
        .iter()
        .map(|b| b.as_ptr() as usize - start)
        .collect()
}

#[test]
fn split_hands_out_at_most_limit_and_keeps_the_rest_in_order() {
    let mut framer = LineFramer::new(100);
    let mut buf = BytesMut::from(&b"a\nb\nc\nd\ne\ntail"[..]);
    let mut calls = Vec::new();
    for _ in 0..10 {
        let mut out = Batch::new();
        framer.split(&mut buf, &mut out, 2);
        calls.push(out.events().map(|b| b.to_vec()).collect::<Vec<_>>());
        if !framer.has_pending() {
            break;
        }
        assert_eq!(&buf[..], b"tail", "the buffer is cut once per read");
    }
    assert_eq!(
        calls,
        vec![lines(&[b"a", b"b"]), lines(&[b"c", b"d"]), lines(&[b"e"])]
    );
    assert_eq!(&buf[..], b"tail");
}

/// What the framer must do, written the plain way: split on `\n`, no empty
/// event after a final newline, lines longer than `max_line` dropped and
/// counted.
fn model(max_line: u64, input: &[u8]) -> (Vec<Vec<u8>>, u64) {
    let mut pieces: Vec<&[u8]> = input.split(|b| *b == b'\n').collect();
    if pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    let (kept, over): (Vec<&[u8]>, Vec<&[u8]>) =
        pieces.into_iter().partition(|p| p.len() as u64 <= max_line);
    (
        kept.into_iter().map(<[u8]>::to_vec).collect(),
        over.len() as u64,
    )
}

proptest::proptest! {
    /// Random lines (some over `max_line`, some empty, with or without a
    /// final newline) cut into random reads and handed out under random
    /// limits frame exactly as the plain split does.
    #[test]
    fn random_input_in_random_reads_frames_like_a_plain_split(
        max_line in 1..=8u64,
        lines in vec(vec(select(b"ab\r\xff\x00".to_vec()), 0..13), 0..20),
        terminated: bool,
        reads in vec(1..16usize, 1..32),
        limit in select(vec![0, 1, 2, 3, 7, usize::MAX]),
    ) {
        let mut input: Vec<u8> = lines.join(&b'\n');
        if terminated && !lines.is_empty() {
            input.push(b'\n');
        }
        let mut chunks = Vec::new();
        let mut rest = &input[..];
        for read in reads.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, after) = rest.split_at((*read).min(rest.len()));
            chunks.push(chunk);
            rest = after;
        }
        proptest::prop_assert_eq!(frame_limited(max_line, limit, &chunks), model(max_line, &input));
    }
}

#[test]
fn limit_changes_the_batches_never_the_events() {
    let inputs: [&[u8]; 6] = [
        b"a\nbb\nccc\n",
        b"\n\n\n\n\n\n\n",
        b"ok\nabcdefgh\n\nfine\nx",
        b"abcdefghij\n\n\nzz\n",
        b"\r\n\xff\x00\n\n\nabcdefghijkl",
        b"1\n22\n333\n4444\n55555\n666666\n",
    ];
    for input in inputs {
        let expected = frame(4, &[input]);
        for read in 1..=input.len() {
            let chunks: Vec<&[u8]> = input.chunks(read).collect();
            for limit in [0, 1, 2, 3, 5, usize::MAX] {
                assert_eq!(
                    frame_limited(4, limit, &chunks),
                    expected,
                    "input {input:?} in reads of {read}, limit {limit}"
                );
            }
        }
    }
}

#[test]
fn waiting_lines_are_not_mistaken_for_an_overlong_tail() {
    // The read ends inside an over-long line while "abcdef" (itself
    // over-long), "x" and "y" still wait: only "abcdef" and the tail's
    // line are dropped, and the tail resyncs at its own newline.
    let (ev, d) = frame_limited(3, 1, &[b"ok\nabcdef\nx\ny\nzzzzzz", b"zz\nw\n"]);
    assert_eq!(ev, lines(&[b"ok", b"x", b"y", b"w"]));
    assert_eq!(d, 2);
}

#[test]
fn finish_hands_out_everything_a_limit_at_a_time() {
    let mut framer = LineFramer::new(100);
    let mut buf = BytesMut::from(&b"\n\n\nlast"[..]);
    let mut out = Batch::new();
    assert_eq!(framer.finish(&mut buf, &mut out, 2), 0);
    assert_eq!(out.to_vec(), vec![Bytes::new(), Bytes::new()]);
    assert!(!framer.is_finished(&buf));
    out.clear();
    assert_eq!(framer.finish(&mut buf, &mut out, 2), 0);
    assert_eq!(
        out.to_vec(),
        vec![Bytes::new(), Bytes::from_static(b"last")]
    );
    assert!(framer.is_finished(&buf));
}

#[test]
fn finish_counts_an_overlong_last_line_after_a_full_call() {
    // The call that hands out the last lines is full: the over-long last
    // line is counted by the next one, not forgotten.
    let mut framer = LineFramer::new(3);
    let mut buf = BytesMut::from(&b"a\nb\nabcdefgh"[..]);
    let mut out = Batch::new();
    assert_eq!(framer.finish(&mut buf, &mut out, 2), 0);
    assert_eq!(
        out.to_vec(),
        vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
    );
    assert!(!framer.is_finished(&buf));
    assert_eq!(framer.finish(&mut buf, &mut out, 2), 1);
    assert_eq!(out.len(), 2);
    assert!(framer.is_finished(&buf));
}

#[test]
fn waiting_lines_still_share_the_read_buffer() {
    let mut framer = LineFramer::new(100);
    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(b"one\ntwo\nsix\n");
    let start = buf.as_ptr() as usize;
    let mut out = Batch::new();
    framer.split(&mut buf, &mut out, 1);
    framer.split(&mut buf, &mut out, 1);
    framer.split(&mut buf, &mut out, 1);
    assert!(!framer.has_pending());
    assert_eq!(
        offsets(&out, start),
        vec![0, 4, 8],
        "no copy of waiting lines"
    );
}
