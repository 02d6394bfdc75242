//! Reading the answer of a write API as its bytes arrive, within fixed bounds.
//!
//! [`ResponseReader`] is an incremental state machine: each call to [`ResponseReader::feed`] looks
//! only at the bytes that just arrived, so a peer that sends one byte at a time costs as much as
//! one that sends everything at once. Everything kept is capped by [`Limits`]: the head (status
//! line, headers, skipped interim answers) by `max_head`, each chunk-size line and the trailers by
//! `max_head` too, and the body by `max_body`. A size that comes from the peer (Content-Length, a
//! chunk size) is checked before any arithmetic on it.
//!
//! ```text
//!            ┌──────────── 1xx (not 101): skipped ────────────┐
//!            ▼                                                │
//!          Head ──blank line──▶ 204/304, Content-Length: 0 ───┼──▶ Done
//!                            ├▶ Length ──remaining 0──────────┼──▶ Done
//!                            ├▶ UntilClose ──closed()─────────┼──▶ Done
//!                            └▶ ChunkSize ─▶ ChunkData ─▶ ChunkDataEnd ─┐
//!                                 ▲  └─size 0─▶ Trailers ─blank line─▶ Done
//!                                 └──────────────────────────────────────┘
//! ```
//! Any refusal moves to a failed state that repeats its error.
//!
//! Line ends: `CRLF`, or a bare `LF` (RFC 9112 §2.2 allows a recipient to accept it), everywhere:
//! in the head, in chunk-size lines, after chunk data and in the trailers. A bare `CR` is refused.
//! The status line and the headers are parsed by `httparse` once the head is complete.

use std::fmt;

use super::date::parse_imf_fixdate;

/// How much of an answer is kept, at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Status line and headers (with any interim `1xx` answers before them); also the bound of
    /// each chunk-size line and of the trailers.
    pub max_head: usize,
    /// The body: write APIs answer with a short message at most.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head: 16 * 1024,
            max_body: 64 * 1024,
        }
    }
}

/// `Retry-After` beyond a day is taken as a day: the delivery rules clamp it further.
pub const MAX_RETRY_AFTER_S: u64 = 86_400;

/// Most header lines in one head: far more than any write API or proxy sends.
const MAX_HEADERS: usize = 64;

/// What every answer starts with, up to the version's minor digit.
const STATUS_PREFIX: &[u8] = b"HTTP/1.";
/// `HTTP/1.x ` is 9 bytes: enough to tell an HTTP/1 answer from anything else.
const STATUS_PREFIX_LEN: usize = 9;

/// Longest cut of a status line quoted in an error.
const STATUS_LINE_CUT: usize = 40;

/// The first allocation of a growing buffer.
const MIN_ALLOCATION: usize = 128;

/// A complete answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The connection may carry the next request.
    pub keep_alive: bool,
    /// `Retry-After`, in either of its forms; `None` when absent or unreadable.
    pub retry_after: Option<RetryAfter>,
    /// The body (the upstream's message, for an error), at most `max_body` bytes.
    pub body: Vec<u8>,
    /// `Content-Type` is `application/json` (with or without parameters).
    pub json: bool,
}

/// `Retry-After` (RFC 9110 §10.2.3): a delay, or a moment given as an HTTP date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Delta-seconds, at most [`MAX_RETRY_AFTER_S`].
    Seconds(u64),
    /// An HTTP date (seconds since the epoch), with the answer's own `Date` when it has one: the
    /// wait is measured on the upstream's clock, so that a clock skew between the hosts does not
    /// stretch or cancel it.
    At { at_s: u64, date_s: Option<u64> },
}

impl RetryAfter {
    /// The seconds to wait, at most [`MAX_RETRY_AFTER_S`]; `now_s` (seconds since the epoch) is
    /// used only for a date in an answer without `Date`. A date in the past means no wait.
    pub fn seconds(self, now_s: u64) -> u64 {
        match self {
            RetryAfter::Seconds(seconds) => seconds,
            RetryAfter::At { at_s, date_s } => at_s
                .saturating_sub(date_s.unwrap_or(now_s))
                .min(MAX_RETRY_AFTER_S),
        }
    }
}

/// Why an answer is refused. The caller closes the connection; the batch stays queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseError {
    /// The head (with any interim answers) or the trailers passed `limit` bytes.
    HeadTooLong { limit: usize },
    /// A chunk-size line, with its extensions, passed `limit` bytes.
    ChunkLineTooLong { limit: usize },
    /// The declared Content-Length, the chunk data or a body read until close passed `limit`.
    BodyTooLong { limit: usize },
    /// Not `HTTP/1.0` or `HTTP/1.1` with a status from 100 to 599: a sanitised cut of the line.
    BadStatusLine(String),
    /// `101 Switching Protocols`, which was never asked for.
    SwitchingProtocols,
    /// The headers do not parse (what the parser found wrong).
    MalformedHead(&'static str),
    /// Content-Length is not a plain number.
    BadContentLength,
    /// Content-Length given twice, equal or not.
    DuplicateContentLength,
    /// Both Content-Length and Transfer-Encoding: an answer that could be framed two ways.
    LengthAndChunked,
    /// A Transfer-Encoding other than a single `chunked`.
    UnsupportedTransferCoding,
    /// Transfer-Encoding in an HTTP/1.0 answer, whose framing cannot be trusted (RFC 9112 §6.1).
    ChunkedInHttp10,
    /// A chunk-size line that is not 1 to 16 hex digits with optional extensions.
    BadChunkLine,
    /// Chunk data not followed by a line end.
    BadChunkEnd,
    /// The trailers do not parse.
    MalformedTrailers(&'static str),
    /// The connection closed before the first byte of an answer (an idle connection the peer shut).
    ClosedBeforeAnswer,
    /// The connection closed in the middle of an answer.
    ClosedEarly,
    /// The answer was already complete: nothing more is read from this reader.
    Finished,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HeadTooLong { limit } => write!(f, "answer headers longer than {limit} bytes"),
            Self::ChunkLineTooLong { limit } => write!(f, "chunk-size line longer than {limit} bytes"),
            Self::BodyTooLong { limit } => write!(f, "answer body longer than {limit} bytes"),
            Self::BadStatusLine(cut) => write!(f, "not an HTTP/1.x status line: \"{cut}\""),
            Self::SwitchingProtocols => f.write_str("unexpected 101 Switching Protocols"),
            Self::MalformedHead(what) => write!(f, "malformed answer headers: {what}"),
            Self::BadContentLength => f.write_str("invalid Content-Length"),
            Self::DuplicateContentLength => f.write_str("Content-Length given more than once"),
            Self::LengthAndChunked => f.write_str("both Content-Length and Transfer-Encoding"),
            Self::UnsupportedTransferCoding => f.write_str("unsupported Transfer-Encoding"),
            Self::ChunkedInHttp10 => f.write_str("Transfer-Encoding in an HTTP/1.0 answer"),
            Self::BadChunkLine => f.write_str("invalid chunk-size line"),
            Self::BadChunkEnd => f.write_str("chunk data not followed by a line end"),
            Self::MalformedTrailers(what) => write!(f, "malformed trailers: {what}"),
            Self::ClosedBeforeAnswer => f.write_str("connection closed before an answer"),
            Self::ClosedEarly => f.write_str("connection closed before the end of the answer"),
            Self::Finished => f.write_str("the answer was already complete"),
        }
    }
}

