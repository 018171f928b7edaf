//! The run-log format: child output → one log file per run (secret masking, bounded line
//! splitting), and reading it back. The writer (`writer.rs`) is the driver's; the reader
//! (`reader.rs`) is every observer's (the headless printer, `logs`, the cockpit), which need
//! nothing else of the engine to read a log.
//!
//! Child output is hostile: it can be endless, binary, one gigantic line, a progress bar that
//! never prints a newline, or a secret the release needs. This module reads each child stream in
//! fixed 64 KiB chunks, splits lines itself (with a length cap), masks secret values and writes
//! one log file per run holding stdout and stderr interleaved as received.
//!
//! # Log format
//!
//! A sequence of records, each terminated by `\n`:
//!
//! | record       | meaning                                                                       |
//! |--------------|-------------------------------------------------------------------------------|
//! | `@<ms>`      | time marker: milliseconds since the run started, written before a record whenever the value differs from the last marker written (a burst of lines shares one marker) |
//! | `o <bytes>`  | one complete stdout line (any bytes except `\n`: `\r`, escapes, invalid UTF-8) |
//! | `e <bytes>`  | one complete stderr line                                                      |
//! | `O <bytes>`  | a fragment of a stdout line that is not finished yet; the line continues with the next `O`/`o` record |
//! | `E <bytes>`  | the same for stderr                                                           |
//! | `# <text>`   | an annotation written by flightdeck itself (`# $ ./deploy.sh`, `# exit 1 after 2.1s`) |
//!
//! Fragments are written when a partial line has waited [`IDLE_FLUSH`] without its newline (so a
//! prompt or a progress bar is on disk quickly) or when it reaches [`LOG_LINE_CAP`] (memory per
//! stream stays bounded and nothing is dropped). A stream that ends without a final newline gets
//! its remainder written as a complete record.
//!
//! Writing: [`pump`] (one per stream) into a shared [`LogWriter`]. Reading: [`LogParser`]
//! (incremental, for observers tailing the file) and [`read_log`] / [`visit_log`].

use std::time::Duration;

mod reader;
mod writer;

pub use crate::mask::Masker;
pub use reader::*;
pub use writer::*;

/// Longest payload of one run-log record on disk (the screen has its own, smaller
/// `tui::output_pane::SCREEN_LINE_CAP`). A line longer than this is written as fragments of at most
/// this many bytes followed by a complete record; a partial line reaching it is flushed.
pub const LOG_LINE_CAP: usize = 64 * 1024;

/// How long a partial line (no newline yet) may wait in memory before it is written as a fragment.
pub const IDLE_FLUSH: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests;
