//! The answer reader gives the same result however the answer is cut into reads, keeps within its
//! caps for any input, and reads every valid answer as the generator (the oracle here) built it.

use analytics_core::http::response::{
    Limits, Progress, Response, ResponseError, ResponseReader, RetryAfter, MAX_RETRY_AFTER_S,
};
use proptest::prelude::*;

/// What a reader made of a whole exchange: its answer or error, after `closed()` if it still
/// waited at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    result: Result<Response, ResponseError>,
    /// Bytes came after the piece that completed the answer.
    unread: bool,
}

/// Feeds `pieces` one by one, checking the memory bound after each.
fn read_pieces<'a>(limits: Limits, pieces: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut reader = ResponseReader::new(limits);
    let mut pieces = pieces.into_iter();
    let bound = limits.max_head + limits.max_body;
    while let Some(piece) = pieces.next() {
        let result = reader.feed(piece);
        assert!(reader.buffered() <= bound, "{} > {bound}", reader.buffered());
        match result {
            Ok(Progress::NeedMore) => continue,
            Ok(Progress::Done(response)) => {
                let unread = pieces.any(|rest| !rest.is_empty());
                return Outcome {
                    result: Ok(response),
                    unread,
                };
            }
            Err(error) => {
                return Outcome {
                    result: Err(error),
                    unread: false,
                }
            }
        }
    }
    Outcome {
        result: reader.closed(),
        unread: false,
    }
}

fn cut<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for end in at.into_iter().chain([bytes.len()]) {
        pieces.push(&bytes[start..end]);
        start = end;
    }
    pieces
}

/// Whole and in pieces agree; an answer completed before its last bytes arrived differs from the
/// whole only in that the whole saw bytes after it and so does not keep the connection.
fn assert_same_as_whole(limits: Limits, bytes: &[u8], cuts: &[usize]) -> Outcome {
    let whole = read_pieces(limits, [bytes]);
    let pieces = read_pieces(limits, cut(bytes, cuts));
    match (&pieces.result, &whole.result) {
        (Ok(piecewise), Ok(at_once)) if pieces.unread => {
            assert!(!at_once.keep_alive, "{at_once:?}");
            assert_eq!(
                &Response {
                    keep_alive: false,
                    ..piecewise.clone()
                },
                at_once
            );
        }
        _ => assert_eq!(
            pieces.result,
            whole.result,
            "{:?}",
            String::from_utf8_lossy(bytes)
        ),
    }
    whole
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length,
    Chunked,
    UntilClose,
}

#[derive(Debug, Clone)]
struct Answer {
    interim: Vec<u16>,
    http_10: bool,
    status: u16,
    headers: Vec<(String, String)>,
    connection: Option<&'static str>,
    retry_after: Option<u64>,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    framing: Framing,
    chunk_cuts: Vec<usize>,
    /// A chunk extension's value, on every chunk-size line when given.
    extension: Option<String>,
    trailers: Vec<(String, String)>,
    bare_lf: bool,
}

/// An answer's bytes, and the sizes that its caps apply to.
struct Encoded {
    bytes: Vec<u8>,
    /// Status lines and headers, interim answers included.
    head: usize,
    /// Each chunk-size line's length (with its line end) and its chunk's size, the last one's too.
    chunks: Vec<(usize, usize)>,
    /// The trailer section, with its blank line.
    trailers: usize,
}

impl Answer {
    fn bytes(&self) -> Vec<u8> {
        self.encode().bytes
    }

