//! Any bytes as a write API's answer, fed whole and fed in pieces: never a panic, never more held
//! than the caps, and the same result either way (an answer completed before its last bytes
//! differs only in not keeping the connection, as the whole saw bytes after it).
//!
//! The body of a complete answer then goes through the partial-write reader: never a panic, and
//! never more lines refused than the batch had; a `Retry-After` never asks for more than its cap.
//!
//! Input: 8 bytes that choose the cut points, the limits and the batch size, then the answer.
#![no_main]

use analytics_core::http::response::{
    Limits, Progress, Response, ResponseError, ResponseReader, MAX_RETRY_AFTER_S,
};
use analytics_core::http::write_answer::refused_lines;
use libfuzzer_sys::fuzz_target;

/// The reader's result, and whether bytes came after the piece that completed the answer.
fn read(limits: Limits, pieces: &[&[u8]]) -> (Result<Response, ResponseError>, bool) {
    let mut reader = ResponseReader::new(limits);
    for (at, piece) in pieces.iter().enumerate() {
        let result = reader.feed(piece);
        assert!(reader.buffered() <= limits.max_head + limits.max_body);
        match result {
            Ok(Progress::NeedMore) => {}
            Ok(Progress::Done(response)) => {
                let unread = pieces[at + 1..].iter().any(|p| !p.is_empty());
                return (Ok(response), unread);
            }
            Err(error) => return (Err(error), false),
        }
    }
    (reader.closed(), false)
}

fuzz_target!(|data: &[u8]| {
    let Some((seed, answer)) = data.split_first_chunk::<8>() else { return };
    let mut state = u64::from_le_bytes(*seed) | 1;
    let mut next = move || {
        // xorshift64: cheap, and fixed by the input so that a crash replays.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let limits = match next() % 3 {
        0 => Limits::default(),
        1 => Limits { max_head: 64, max_body: 64 },
        _ => Limits { max_head: (next() % 300) as usize, max_body: (next() % 300) as usize },
    };
    let mut pieces = Vec::new();
    let mut rest = answer;
    while !rest.is_empty() {
        let length = (next() % 16) as usize;
        let (piece, after) = rest.split_at(length.min(rest.len()));
        pieces.push(piece);
        rest = after;
    }
    let (whole, _) = read(limits, &[answer]);
    if let Ok(response) = &whole {
        let lines = (next() % 10_000) as usize;
        assert!(refused_lines(&response.body, lines) <= lines);
        if let Some(retry_after) = response.retry_after {
            assert!(retry_after.seconds(next()) <= MAX_RETRY_AFTER_S);
        }
    }
    let (piecewise, unread) = read(limits, &pieces);
    match (piecewise, whole) {
        (Ok(piecewise), Ok(whole)) if unread => {
            assert!(!whole.keep_alive);
            assert_eq!(Response { keep_alive: false, ..piecewise }, whole);
        }
        (piecewise, whole) => assert_eq!(piecewise, whole),
    }
});