impl std::error::Error for ResponseError {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    NeedMore,
    Done(Response),
}

#[derive(Debug)]
enum State {
    /// Status line and headers, collected in `line` up to the blank line that ends them.
    Head,
    /// A body of known length.
    Length {
        remaining: usize,
    },
    /// A chunk-size line, collected in `line`.
    ChunkSize,
    ChunkData {
        remaining: usize,
    },
    /// The line end after chunk data; `after_cr` once its `CR` has come.
    ChunkDataEnd {
        after_cr: bool,
    },
    /// The trailer section, collected in `line` up to its blank line.
    Trailers,
    /// A body that ends when the peer closes the connection.
    UntilClose,
    Done,
    Failed(ResponseError),
}

/// What the head of the final answer says, kept while its body arrives.
#[derive(Debug, Clone, Copy)]
struct Head {
    status: u16,
    keep_alive: bool,
    retry_after: Option<RetryAfter>,
    json: bool,
}

enum Step {
    NeedMore,
    Continue,
    Done(Response),
}

/// Reads one answer, fed piece by piece as it arrives. See the module documentation.
#[derive(Debug)]
pub struct ResponseReader {
    limits: Limits,
    state: State,
    /// The head, a chunk-size line or the trailers, as far as they have arrived.
    line: Vec<u8>,
    /// Where the last line in `line` that has not ended starts.
    line_start: usize,
    /// Bytes that `line` may still take in the current state.
    allowance: usize,
    head: Option<Head>,
    body: Vec<u8>,
    received_any: bool,
}

impl ResponseReader {
    pub fn new(limits: Limits) -> ResponseReader {
        ResponseReader {
            limits,
            state: State::Head,
            line: Vec::new(),
            line_start: 0,
            allowance: limits.max_head,
            head: None,
            body: Vec::new(),
            received_any: false,
        }
    }