    fn encode(&self) -> Encoded {
        let end = if self.bare_lf { "\n" } else { "\r\n" };
        let version = if self.http_10 { "HTTP/1.0" } else { "HTTP/1.1" };
        let mut out = String::new();
        for status in &self.interim {
            out += &format!("HTTP/1.1 {status} Interim{end}X-Hint: {status}{end}{end}");
        }
        out += &format!("{version} {} Some Reason{end}", self.status);
        for (name, value) in &self.headers {
            out += &format!("{name}: {value}{end}");
        }
        if let Some(connection) = self.connection {
            out += &format!("Connection: {connection}{end}");
        }
        if let Some(seconds) = self.retry_after {
            out += &format!("Retry-After: {seconds}{end}");
        }
        if let Some(content_type) = self.content_type {
            out += &format!("Content-Type: {content_type}{end}");
        }
        let no_body = self.status == 204 || self.status == 304;
        match self.framing {
            Framing::Length => {
                out += &format!(
                    "Content-Length: {}{end}",
                    if no_body { 0 } else { self.body.len() }
                )
            }
            Framing::Chunked => out += &format!("Transfer-Encoding: chunked{end}"),
            Framing::UntilClose => {}
        }
        out += end;
        let mut encoded = Encoded {
            head: out.len(),
            bytes: out.into_bytes(),
            chunks: Vec::new(),
            trailers: 0,
        };
        if no_body {
            return encoded;
        }
        let bytes = &mut encoded.bytes;
        match self.framing {
            Framing::Length | Framing::UntilClose => bytes.extend_from_slice(&self.body),
            Framing::Chunked => {
                let extension = self
                    .extension
                    .as_ref()
                    .map_or(String::new(), |v| format!(" ; name=\"{v}\""));
                for chunk in cut(&self.body, &self.chunk_cuts)
                    .into_iter()
                    .filter(|c| !c.is_empty())
                {
                    let line = format!("{:x}{extension}{end}", chunk.len());
                    encoded.chunks.push((line.len(), chunk.len()));
                    bytes.extend(line.bytes());
                    bytes.extend_from_slice(chunk);
                    bytes.extend(end.bytes());
                }
                let last = format!("0{extension}{end}");
                encoded.chunks.push((last.len(), 0));
                bytes.extend(last.bytes());
                let start = bytes.len();
                for (name, value) in &self.trailers {
                    bytes.extend(format!("{name}: {value}{end}").bytes());
                }
                bytes.extend(end.bytes());
                encoded.trailers = bytes.len() - start;
            }
        }
        encoded
    }

    /// What a reader with `limits` must make of this answer: its caps applied in the order the
    /// bytes come.
    fn expected_within(&self, limits: Limits) -> Result<Response, ResponseError> {
        let encoded = self.encode();
        let Limits { max_head, max_body } = limits;
        if encoded.head > max_head {
            return Err(ResponseError::HeadTooLong { limit: max_head });
        }
        let no_body = self.status == 204 || self.status == 304;
        if !no_body && self.framing != Framing::Chunked && self.body.len() > max_body {
            return Err(ResponseError::BodyTooLong { limit: max_body });
        }
        let mut data = 0;
        for (line, size) in encoded.chunks {
            if line > max_head {
                return Err(ResponseError::ChunkLineTooLong { limit: max_head });
            }
            data += size;
            if data > max_body {
                return Err(ResponseError::BodyTooLong { limit: max_body });
            }
        }
        if encoded.trailers > max_head {
            return Err(ResponseError::HeadTooLong { limit: max_head });
        }
        Ok(self.expected())
    }

    fn expected(&self) -> Response {
        let no_body = self.status == 204 || self.status == 304;
        let persistent = if self.http_10 {
            self.connection == Some("keep-alive")
        } else {
            self.connection != Some("close")
        };
        Response {
            status: self.status,
            keep_alive: persistent && (no_body || self.framing != Framing::UntilClose),
            retry_after: self
                .retry_after
                .map(|s| RetryAfter::Seconds(s.min(MAX_RETRY_AFTER_S))),
            body: if no_body { Vec::new() } else { self.body.clone() },
            json: self
                .content_type
                .is_some_and(|t| t.starts_with("application/json")),
        }
    }
}

fn header() -> impl Strategy<Value = (String, String)> {
    ("X-[A-Za-z0-9-]{1,12}", "[!-~]([ -~]{0,30}[!-~])?")
}

fn answer() -> impl Strategy<Value = Answer> {
    (
        (
            prop::collection::vec(prop::sample::select(vec![100u16, 102, 103, 199]), 0..3),
            any::<bool>(),
            prop_oneof![
                Just(200u16),
                Just(204),
                Just(304),
                Just(400),
                Just(413),
                Just(429),
                200..600u16
            ],
            prop::collection::vec(header(), 0..6),
            prop::option::of(prop::sample::select(vec!["close", "keep-alive"])),
            prop::option::of(prop_oneof![0..1000u64, Just(u64::MAX)]),
            prop::option::of(prop::sample::select(vec![
                "application/json",
                "application/json; charset=utf-8",
                "text/plain",
            ])),
        ),
        (
            prop::collection::vec(any::<u8>(), 0..400),
            prop::sample::select(vec![Framing::Length, Framing::Chunked, Framing::UntilClose]),
            prop::collection::vec(any::<usize>(), 0..6),
            prop::option::of("[a-z ]{0,60}"),
            prop::collection::vec(header(), 0..3),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (interim, http_10, status, headers, connection, retry_after, content_type),
                (body, framing, chunk_cuts, extension, trailers, bare_lf),
            )| {
                // HTTP/1.0 has no chunked coding; 204 and 304 end at their head.
                let framing = match framing {
                    Framing::Chunked if http_10 => Framing::Length,
                    Framing::Chunked | Framing::UntilClose if status == 204 || status == 304 => {
                        Framing::Length
                    }
                    other => other,
                };
                Answer {
                    interim,
                    http_10,
                    status,
                    headers,
                    connection,
                    retry_after,
                    content_type,
                    body,
                    framing,
                    chunk_cuts,
                    extension,
                    trailers,
                    bare_lf,
                }
            },
        )
}

