//! The output panes' state and their part of the reducer.
//!
//! Each pane holds a bounded ring of its run's last [`RING_LINES`] lines (the loop's tail pushes
//! them straight in, see [`super::app`]), a window of older lines read back from the log file on
//! demand, its follow/scroll position, its search and its display switches. Pane 0
//! (`UiState::output`) follows the selected stage/target; `+` adds panes pinned to the run
//! selected then (`UiState::pinned`, up to [`MAX_PANES`] in all).
//!
//! Positions are global line numbers in the run's log (0 = its first line). `scroll` counts the
//! lines between the bottom of the view and the end of the log, so the view stays on the same
//! lines while new ones arrive. Lines above the ring are asked for with [`Effect::ReadLines`] and
//! arrive as [`Msg::LinesRead`]; a search runs over the whole file off the UI thread
//! ([`Effect::Search`] → [`Msg::SearchDone`]) while lines arriving meanwhile are matched as they
//! are pushed. Everything here is pure: the loop performs the effects.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::ops::Range;

use memchr::memmem;

use crate::runlog::{LineKind, LogLineRef};

/// Lines of a pane's run kept in memory.
pub const RING_LINES: usize = 10_000;
/// Longest line an output pane keeps on screen (bytes); longer ones are cut and marked (the log
/// on disk keeps them whole, see `engine::output::LOG_LINE_CAP`).
pub const SCREEN_LINE_CAP: usize = 4096;
/// Output panes at most.
pub const MAX_PANES: usize = 4;
/// Matches of one search kept (the count then reads "100000+").
pub const MAX_MATCHES: usize = 100_000;
/// Longest text `y` copies (bytes, before base64).
pub const COPY_CAP: usize = 32 * 1024;
/// Lines read back around the view when it is above the ring (at least; more for tall panes).
const READ_WINDOW: u64 = 512;
/// Lines read back at most at once.
const READ_WINDOW_MAX: u64 = 4096;

/// Identifies a pane across effects and messages (indexes shift when a pane closes).
pub type PaneId = u32;

/// One line of run output, raw (parsed into styled text only when visible).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingLine {
    /// Milliseconds since the run started when the line's first bytes were written.
    pub t_ms: u64,
    pub kind: LineKind,
    pub text: Vec<u8>,
    pub truncated: bool,
}

impl RingLine {
    pub fn of(l: LogLineRef<'_>) -> RingLine {
        RingLine {
            t_ms: l.t_ms,
            kind: l.kind,
            text: l.text.to_vec(),
            truncated: l.truncated,
        }
    }
}

/// What a line shows as text, escapes applied and dropped (see [`crate::ansi`]); `None` for a
/// line that looks binary (shown as a notice, never searched or copied).
pub fn visible_text(raw: &[u8]) -> Option<Cow<'_, str>> {
    if crate::ansi::is_probably_binary(raw) {
        return None;
    }
    if crate::ansi::is_plain(raw) {
        // Plain means valid UTF-8.
        return Some(String::from_utf8_lossy(raw));
    }
    Some(Cow::Owned(crate::ansi::parse_line(raw).text))
}

/// A search term. Smart case: a term without capitals matches ASCII letters in either case
/// (other characters match exactly, so byte offsets into the text stay valid); a term with a
/// capital matches exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needle {
    pat: Vec<u8>,
    fold: bool,
}

impl Needle {
    pub fn new(term: &str) -> Needle {
        let fold = !term.chars().any(char::is_uppercase);
        Needle {
            pat: term.as_bytes().to_vec(),
            fold,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pat.is_empty()
    }

    /// A finder for this term (reuse it over many lines).
    pub fn finder(&self) -> memmem::Finder<'_> {
        memmem::Finder::new(&self.pat)
    }

    /// Whether `text` contains the term (`scratch` is reused for case folding).
    pub fn is_match(&self, finder: &memmem::Finder<'_>, text: &str, scratch: &mut Vec<u8>) -> bool {
        if self.pat.is_empty() {
            return false;
        }
        finder.find(self.haystack(text, scratch)).is_some()
    }

    /// Byte ranges of the (non-overlapping) occurrences of the term in `text`.
    pub fn ranges(&self, text: &str) -> Vec<Range<usize>> {
        if self.pat.is_empty() {
            return Vec::new();
        }
        let mut scratch = Vec::new();
        let hay = self.haystack(text, &mut scratch);
        let n = self.pat.len();
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(i) = memmem::find(&hay[at..], &self.pat) {
            out.push(at + i..at + i + n);
            at += i + n;
        }
        out
    }