    /// Feeds the bytes that just arrived. Never rescans bytes already consumed; O(len) per call.
    /// Bytes after a complete answer make it `Done` with `keep_alive = false` (requests are never
    /// pipelined, so such bytes mean the connection cannot be trusted).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Progress, ResponseError> {
        match &self.state {
            State::Failed(error) => return Err(error.clone()),
            State::Done => return Err(ResponseError::Finished),
            _ => {}
        }
        self.received_any |= !bytes.is_empty();
        let mut input = bytes;
        match self.advance(&mut input) {
            Ok(None) => Ok(Progress::NeedMore),
            Ok(Some(mut response)) => {
                if !input.is_empty() {
                    response.keep_alive = false;
                }
                Ok(Progress::Done(response))
            }
            Err(error) => Err(self.fail(error)),
        }
    }

    /// The peer closed the connection (recv returned 0): finishes a close-delimited body, or errors.
    pub fn closed(&mut self) -> Result<Response, ResponseError> {
        let error = match &self.state {
            State::UntilClose => {
                let mut response = self.finish();
                response.keep_alive = false;
                return Ok(response);
            }
            State::Failed(error) => return Err(error.clone()),
            State::Done => ResponseError::Finished,
            State::Head if !self.received_any => ResponseError::ClosedBeforeAnswer,
            _ => ResponseError::ClosedEarly,
        };
        Err(self.fail(error))
    }

    /// Bytes held (allocated) for the answer so far: at most `max_head + max_body`.
    pub fn buffered(&self) -> usize {
        self.line.capacity().saturating_add(self.body.capacity())
    }

    fn fail(&mut self, error: ResponseError) -> ResponseError {
        self.line = Vec::new();
        self.body = Vec::new();
        self.state = State::Failed(error.clone());
        error
    }

    fn advance(&mut self, input: &mut &[u8]) -> Result<Option<Response>, ResponseError> {
        loop {
            let step = match self.state {
                State::Head => self.read_head(input)?,
                State::Length { remaining } => self.read_length_body(input, remaining),
                State::ChunkSize => self.read_chunk_size(input)?,
                State::ChunkData { remaining } => self.read_chunk_data(input, remaining)?,
                State::ChunkDataEnd { after_cr } => self.read_chunk_data_end(input, after_cr)?,
                State::Trailers => self.read_trailers(input)?,
                State::UntilClose => self.read_until_close(input)?,
                // feed() and closed() never advance from these.
                State::Done => return Err(ResponseError::Finished),
                State::Failed(ref error) => return Err(error.clone()),
            };
            match step {
                Step::NeedMore => return Ok(None),
                Step::Continue => {}
                Step::Done(response) => return Ok(Some(response)),
            }
        }
    }

    fn read_head(&mut self, input: &mut &[u8]) -> Result<Step, ResponseError> {
        let limit = self.limits.max_head;
        if !self.take_lines(input, ResponseError::HeadTooLong { limit }, true)? {
            return Ok(Step::NeedMore);
        }
        let head = parse_head(&self.line)?;
        self.line.clear();
        self.line_start = 0;
        let Some(head) = head else {
            // An interim answer: the real one follows, within what is left of the allowance.
            return Ok(Step::Continue);
        };
        self.head = Some(head.summary);
        if head.status == 204 || head.status == 304 {
            return Ok(Step::Done(self.finish()));
        }
        match head.framing {
            Framing::Chunked => self.start_chunk_line(),
            Framing::Length(length) => {
                let length = usize::try_from(length)
                    .ok()
                    .filter(|&n| n <= self.limits.max_body)
                    .ok_or(ResponseError::BodyTooLong {
                        limit: self.limits.max_body,
                    })?;
                if length == 0 {
                    return Ok(Step::Done(self.finish()));
                }
                // The whole body is announced and within the cap: one allocation.
                self.body.reserve_exact(length);
                self.state = State::Length { remaining: length };
            }
            Framing::UntilClose => self.state = State::UntilClose,
        }
        Ok(Step::Continue)
    }

    fn read_length_body(&mut self, input: &mut &[u8], remaining: usize) -> Step {
        let (data, rest) = split_at_most(input, remaining);
        // Within the reservation made from the checked length.
        self.body.extend_from_slice(data);
        *input = rest;
        let remaining = remaining.saturating_sub(data.len());
        if remaining == 0 {
            return Step::Done(self.finish());
        }
        self.state = State::Length { remaining };
        Step::NeedMore
    }

    fn read_chunk_size(&mut self, input: &mut &[u8]) -> Result<Step, ResponseError> {
        let limit = self.limits.max_head;
        if !self.take_lines(input, ResponseError::ChunkLineTooLong { limit }, false)? {
            return Ok(Step::NeedMore);
        }
        let size = parse_chunk_size_line(&self.line)?;
        self.line.clear();
        self.line_start = 0;
        let room = self.limits.max_body.saturating_sub(self.body.len());
        let size = usize::try_from(size)
            .ok()
            .filter(|&n| n <= room)
            .ok_or(ResponseError::BodyTooLong {
                limit: self.limits.max_body,
            })?;
        if size == 0 {
            self.allowance = self.limits.max_head;
            self.state = State::Trailers;
        } else {
            self.state = State::ChunkData { remaining: size };
        }
        Ok(Step::Continue)
    }

    fn read_chunk_data(&mut self, input: &mut &[u8], remaining: usize) -> Result<Step, ResponseError> {
        let (data, rest) = split_at_most(input, remaining);
        if !extend_capped(&mut self.body, data, self.limits.max_body) {
            // The chunk size was checked against the room left, so this cannot happen.
            return Err(ResponseError::BodyTooLong {
                limit: self.limits.max_body,
            });
        }
        *input = rest;
        let remaining = remaining.saturating_sub(data.len());
        if remaining == 0 {
            self.state = State::ChunkDataEnd { after_cr: false };
            return Ok(Step::Continue);
        }
        self.state = State::ChunkData { remaining };
        Ok(Step::NeedMore)
    }

    fn read_chunk_data_end(&mut self, input: &mut &[u8], after_cr: bool) -> Result<Step, ResponseError> {
        let Some((&byte, rest)) = input.split_first() else {
            return Ok(Step::NeedMore);
        };
        *input = rest;
        match byte {
            b'\r' if !after_cr => self.state = State::ChunkDataEnd { after_cr: true },
            b'\n' => self.start_chunk_line(),
            _ => return Err(ResponseError::BadChunkEnd),
        }
        Ok(Step::Continue)
    }

    fn read_trailers(&mut self, input: &mut &[u8]) -> Result<Step, ResponseError> {
        let limit = self.limits.max_head;
        if !self.take_lines(input, ResponseError::HeadTooLong { limit }, true)? {
            return Ok(Step::NeedMore);
        }
        // Trailers are checked, then ignored: none of them may change the framing or the status.
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        match httparse::parse_headers(&self.line, &mut fields) {
            Ok(httparse::Status::Complete((length, _))) if length == self.line.len() => {
                Ok(Step::Done(self.finish()))
            }
            Ok(_) => Err(ResponseError::MalformedTrailers("they end early")),
            Err(error) => Err(ResponseError::MalformedTrailers(describe(error))),
        }
    }

    fn read_until_close(&mut self, input: &mut &[u8]) -> Result<Step, ResponseError> {
        if !extend_capped(&mut self.body, input, self.limits.max_body) {
            return Err(ResponseError::BodyTooLong {
                limit: self.limits.max_body,
            });
        }
        *input = &[];
        Ok(Step::NeedMore)
    }

    fn start_chunk_line(&mut self) {
        self.allowance = self.limits.max_head;
        self.state = State::ChunkSize;
    }

    /// Moves whole lines from `input` into `line`, within the allowance, until one ends
    /// (`until_blank` false) or a blank line ends a section (`until_blank` true). `Ok(true)` when
    /// done; the bytes after it stay in `input`.
    fn take_lines(
        &mut self,
        input: &mut &[u8],
        too_long: ResponseError,
        until_blank: bool,
    ) -> Result<bool, ResponseError> {
        loop {
            let end = input.iter().position(|&b| b == b'\n');
            let (part, rest) = match end {
                Some(at) => split_at_most(input, at.saturating_add(1)),
                None => (*input, &[][..]),
            };
            // Errors come in the order of the bytes that cause them, so that they do not depend
            // on how the bytes were cut: the allowance can run out before the 9th byte.
            let past_allowance = self.line.len().saturating_add(self.allowance);
            let prefix_first = part.len() <= self.allowance || past_allowance >= STATUS_PREFIX_LEN;
            if matches!(self.state, State::Head) && prefix_first {
                check_status_prefix(&self.line, part)?;
            }
            if part.len() > self.allowance || !extend_capped(&mut self.line, part, self.limits.max_head) {
                return Err(too_long);
            }
            self.allowance -= part.len();
            *input = rest;
            if end.is_none() {
                return Ok(false);
            }
            let line = self.line.get(self.line_start..).unwrap_or_default();
            let blank = matches!(line, b"\n" | b"\r\n");
            self.line_start = self.line.len();
            if !until_blank || blank {
                return Ok(true);
            }
        }
    }

    /// The answer, and the reader emptied.
    fn finish(&mut self) -> Response {
        self.state = State::Done;
        self.line = Vec::new();
        let head = self.head.unwrap_or(Head {
            status: 0,
            keep_alive: false,
            retry_after: None,
            json: false,
        });
        Response {
            status: head.status,
            keep_alive: head.keep_alive,
            retry_after: head.retry_after,
            body: std::mem::take(&mut self.body),
            json: head.json,
        }
    }
}

