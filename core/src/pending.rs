//! The bounded buffer of lines waiting for a sink.
//!
//! Memory is bounded by configuration: a line that does not fit is refused (the caller counts it as
//! dropped and logs it), never queued without limit. Lines stay whole: batches are cut only at line
//! ends, so every datagram or write holds complete lines.

#[derive(Debug)]
pub struct PendingLines {
    buf: Vec<u8>,
    /// Lines in `buf`, kept so that delivering the whole buffer needs no scan.
    lines: usize,
    limit: usize,
}

/// A line refused because the buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferFull;

impl PendingLines {
    pub fn new(limit: usize) -> PendingLines {
        PendingLines {
            buf: Vec::new(),
            lines: 0,
            limit,
        }
    }

    /// Appends one complete line (ending in `\n`), or refuses it if it would pass the limit.
    pub fn push(&mut self, line: &[u8]) -> Result<(), BufferFull> {
        debug_assert!(line.ends_with(b"\n"));
        if self.buf.len() + line.len() > self.limit {
            return Err(BufferFull);
        }
        self.buf.extend_from_slice(line);
        self.lines += 1;
        Ok(())
    }

    /// Lets `write` append one complete line straight into the buffer (no copy), and takes it back
    /// out if the buffer then holds more than its limit. The buffer may pass its limit by at most
    /// one line while `write` runs.
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Result<(), BufferFull> {
        let start = self.buf.len();
        write(&mut self.buf);
        debug_assert!(self.buf.len() == start || self.buf.ends_with(b"\n"));
        if self.buf.len() > self.limit {
            self.buf.truncate(start);
            return Err(BufferFull);
        }
        self.lines += usize::from(self.buf.len() > start);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn line_count(&self) -> usize {
        self.lines
    }

    /// How many lines end within the first `bytes` bytes.
    pub fn lines_in_front(&self, bytes: usize) -> usize {
        if bytes >= self.buf.len() {
            return self.lines;
        }
        self.buf[..bytes].iter().filter(|&&b| b == b'\n').count()
    }

    /// The longest run of whole lines from the front that fits in `max_bytes` and `max_lines`; a
    /// single line longer than `max_bytes` is returned alone, so nothing can block the queue.
    pub fn next_batch(&self, max_bytes: usize, max_lines: usize) -> &[u8] {
        if self.lines > max_lines {
            let end = self
                .buf
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .nth(max_lines.max(1) - 1);
            let prefix = &self.buf[..end.map_or(self.buf.len(), |(i, _)| i + 1)];
            return Self::fit(prefix, max_bytes);
        }
        Self::fit(&self.buf, max_bytes)
    }

    fn fit(buf: &[u8], max_bytes: usize) -> &[u8] {
        if buf.len() <= max_bytes {
            return buf;
        }
        match buf[..max_bytes].iter().rposition(|&b| b == b'\n') {
            Some(end) => &buf[..=end],
            None => {
                let end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len() - 1);
                &buf[..=end]
            }
        }
    }

    /// Forgets the first `bytes` bytes, which the sink has delivered.
    pub fn consume(&mut self, bytes: usize) {
        self.lines -= self.lines_in_front(bytes);
        self.buf.drain(..bytes.min(self.buf.len()));
        if self.buf.is_empty() && self.buf.capacity() > self.limit / 4 {
            // Give back a burst's memory once it is delivered.
            self.buf.shrink_to(self.limit / 16);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_lines_beyond_the_limit() {
        let mut p = PendingLines::new(10);
        assert_eq!(p.push(b"abcd\n"), Ok(()));
        assert_eq!(p.push(b"efgh\n"), Ok(()));
        assert_eq!(p.push(b"x\n"), Err(BufferFull));
        assert_eq!(p.len(), 10);
        assert_eq!(p.line_count(), 2);
    }

    #[test]
    fn push_with_writes_in_place_and_takes_back_what_does_not_fit() {
        let mut p = PendingLines::new(8);
        assert_eq!(p.push_with(|b| b.extend_from_slice(b"abcd\n")), Ok(()));
        assert_eq!(p.push_with(|b| b.extend_from_slice(b"efgh\n")), Err(BufferFull));
        assert_eq!(p.next_batch(100, usize::MAX), b"abcd\n");
    }

    #[test]
    fn batches_can_be_limited_by_lines() {
        let mut p = PendingLines::new(100);
        for l in [&b"aaa\n"[..], b"bbb\n", b"ccc\n"] {
            p.push(l).unwrap();
        }
        assert_eq!(p.next_batch(100, 2), b"aaa\nbbb\n");
        assert_eq!(p.next_batch(100, 1), b"aaa\n");
        assert_eq!(p.next_batch(5, 2), b"aaa\n");
        assert_eq!(p.next_batch(100, 3), b"aaa\nbbb\nccc\n");
    }

    #[test]
    fn batches_hold_whole_lines() {
        let mut p = PendingLines::new(100);
        for l in [&b"aaa\n"[..], b"bbb\n", b"ccc\n"] {
            p.push(l).unwrap();
        }
        assert_eq!(p.next_batch(9, usize::MAX), b"aaa\nbbb\n");
        assert_eq!(p.next_batch(8, usize::MAX), b"aaa\nbbb\n");
        assert_eq!(p.next_batch(7, usize::MAX), b"aaa\n");
        assert_eq!(p.next_batch(2, usize::MAX), b"aaa\n");
        assert_eq!(p.next_batch(1000, usize::MAX), b"aaa\nbbb\nccc\n");
        p.consume(4);
        assert_eq!(p.next_batch(100, usize::MAX), b"bbb\nccc\n");
        assert_eq!(p.line_count(), 2);
        assert_eq!(p.lines_in_front(4), 1);
        p.consume(8);
        assert!(p.is_empty());
        assert_eq!(p.line_count(), 0);
    }
}