/// Valid answers with bytes changed, inserted, removed or cut off: near misses reach deeper
/// states than plain noise.
fn damaged() -> impl Strategy<Value = Vec<u8>> {
    (
        answer(),
        prop::collection::vec((any::<usize>(), any::<u8>(), 0..4u8), 1..6),
        any::<usize>(),
    )
        .prop_map(|(answer, edits, keep)| {
            let mut bytes = answer.bytes();
            for (at, byte, kind) in edits {
                let at = at % (bytes.len() + 1);
                match kind {
                    0 if at < bytes.len() => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    2 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, [b'\r', b'\n', b'0', b':'][usize::from(byte) % 4]),
                }
            }
            bytes.truncate(keep % (bytes.len() + 1) + bytes.len() / 2);
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn valid_answers_read_the_same_in_any_pieces(answer in answer(), cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        let bytes = answer.bytes();
        let outcome = assert_same_as_whole(Limits::default(), &bytes, &cuts);
        prop_assert_eq!(outcome.result, Ok(answer.expected()));
    }

    #[test]
    fn valid_answers_past_a_cap_are_refused_in_any_pieces(answer in answer(), cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        let bytes = answer.bytes();
        for limits in [Limits { max_head: 64, max_body: 100 }, Limits { max_head: 12, max_body: 300 }] {
            let outcome = assert_same_as_whole(limits, &bytes, &cuts);
            prop_assert_eq!(outcome.result, answer.expected_within(limits));
        }
    }

    #[test]
    fn damaged_answers_never_panic_and_read_the_same_in_any_pieces(bytes in damaged(), cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        assert_same_as_whole(Limits::default(), &bytes, &cuts);
        assert_same_as_whole(Limits { max_head: 48, max_body: 64 }, &bytes, &cuts);
    }

    #[test]
    fn noise_never_panics_and_stays_within_the_caps(bytes in prop::collection::vec(any::<u8>(), 0..2000), cuts in prop::collection::vec(any::<usize>(), 0..20)) {
        assert_same_as_whole(Limits::default(), &bytes, &cuts);
        assert_same_as_whole(Limits { max_head: 16, max_body: 16 }, &bytes, &cuts);
        assert_same_as_whole(Limits { max_head: 5, max_body: 5 }, &bytes, &cuts);
        let mut prefixed = b"HTTP/1.1 200 OK\r\n".to_vec();
        prefixed.extend_from_slice(&bytes);
        assert_same_as_whole(Limits { max_head: 100, max_body: 100 }, &prefixed, &cuts);
    }
}

/// Endless streams of each kind end in an error within the caps (plus the framing of the body).
#[test]
fn every_endless_stream_is_refused_within_the_caps() {
    let limits = Limits {
        max_head: 512,
        max_body: 2048,
    };
    let streams: [(&[u8], &[u8]); 6] = [
        (b"", b"HTTP/1.1 100 Continue\r\n\r\n"),
        (b"HTTP/1.1 200 OK\r\n", b"X-Header: value\r\n"),
        (b"HTTP/1.1 200 OK\r\nX: ", b"no line end"),
        (b"HTTP/1.1 200 OK\r\n\r\n", b"body until close"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"1\r\nx\r\n",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n",
            b"Trailer: t\r\n",
        ),
    ];
    for (start, repeated) in streams {
        let mut reader = ResponseReader::new(limits);
        let mut fed = start.len();
        let mut result = reader.feed(start);
        while let Ok(Progress::NeedMore) = result {
            result = reader.feed(repeated);
            fed += repeated.len();
            assert!(reader.buffered() <= limits.max_head + limits.max_body);
            // Chunked data pays at most 5 bytes of framing per byte of body.
            assert!(
                fed <= start.len() + limits.max_head + 6 * limits.max_body + repeated.len(),
                "{repeated:?}"
            );
        }
        assert!(result.is_err(), "{repeated:?}: {result:?}");
    }
}
