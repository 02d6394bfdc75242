//! `PendingLines` against a naive model (a queue of lines, the front one possibly cut by a
//! consume), over random sequences of pushes, batches and consumes.

use std::collections::VecDeque;

use analytics_core::pending::{BufferFull, PendingLines};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Push(Vec<u8>),
    PushWith(Vec<u8>),
    PushNothing,
    Batch { max_bytes: usize, max_lines: usize },
    ConsumeBatch { max_bytes: usize, max_lines: usize },
    Consume(usize),
    LinesInFront(usize),
}

/// The lines still pending, each with what is left of it.
struct Model {
    lines: VecDeque<Vec<u8>>,
    limit: usize,
}

impl Model {
    fn len(&self) -> usize {
        self.lines.iter().map(Vec::len).sum()
    }

    fn push(&mut self, line: &[u8]) -> Result<(), BufferFull> {
        if self.len() + line.len() > self.limit {
            return Err(BufferFull);
        }
        self.lines.push_back(line.to_vec());
        Ok(())
    }

    fn batch(&self, max_bytes: usize, max_lines: usize) -> Vec<u8> {
        let mut batch = Vec::new();
        for (taken, line) in self.lines.iter().enumerate() {
            let fits = taken < max_lines && batch.len() + line.len() <= max_bytes;
            if !fits && taken > 0 {
                break;
            }
            batch.extend_from_slice(line);
            if !fits {
                break;
            }
        }
        batch
    }

    fn lines_in_front(&self, bytes: usize) -> usize {
        let mut end = 0;
        self.lines
            .iter()
            .take_while(|line| {
                end += line.len();
                end <= bytes
            })
            .count()
    }

    fn consume(&mut self, mut bytes: usize) {
        while let Some(front) = self.lines.front_mut() {
            if bytes >= front.len() {
                bytes -= front.len();
                self.lines.pop_front();
            } else {
                front.drain(..bytes);
                return;
            }
        }
    }
}

fn line() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(b'a'..=b'z', 0..30).prop_map(|mut line| {
        line.push(b'\n');
        line
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => line().prop_map(Op::Push),
        2 => line().prop_map(Op::PushWith),
        1 => Just(Op::PushNothing),
        2 => (0..200usize, 0..20usize).prop_map(|(max_bytes, max_lines)| Op::Batch { max_bytes, max_lines }),
        3 => (0..200usize, 0..20usize).prop_map(|(max_bytes, max_lines)| Op::ConsumeBatch { max_bytes, max_lines }),
        1 => (0..300usize).prop_map(Op::Consume),
        1 => (0..300usize).prop_map(Op::LinesInFront),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn behaves_as_a_queue_of_lines(limit in 0..400usize, ops in prop::collection::vec(op(), 0..300)) {
        let mut pending = PendingLines::new(limit);
        let mut model = Model { lines: VecDeque::new(), limit };
        for op in ops {
            match op {
                Op::Push(line) => prop_assert_eq!(pending.push(&line), model.push(&line)),
                Op::PushWith(line) => {
                    prop_assert_eq!(pending.push_with(|b| b.extend_from_slice(&line)), model.push(&line))
                }
                Op::PushNothing => prop_assert_eq!(pending.push_with(|_| {}), Ok(())),
                Op::Batch { max_bytes, max_lines } => {
                    prop_assert_eq!(pending.next_batch(max_bytes, max_lines), model.batch(max_bytes, max_lines));
                }
                Op::ConsumeBatch { max_bytes, max_lines } => {
                    let batch = pending.next_batch(max_bytes, max_lines).len();
                    prop_assert_eq!(pending.lines_in_front(batch), model.lines_in_front(batch));
                    pending.consume(batch);
                    model.consume(batch);
                }
                Op::Consume(bytes) => {
                    pending.consume(bytes);
                    model.consume(bytes);
                }
                Op::LinesInFront(bytes) => prop_assert_eq!(pending.lines_in_front(bytes), model.lines_in_front(bytes)),
            }
            prop_assert_eq!(pending.len(), model.len());
            prop_assert_eq!(pending.line_count(), model.lines.len());
            prop_assert_eq!(pending.is_empty(), model.lines.is_empty());
            let everything: Vec<u8> = model.lines.iter().flatten().copied().collect();
            prop_assert_eq!(pending.next_batch(usize::MAX, usize::MAX), everything);
        }
    }
}