/// How the body of an answer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

struct ParsedHead {
    status: u16,
    framing: Framing,
    summary: Head,
}

/// Parses a complete head (up to and with its blank line). `Ok(None)` for an interim answer.
fn parse_head(bytes: &[u8]) -> Result<Option<ParsedHead>, ResponseError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut answer = httparse::Response::new(&mut fields);
    match answer.parse(bytes) {
        Ok(httparse::Status::Complete(length)) if length == bytes.len() => {}
        Ok(_) => return Err(ResponseError::MalformedHead("the head ends early")),
        Err(httparse::Error::Status | httparse::Error::Version) => return Err(bad_status_line(bytes)),
        Err(error) => return Err(ResponseError::MalformedHead(describe(error))),
    }
    let (Some(version), Some(status)) = (answer.version, answer.code) else {
        return Err(bad_status_line(bytes));
    };
    match status {
        101 => return Err(ResponseError::SwitchingProtocols),
        100..=199 => return Ok(None),
        200..=599 => {}
        _ => return Err(bad_status_line(bytes)),
    }
    let http_10 = version == 0;
    let mut length = None;
    let mut chunked = false;
    let (mut close, mut keep_alive_option) = (false, false);
    let mut retry_after = None;
    let mut date_s = None;
    let mut json = false;
    for field in answer.headers.iter() {
        let value = trim(field.value);
        let name = field.name;
        if name.eq_ignore_ascii_case("content-length") {
            if length.is_some() {
                return Err(ResponseError::DuplicateContentLength);
            }
            length = Some(parse_content_length(value)?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            for coding in value.split(|&b| b == b',').map(trim).filter(|c| !c.is_empty()) {
                if chunked || !coding.eq_ignore_ascii_case(b"chunked") {
                    return Err(ResponseError::UnsupportedTransferCoding);
                }
                chunked = true;
            }
            if !chunked {
                return Err(ResponseError::UnsupportedTransferCoding);
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for option in value.split(|&b| b == b',').map(trim) {
                close |= option.eq_ignore_ascii_case(b"close");
                keep_alive_option |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("retry-after") {
            retry_after = parse_retry_after(value);
        } else if name.eq_ignore_ascii_case("date") {
            date_s = parse_imf_fixdate(value);
        } else if name.eq_ignore_ascii_case("content-type") {
            let media_type = value.split(|&b| b == b';').next().map(trim).unwrap_or_default();
            json = media_type.eq_ignore_ascii_case(b"application/json");
        }
    }
    let framing = match (length, chunked) {
        (Some(_), true) => return Err(ResponseError::LengthAndChunked),
        (None, true) if http_10 => return Err(ResponseError::ChunkedInHttp10),
        (None, true) => Framing::Chunked,
        (Some(length), false) => Framing::Length(length),
        (None, false) => Framing::UntilClose,
    };
    let persistent = if http_10 { keep_alive_option } else { true };
    let no_body = status == 204 || status == 304;
    Ok(Some(ParsedHead {
        status,
        framing,
        summary: Head {
            status,
            keep_alive: persistent && !close && (no_body || framing != Framing::UntilClose),
            retry_after: retry_after.map(|r| match r {
                RetryAfter::At { at_s, .. } => RetryAfter::At { at_s, date_s },
                seconds => seconds,
            }),
            json,
        },
    }))
}

/// Digits only; a value too large for u64 is surely too large for the body cap.
fn parse_content_length(value: &[u8]) -> Result<u64, ResponseError> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(ResponseError::BadContentLength);
    }
    Ok(value
        .iter()
        .try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
        .unwrap_or(u64::MAX))
}

/// Delta-seconds, or an IMF-fixdate (its `Date` is filled in by the caller); anything else gives
/// `None`.
fn parse_retry_after(value: &[u8]) -> Option<RetryAfter> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        let at_s = parse_imf_fixdate(value)?;
        return Some(RetryAfter::At { at_s, date_s: None });
    }
    let seconds = value
        .iter()
        .try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')));
    Some(RetryAfter::Seconds(
        seconds.unwrap_or(u64::MAX).min(MAX_RETRY_AFTER_S),
    ))
}

