//! The output pane's state: a bounded ring of the selected run's lines, follow mode and scroll
//! position. The loop's tail pushes lines straight into it (see [`super::app`]).

use std::collections::VecDeque;

use crate::engine::output::{LineKind, LogLineRef};

/// Lines of the selected run kept in memory.
pub const RING_LINES: usize = 10_000;
/// Longest line kept (bytes); longer ones are cut and marked.
pub const LINE_CAP: usize = 4096;

/// One line of run output, raw (parsed into styled text only when visible).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingLine {
    pub kind: LineKind,
    pub text: Vec<u8>,
    pub truncated: bool,
}

/// The selected run's output: the last [`RING_LINES`] lines, follow mode and scroll position.
#[derive(Debug, Clone)]
pub struct OutputPane {
    /// Log file (relative to the release folder) the ring holds, if any.
    pub log: Option<String>,
    pub ring: VecDeque<RingLine>,
    /// Lines ever pushed for this log (the ring holds the last of them).
    pub total: u64,
    pub follow: bool,
    /// Lines between the bottom of the view and the end of the ring (0 while following).
    pub scroll: usize,
    /// Lines that arrived since the user scrolled up.
    pub unseen: u64,
}

impl Default for OutputPane {
    fn default() -> Self {
        OutputPane {
            log: None,
            ring: VecDeque::new(),
            total: 0,
            follow: true,
            scroll: 0,
            unseen: 0,
        }
    }
}

impl OutputPane {
    /// Take one parsed line into the ring (called by the loop's tail; see the module docs).
    pub fn push(&mut self, line: LogLineRef<'_>) {
        if self.ring.len() == RING_LINES {
            // Reuse the oldest line's allocation.
            let mut old = self.ring.pop_front().expect("full ring");
            old.text.clear();
            old.text.extend_from_slice(line.text);
            old.kind = line.kind;
            old.truncated = line.truncated;
            self.ring.push_back(old);
        } else {
            self.ring.push_back(RingLine {
                kind: line.kind,
                text: line.text.to_vec(),
                truncated: line.truncated,
            });
        }
        self.total += 1;
    }

    pub(crate) fn reset(&mut self, log: Option<String>) {
        *self = OutputPane {
            log,
            ..OutputPane::default()
        };
    }

    pub(crate) fn scroll_up(&mut self, n: usize) {
        let max = self.ring.len().saturating_sub(1);
        self.scroll = (self.scroll + n).min(max);
        if self.scroll > 0 {
            self.follow = false;
        }
    }

    pub(crate) fn scroll_down(&mut self, n: usize) {
        self.scroll = self.scroll.saturating_sub(n);
        if self.scroll == 0 {
            self.follow_end();
        }
    }

    pub(crate) fn follow_end(&mut self) {
        self.follow = true;
        self.scroll = 0;
        self.unseen = 0;
    }
}