    fn haystack<'a>(&self, text: &'a str, scratch: &'a mut Vec<u8>) -> &'a [u8] {
        if self.fold && text.bytes().any(|b| b.is_ascii_uppercase()) {
            scratch.clear();
            scratch.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
            scratch
        } else {
            text.as_bytes()
        }
    }
}

/// A pane's search: the matching line numbers of the whole log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub term: String,
    pub needle: Needle,
    /// Identifies the background search whose answer is awaited.
    pub generation: u64,
    /// Lines `0..upto` are searched in the background; later ones as they arrive.
    pub upto: u64,
    /// The background search has ended.
    pub done: bool,
    /// Lines the background search has gone through so far.
    pub searched: u64,
    /// Matching line numbers, ascending.
    pub matches: Vec<u64>,
    /// More than [`MAX_MATCHES`] matched; the rest were not kept.
    pub capped: bool,
    /// Index into `matches` of the match `n`/`N` moved to.
    pub current: Option<usize>,
    /// Why the background search failed.
    pub error: Option<String>,
}

impl Search {
    /// For the pane's title: `/term: match 3/17`, `no match`, `searching…`.
    pub fn status(&self) -> String {
        let count = if self.capped {
            format!("{}+", self.matches.len())
        } else {
            self.matches.len().to_string()
        };
        let searching = match (self.searched * 100).checked_div(self.upto) {
            Some(pct) => format!("searching… {pct}%"),
            None => "searching…".to_string(),
        };
        let what = if let Some(e) = &self.error {
            format!("search failed: {e}")
        } else if !self.done && self.matches.is_empty() {
            searching
        } else if self.matches.is_empty() {
            "no match".to_string()
        } else {
            let more = if self.done {
                String::new()
            } else {
                format!(", {searching}")
            };
            match self.current {
                Some(i) => format!("match {}/{count}{more}", i + 1),
                None => format!("{count} match(es){more}"),
            }
        };
        format!("/{}: {what}", self.term)
    }

    /// Matches found by the background search (all below `upto`, after those it found before)
    /// go before the ones found since among new lines.
    pub(crate) fn add_found(&mut self, found: Vec<u64>) {
        let at = self.matches.partition_point(|&m| m < self.upto);
        let room = MAX_MATCHES.saturating_sub(self.matches.len());
        if found.len() > room {
            self.capped = true;
        }
        let n = found.len().min(room);
        self.matches.splice(at..at, found.into_iter().take(n));
        if let Some(c) = self.current.as_mut()
            && *c >= at
        {
            *c += n;
        }
    }

    /// The line of the current match.
    pub fn current_line(&self) -> Option<u64> {
        self.current.and_then(|i| self.matches.get(i)).copied()
    }
}

/// Older lines read back from the log file: `lines[i]` is line `first + i`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackWindow {
    pub first: u64,
    pub lines: Vec<RingLine>,
}

/// One output pane: its run's output, position, search and display switches.
#[derive(Debug, Clone)]
pub struct OutputPane {
    pub id: PaneId,
    /// Log file (relative to the release folder) the ring holds, if any.
    pub log: Option<String>,
    /// What a pinned pane shows (`deploy/eu-1`); pane 0's title follows the selection.
    pub label: String,
    pub ring: VecDeque<RingLine>,
    /// Lines ever pushed for this log (the ring holds the last of them).
    pub total: u64,
    pub follow: bool,
    /// Lines between the bottom of the view and the end of the log (0 while following).
    pub scroll: usize,
    /// Lines that arrived since the user scrolled up.
    pub unseen: u64,
    /// Lines above the ring, read back for the view.
    pub back: BackWindow,
    /// Lines asked for with [`Effect::ReadLines`] and not answered yet.
    pub reading: Option<Range<u64>>,
    pub search: Option<Search>,
    /// Long lines wrap instead of being cut with `…`.
    pub wrap: bool,
    /// Each line shows when it arrived, relative to the run's start (`+01:02.345`).
    pub timestamps: bool,
    /// How far (percent) the first read of a big log has got, while far from its end.
    pub catching_up: Option<u8>,
}

impl Default for OutputPane {
    fn default() -> Self {
        OutputPane {
            id: 0,
            log: None,
            label: String::new(),
            ring: VecDeque::new(),
            total: 0,
            follow: true,
            scroll: 0,
            unseen: 0,
            back: BackWindow::default(),
            reading: None,
            search: None,
            wrap: false,
            timestamps: false,
            catching_up: None,
        }
    }
}