/// `1*16HEXDIG [BWS] [";" extensions] [CR] LF`: the size, checked for overflow.
fn parse_chunk_size_line(line: &[u8]) -> Result<u64, ResponseError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (size, extensions) = match line.iter().position(|&b| b == b';') {
        Some(at) => split_at_most(line, at),
        None => (line, &[][..]),
    };
    let size = trim_end(size);
    let control = |&b: &u8| (b < b' ' && b != b'\t') || b == 0x7f;
    if size.is_empty() || size.len() > 16 || extensions.iter().any(control) {
        return Err(ResponseError::BadChunkLine);
    }
    size.iter().try_fold(0u64, |n, &b| {
        let digit = char::from(b).to_digit(16).ok_or(ResponseError::BadChunkLine)?;
        n.checked_mul(16)
            .and_then(|n| n.checked_add(u64::from(digit)))
            .ok_or(ResponseError::BadChunkLine)
    })
}

/// Refuses, from its first 9 bytes, a head that is not HTTP/1.0 or HTTP/1.1, before reading on.
/// `head` holds what came before `part`; the check is made when the two together first reach
/// 9 bytes, so it gives the same answer however the bytes are cut.
fn check_status_prefix(head: &[u8], part: &[u8]) -> Result<(), ResponseError> {
    if head.len() >= STATUS_PREFIX_LEN || head.len().saturating_add(part.len()) < STATUS_PREFIX_LEN {
        return Ok(());
    }
    let mut first = [0u8; STATUS_PREFIX_LEN];
    for (slot, &byte) in first.iter_mut().zip(head.iter().chain(part)) {
        *slot = byte;
    }
    match first.split_at(STATUS_PREFIX.len()) {
        (prefix, [b'0' | b'1', b' ']) if prefix == STATUS_PREFIX => Ok(()),
        _ => Err(ResponseError::BadStatusLine(sanitised(&first))),
    }
}

fn bad_status_line(head: &[u8]) -> ResponseError {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    ResponseError::BadStatusLine(sanitised(line.get(..STATUS_LINE_CUT).unwrap_or(line)))
}

/// Printable ASCII kept, anything else shown as `?`: a peer's bytes cannot reach the log raw.
fn sanitised(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b == b' ' || b.is_ascii_graphic() && b != b'"' && b != b'\\' {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

fn describe(error: httparse::Error) -> &'static str {
    match error {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line end",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many header lines",
        httparse::Error::Version => "invalid HTTP version",
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    trim_end(bytes.get(start..).unwrap_or_default())
}

/// Optional white space is spaces and tabs only (RFC 9110 §5.6.3).
fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |at| at.saturating_add(1));
    bytes.get(..end).unwrap_or_default()
}

/// The first `n` bytes (or all, when fewer) and the rest.
fn split_at_most(bytes: &[u8], n: usize) -> (&[u8], &[u8]) {
    bytes.split_at_checked(n).unwrap_or((bytes, &[]))
}

/// Appends `bytes` unless `buf` would then pass `cap`, growing the allocation no further than
/// `cap` (plain doubling could allocate nearly twice the cap).
fn extend_capped(buf: &mut Vec<u8>, bytes: &[u8], cap: usize) -> bool {
    let Some(needed) = buf.len().checked_add(bytes.len()).filter(|&n| n <= cap) else {
        return false;
    };
    if needed > buf.capacity() {
        let grown = buf
            .capacity()
            .saturating_mul(2)
            .max(MIN_ALLOCATION)
            .max(needed)
            .min(cap);
        buf.reserve_exact(grown.saturating_sub(buf.len()));
    }
    buf.extend_from_slice(bytes);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `raw` whole, then tells the reader the connection closed if it still waits.
    fn read_with(limits: Limits, raw: &[u8]) -> Result<Response, ResponseError> {
        let mut reader = ResponseReader::new(limits);
        match reader.feed(raw)? {
            Progress::Done(response) => Ok(response),
            Progress::NeedMore => reader.closed(),
        }
    }

    fn read(raw: &str) -> Result<Response, ResponseError> {
        read_with(Limits::default(), raw.as_bytes())
    }

    fn done(raw: &str) -> Response {
        let mut reader = ResponseReader::new(Limits::default());
        match reader.feed(raw.as_bytes()) {
            Ok(Progress::Done(response)) => response,
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    fn small() -> Limits {
        Limits {
            max_head: 256,
            max_body: 1024,
        }
    }

    #[test]
    fn reads_influxdb_no_content() {
        let r = done(
            "HTTP/1.1 204 No Content\r\nContent-Type: application/json\r\nRequest-Id: 4c6f\r\n\
             X-Influxdb-Build: OSS\r\nX-Influxdb-Version: 1.6.7\r\nDate: Tue, 01 Jul 2025 10:00:00 GMT\r\n\r\n",
        );
        assert_eq!((r.status, r.keep_alive, r.body.as_slice()), (204, true, &b""[..]));
    }

    #[test]
    fn reads_a_json_error_by_length() {
        let body = r#"{"error":"unable to parse 'x': missing fields"}"#;
        let r = done(&format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        assert_eq!((r.status, r.json, r.keep_alive), (400, true, true));
        assert_eq!(r.body, body.as_bytes());
    }

    #[test]
    fn reads_a_chunked_server_error() {
        let r = done(
            "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\
             Content-Type: text/plain\r\n\r\n5\r\nhello\r\n7;name=value\r\n, world\r\n0\r\n\r\n",
        );
        assert_eq!((r.status, r.json, r.keep_alive), (500, false, true));
        assert_eq!(r.body, b"hello, world");
    }

    #[test]
    fn reads_too_large_and_slow_down_answers() {
        let r = done("HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 0\r\n\r\n");
        assert_eq!((r.status, r.body.len()), (413, 0));
        let r = done(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Type: text/plain\r\n\
             Content-Length: 4\r\n\r\nbusy",
        );
        assert_eq!(
            (r.status, r.retry_after, r.body.as_slice()),
            (429, Some(RetryAfter::Seconds(7)), &b"busy"[..])
        );
    }

    #[test]
    fn reads_retry_after_as_delta_seconds_or_a_date() {
        let retry = |value: &str| {
            done(&format!(
                "HTTP/1.1 503 Busy\r\nRetry-After: {value}\r\nContent-Length: 0\r\n\r\n"
            ))
            .retry_after
        };
        let seconds = |value: &str| retry(value).map(|r| r.seconds(0));
        assert_eq!(seconds("0"), Some(0));
        assert_eq!(seconds(" 120 "), Some(120));
        assert_eq!(seconds("-1"), None);
        assert_eq!(seconds("1.5"), None);
        assert_eq!(seconds("86401"), Some(MAX_RETRY_AFTER_S));
        assert_eq!(seconds("99999999999999999999999999"), Some(MAX_RETRY_AFTER_S));
        // A date without the answer's own Date: measured against the caller's clock.
        let date = retry("Fri, 31 Dec 1999 23:59:59 GMT");
        assert_eq!(
            date,
            Some(RetryAfter::At {
                at_s: 946_684_799,
                date_s: None
            })
        );
        let date = date.unwrap();
        assert_eq!(date.seconds(946_684_799 - 30), 30);
        assert_eq!(date.seconds(946_684_799 + 30), 0);
        assert_eq!(date.seconds(0), MAX_RETRY_AFTER_S);
        assert_eq!(retry("Sunday, 06-Nov-94 08:49:37 GMT"), None);
    }

    #[test]
    fn a_retry_date_is_measured_on_the_upstreams_clock() {
        // Date may come before or after Retry-After.
        for head in [
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nRetry-After: Sun, 06 Nov 1994 08:50:07 GMT",
            "Retry-After: Sun, 06 Nov 1994 08:50:07 GMT\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT",
        ] {
            let r = done(&format!(
                "HTTP/1.1 503 Busy\r\n{head}\r\nContent-Length: 0\r\n\r\n"
            ));
            let retry = r.retry_after.unwrap();
            // Whatever this host's clock says.
            for now in [0, 784_111_777, u64::MAX] {
                assert_eq!(retry.seconds(now), 30, "{head}");
            }
        }
        // An unreadable Date is as good as none.
        let r = done(
            "HTTP/1.1 503 Busy\r\nRetry-After: Sun, 06 Nov 1994 08:50:07 GMT\r\nDate: yesterday\r\n\
             Content-Length: 0\r\n\r\n",
        );
        assert_eq!(r.retry_after.unwrap().seconds(784_111_777), 30);
    }

    #[test]
    fn json_means_the_media_type_not_a_prefix_of_it() {
        let json = |value: &str| {
            done(&format!(
                "HTTP/1.1 400 X\r\nContent-Type: {value}\r\nContent-Length: 0\r\n\r\n"
            ))
            .json
        };
        assert!(json("application/json"));
        assert!(json("Application/JSON ; charset=utf-8"));
        assert!(!json("application/jsonl"));
        assert!(!json("text/plain"));
    }

    #[test]
    fn reads_whether_the_connection_stays_open() {
        assert!(done("HTTP/1.1 204 OK\r\n\r\n").keep_alive);
        assert!(!done("HTTP/1.1 204 OK\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!done("HTTP/1.1 204 OK\r\nConnection: Upgrade, Close\r\n\r\n").keep_alive);
        assert!(!done("HTTP/1.0 204 OK\r\n\r\n").keep_alive);
        assert!(done("HTTP/1.0 204 OK\r\nConnection: keep-alive\r\n\r\n").keep_alive);
        let r = read("HTTP/1.1 500 X\r\n\r\nuntil close").unwrap();
        assert_eq!((r.keep_alive, r.body.as_slice()), (false, &b"until close"[..]));
    }

    #[test]
    fn bytes_after_the_answer_close_the_connection() {
        let r = done("HTTP/1.1 204 OK\r\n\r\nHTTP/1.1 204 OK\r\n\r\n");
        assert_eq!((r.status, r.keep_alive), (204, false));
        let mut reader = ResponseReader::new(Limits::default());
        assert!(matches!(
            reader.feed(b"HTTP/1.1 204 OK\r\n\r\n"),
            Ok(Progress::Done(_))
        ));
        assert_eq!(reader.feed(b"x"), Err(ResponseError::Finished));
        assert_eq!(reader.closed(), Err(ResponseError::Finished));
    }

    #[test]
    fn skips_interim_answers() {
        let r = done(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
             HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        );
        assert_eq!((r.status, r.keep_alive), (204, true));
        assert_eq!(
            read("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"),
            Err(ResponseError::SwitchingProtocols)
        );
    }

    #[test]
    fn endless_interim_answers_reach_the_head_cap() {
        let limits = small();
        let mut reader = ResponseReader::new(limits);
        let mut result = Ok(Progress::NeedMore);
        for _ in 0..100 {
            result = reader.feed(b"HTTP/1.1 100 Continue\r\n\r\n");
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(ResponseError::HeadTooLong { limit: 256 }));
    }

    #[test]
    fn refuses_what_is_not_http_1() {
        for bad in [
            "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",
            "HTTP/2 200\r\n\r\n",
            "HTTP/1.2 200 OK\r\n\r\n",
            "HTTP/1.1 abc\r\n\r\n",
            "HTTP/1.1 20 OK\r\n\r\n",
            "HTTP/1.1 099 X\r\n\r\n",
            "HTTP/1.1 600 X\r\n\r\n",
            "HTTP/1.1 999 X\r\n\r\n",
            "HTTP/1.1  200 OK\r\n\r\n",
            "http/1.1 200 OK\r\n\r\n",
            "\r\nHTTP/1.1 200 OK\r\n\r\n",
        ] {
            let error = read(bad).unwrap_err();
            assert!(
                matches!(
                    error,
                    ResponseError::BadStatusLine(_) | ResponseError::MalformedHead(_)
                ),
                "{bad:?}: {error:?}"
            );
        }
    }

    #[test]
    fn refuses_a_foreign_protocol_from_its_first_bytes() {
        let mut reader = ResponseReader::new(Limits::default());
        assert_eq!(reader.feed(b"\x15\x03\x03"), Ok(Progress::NeedMore));
        let error = reader.feed(b"\x00\x02\x02\x50\x00\x00").unwrap_err();
        assert_eq!(error, ResponseError::BadStatusLine("??????P??".into()));
    }

    #[test]
    fn a_head_cap_shorter_than_the_status_prefix_wins_however_the_bytes_are_cut() {
        let limits = Limits {
            max_head: 3,
            max_body: 10,
        };
        let mut whole = ResponseReader::new(limits);
        let mut pieces = ResponseReader::new(limits);
        let too_long = Err(ResponseError::HeadTooLong { limit: 3 });
        assert_eq!(whole.feed(b"SSH-2.0-OpenSSH"), too_long);
        assert_eq!(pieces.feed(b"SSH"), Ok(Progress::NeedMore));
        assert_eq!(pieces.feed(b"-2.0-OpenSSH"), too_long);
    }

    #[test]
    fn error_messages_carry_no_raw_bytes() {
        let error = read("HTTP/1.1 2\x1b[31m00\"\\ OK\r\n\r\n").unwrap_err();
        let message = error.to_string();
        assert!(
            message.bytes().all(|b| b == b' ' || b.is_ascii_graphic()),
            "{message}"
        );
        assert!(!message.contains("\\\""), "{message}");
        let long = format!("HTTP/1.1 2{}\r\n\r\n", "x".repeat(1000));
        let message = read(&long).unwrap_err().to_string();
        assert!(message.len() < 100, "{message}");
    }

    #[test]
    fn refuses_ambiguous_framing() {
        for (raw, error) in [
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                ResponseError::DuplicateContentLength,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab",
                ResponseError::DuplicateContentLength,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nab",
                ResponseError::BadContentLength,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nab",
                ResponseError::BadContentLength,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
                ResponseError::BadContentLength,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                ResponseError::LengthAndChunked,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                ResponseError::UnsupportedTransferCoding,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                ResponseError::UnsupportedTransferCoding,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                ResponseError::UnsupportedTransferCoding,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                ResponseError::UnsupportedTransferCoding,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
                ResponseError::UnsupportedTransferCoding,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n",
                ResponseError::UnsupportedTransferCoding,
            ),
            (
                "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                ResponseError::ChunkedInHttp10,
            ),
        ] {
            assert_eq!(read(raw), Err(error), "{raw:?}");
        }
        assert_eq!(
            done("HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\n1\r\na\r\n0\r\n\r\n").body,
            b"a"
        );
    }

    #[test]
    fn refuses_malformed_headers() {
        for raw in [
            "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\nName : value\r\n\r\n",
            "HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
            "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
            "HTTP/1.1 200 OK\r\nA: b\x00c\r\n\r\n",
        ] {
            assert!(
                matches!(read(raw), Err(ResponseError::MalformedHead(_))),
                "{raw:?}: {:?}",
                read(raw)
            );
        }
        let many: String = (0..MAX_HEADERS + 1).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(
            read(&format!("HTTP/1.1 204 OK\r\n{many}\r\n")),
            Err(ResponseError::MalformedHead("too many header lines"))
        );
    }

    #[test]
    fn accepts_bare_line_feeds() {
        let r = done(
            "HTTP/1.1 200 OK\nContent-Type: application/json\nTransfer-Encoding: chunked\n\n2\nab\n0\n\n",
        );
        assert_eq!((r.status, r.json, r.body.as_slice()), (200, true, &b"ab"[..]));
        let r = done("HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nab");
        assert_eq!(r.body, b"ab");
    }

    #[test]
    fn refuses_bare_carriage_returns_in_chunks() {
        assert_eq!(
            read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\rab\r\n0\r\n\r\n"),
            Err(ResponseError::BadChunkLine)
        );
        assert_eq!(
            read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r0\r\n\r\n"),
            Err(ResponseError::BadChunkEnd)
        );
        assert_eq!(
            read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"),
            Err(ResponseError::BadChunkEnd)
        );
    }

    #[test]
    fn chunk_sizes_are_checked_before_any_arithmetic() {
        let chunked = |size: &str| {
            read(&format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nab\r\n0\r\n\r\n"
            ))
        };
        let too_long = Err(ResponseError::BodyTooLong { limit: 64 * 1024 });
        assert_eq!(chunked("FFFFFFFFFFFFFFFF"), too_long);
        assert_eq!(chunked("ffffffffffffffff;x=1"), too_long);
        assert_eq!(chunked("10001"), too_long);
        assert_eq!(chunked("10000000000000000"), Err(ResponseError::BadChunkLine));
        assert_eq!(chunked("00000000000000002"), Err(ResponseError::BadChunkLine));
        for bad in ["", " 2", "0x2", "-2", "2 3", "g", "2;\x01"] {
            assert_eq!(chunked(bad), Err(ResponseError::BadChunkLine), "{bad:?}");
        }
        assert_eq!(chunked("0000000000000002").map(|r| r.body), Ok(b"ab".to_vec()));
        assert_eq!(chunked("2 \t; a=\"b c\"").map(|r| r.body), Ok(b"ab".to_vec()));
    }

    #[test]
    fn chunk_data_in_all_counts_against_the_body_cap() {
        let limits = small();
        let mut raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        raw.extend(
            b"200\r\n"
                .iter()
                .chain(&[b'x'; 0x200])
                .chain(b"\r\n")
                .cycle()
                .take(3 * (0x200 + 7)),
        );
        assert_eq!(
            read_with(limits, &raw),
            Err(ResponseError::BodyTooLong { limit: 1024 })
        );
    }

    #[test]
    fn declared_length_beyond_the_cap_is_refused_before_the_body() {
        let mut reader = ResponseReader::new(small());
        assert_eq!(
            reader.feed(b"HTTP/1.1 400 X\r\nContent-Length: 1025\r\n\r\n"),
            Err(ResponseError::BodyTooLong { limit: 1024 })
        );
        assert_eq!(
            read("HTTP/1.1 400 X\r\nContent-Length: 99999999999999999999999999\r\n\r\n"),
            Err(ResponseError::BodyTooLong { limit: 64 * 1024 })
        );
        let body = "x".repeat(1024);
        let raw = format!("HTTP/1.1 400 X\r\nContent-Length: 1024\r\n\r\n{body}");
        assert_eq!(read_with(small(), raw.as_bytes()).map(|r| r.body.len()), Ok(1024));
    }

    #[test]
    fn an_endless_body_until_close_stops_at_the_cap() {
        let limits = Limits::default();
        let mut reader = ResponseReader::new(limits);
        assert_eq!(reader.feed(b"HTTP/1.1 200 OK\r\n\r\n"), Ok(Progress::NeedMore));
        let block = [b'x'; 4096];
        let mut fed = 0usize;
        let error = loop {
            match reader.feed(&block) {
                Ok(Progress::NeedMore) => fed += block.len(),
                other => break other,
            }
            assert!(reader.buffered() <= limits.max_head + limits.max_body);
        };
        assert_eq!(
            error,
            Err(ResponseError::BodyTooLong {
                limit: limits.max_body
            })
        );
        assert_eq!(fed, limits.max_body);
        assert_eq!(reader.buffered(), 0);
    }

    #[test]
    fn a_head_without_line_end_stops_at_the_cap() {
        let mut reader = ResponseReader::new(Limits::default());
        assert_eq!(
            reader.feed(b"HTTP/1.1 200 OK\r\nX-Long: "),
            Ok(Progress::NeedMore)
        );
        let error = (0..100).map(|_| reader.feed(&[b'a'; 1000])).find(Result::is_err);
        assert_eq!(error, Some(Err(ResponseError::HeadTooLong { limit: 16 * 1024 })));
    }

    #[test]
    fn chunk_lines_and_trailers_have_caps() {
        let limits = small();
        let long_extension = format!("1;{}\r\na\r\n0\r\n\r\n", "e".repeat(300));
        let raw = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{long_extension}");
        assert_eq!(
            read_with(limits, raw.as_bytes()),
            Err(ResponseError::ChunkLineTooLong { limit: 256 })
        );
        let trailers: String = (0..40).map(|i| format!("T-{i}: v\r\n")).collect();
        let raw =
            format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n{trailers}\r\n");
        assert_eq!(
            read_with(limits, raw.as_bytes()),
            Err(ResponseError::HeadTooLong { limit: 256 })
        );
        let raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nT: v\r\nU: w\r\n\r\n";
        assert_eq!(
            read_with(limits, raw.as_bytes()).map(|r| r.body),
            Ok(b"a".to_vec())
        );
        let raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nbad trailer\r\n\r\n";
        assert!(matches!(
            read_with(limits, raw.as_bytes()),
            Err(ResponseError::MalformedTrailers(_))
        ));
    }

    #[test]
    fn endless_one_byte_chunks_fed_byte_by_byte_cost_linear_time() {
        let limits = Limits::default();
        let mut reader = ResponseReader::new(limits);
        assert_eq!(
            reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Ok(Progress::NeedMore)
        );
        let started = std::time::Instant::now();
        let mut fed = 0usize;
        let error = 'feeding: loop {
            for &byte in b"1\r\nx\r\n" {
                fed += 1;
                if let Err(error) = reader.feed(&[byte]) {
                    break 'feeding error;
                }
            }
        };
        assert_eq!(
            error,
            ResponseError::BodyTooLong {
                limit: limits.max_body
            }
        );
        // 64 Ki chunks of 6 bytes, then the size line of one too many; a reader that parsed
        // everything again after each byte would take minutes here.
        assert_eq!(fed, limits.max_body * 6 + 3);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_close_ends_only_a_body_that_waits_for_it() {
        let mut reader = ResponseReader::new(Limits::default());
        assert_eq!(reader.closed(), Err(ResponseError::ClosedBeforeAnswer));
        for partial in [
            "HTTP/1.1 204 No",
            "HTTP/1.1 400 X\r\nContent-Length: 10\r\n\r\nabc",
            "HTTP/1.1 400 X\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
            "HTTP/1.1 400 X\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
        ] {
            assert_eq!(read(partial), Err(ResponseError::ClosedEarly), "{partial:?}");
        }
        let r = read("HTTP/1.0 500 X\r\n\r\nuntil close").unwrap();
        assert_eq!(
            (r.status, r.keep_alive, r.body.as_slice()),
            (500, false, &b"until close"[..])
        );
    }

    #[test]
    fn a_refused_answer_stays_refused() {
        let mut reader = ResponseReader::new(Limits::default());
        let error = reader.feed(b"HTTP/9 200 OK\r\n\r\n").unwrap_err();
        assert_eq!(reader.feed(b"HTTP/1.1 204 OK\r\n\r\n"), Err(error.clone()));
        assert_eq!(reader.closed(), Err(error));
        assert_eq!(reader.buffered(), 0);
    }

    #[test]
    fn buffers_stay_within_the_caps() {
        // Growth by doubling would allocate 2048 for a 1025..=2048 byte body: never past the cap.
        let limits = Limits {
            max_head: 1000,
            max_body: 1500,
        };
        let mut reader = ResponseReader::new(limits);
        reader.feed(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
        for _ in 0..1500 {
            reader.feed(b"x").unwrap();
            assert!(reader.buffered() <= 1000 + 1500, "{}", reader.buffered());
        }
        assert!(reader.feed(b"x").is_err());
    }
}