impl OutputPane {
    /// Take one parsed line into the ring (called by the loop's tail; see the module docs). A
    /// line matching the active search is counted as a match.
    pub fn push(&mut self, line: LogLineRef<'_>) {
        if let Some(s) = &mut self.search
            && !s.capped
            && self.total >= s.upto
            && let Some(text) = visible_text(line.text)
        {
            let mut scratch = Vec::new();
            if s.needle.is_match(&s.needle.finder(), &text, &mut scratch) {
                if s.matches.len() >= MAX_MATCHES {
                    s.capped = true;
                } else {
                    s.matches.push(self.total);
                }
            }
        }
        if self.ring.len() == RING_LINES {
            // Reuse the oldest line's allocation.
            let mut old = self.ring.pop_front().expect("full ring");
            old.text.clear();
            old.text.extend_from_slice(line.text);
            old.t_ms = line.t_ms;
            old.kind = line.kind;
            old.truncated = line.truncated;
            self.ring.push_back(old);
        } else {
            self.ring.push_back(RingLine::of(line));
        }
        self.total += 1;
    }

    /// Start over on another log (display switches kept).
    pub(crate) fn reset(&mut self, log: Option<String>) {
        *self = OutputPane {
            id: self.id,
            log,
            label: std::mem::take(&mut self.label),
            wrap: self.wrap,
            timestamps: self.timestamps,
            ..OutputPane::default()
        };
    }

    /// Number of the first line in the ring.
    pub fn ring_start(&self) -> u64 {
        self.total - self.ring.len() as u64
    }

    /// Line `n` of the log, if it is in memory (ring or read-back window).
    pub fn line(&self, n: u64) -> Option<&RingLine> {
        if n >= self.total {
            return None;
        }
        let start = self.ring_start();
        if n >= start {
            return self.ring.get((n - start) as usize);
        }
        n.checked_sub(self.back.first)
            .and_then(|i| self.back.lines.get(i as usize))
    }

    /// The line at the bottom of the view (`None` for an empty log).
    pub fn bottom(&self) -> Option<u64> {
        (self.total > 0).then(|| self.total - 1 - (self.scroll as u64).min(self.total - 1))
    }

    /// The most `scroll` can be with a view `height` lines tall: the first line at the top (with
    /// wrapping, at the bottom, the view then filling downwards).
    pub(crate) fn max_scroll(&self, height: usize) -> usize {
        let keep = if self.wrap { 1 } else { height.max(1) };
        (self.total as usize).saturating_sub(keep)
    }

    pub(crate) fn scroll_up(&mut self, n: usize, height: usize) {
        self.scroll = (self.scroll + n).min(self.max_scroll(height));
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

    /// `lines` new lines arrived: a scrolled view stays on the same lines.
    pub(crate) fn grew(&mut self, lines: u64, height: usize) {
        if !self.follow {
            self.unseen += lines;
            self.scroll = (self.scroll + lines as usize).min(self.max_scroll(height));
        }
    }

    /// Put line `n` in view (a few lines of context below it) unless it is already visible.
    pub(crate) fn show_line(&mut self, n: u64, height: usize) {
        if n >= self.total {
            return;
        }
        let bottom = self.bottom().unwrap_or(0);
        let h = height.max(1) as u64;
        if n <= bottom && n + h > bottom {
            return;
        }
        let context = (h / 2).min(self.total - 1 - n);
        let scroll = (self.total - 1 - n - context) as usize;
        if scroll == 0 {
            self.follow_end();
        } else {
            self.scroll = scroll.min(self.max_scroll(height));
            self.follow = false;
        }
    }

    /// The read-back the view needs: lines around the bottom that are neither in the ring nor
    /// in the window nor already asked for.
    pub(crate) fn wanted(&self, height: usize) -> Option<Range<u64>> {
        self.log.as_ref()?;
        let bottom = self.bottom()?;
        let start = self.ring_start();
        let h = height.max(1) as u64;
        let lo = bottom.saturating_sub(h);
        let hi = (bottom + h + 1).min(start);
        if lo >= hi {
            return None;
        }
        let covered = |r: &Range<u64>| r.start <= lo && hi <= r.end;
        let window = self.back.first..self.back.first + self.back.lines.len() as u64;
        if covered(&window) || self.reading.as_ref().is_some_and(covered) {
            return None;
        }
        let size = (4 * h).clamp(READ_WINDOW, READ_WINDOW_MAX);
        let mid = (lo + hi) / 2;
        let first = mid.saturating_sub(size / 2);
        let end = (first + size).min(start).max(hi);
        Some(first..end)
    }

    /// The line `y` copies: the current search match, else the line at the bottom of the view.
    pub fn current_line(&self) -> Option<u64> {
        self.search
            .as_ref()
            .and_then(Search::current_line)
            .or_else(|| self.bottom())
    }
}
