//! The cockpit's loop, generic over a ratatui [`Backend`], an input stream and a [`Clock`], with
//! the journal and log tail behind a [`Source`] (so tests can script all three).
//!
//! ```text
//! select! { biased;
//!   terminal input                      -> Msg::Key / Msg::Resize   (first: a key beats a flood)
//!   source (journal + log tail, notify) -> Msg::Records / Msg::OutputGrew / Msg::Driver / Msg::Shutdown
//!   frame timer  (armed only while dirty and a frame was drawn less than a budget ago)
//!   1 Hz clock   (armed only while something runs)                                      }
//! ```
//! After each wake everything already queued is drained and applied; a frame is drawn at most
//! once per frame budget. Idle, no timer is armed and the task sleeps until input or a file
//! change.

use std::collections::VecDeque;
use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::task::Poll;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::{Event as TermEvent, KeyEventKind};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::time::{Instant, sleep_until};

use super::app::{BoardRow, Effect, Msg, UiState};
use super::views;
use crate::engine::output::LogParser;
use crate::journal::{ReleaseDir, Tail};

/// Wall-clock time for the views (elapsed times, spinners).
pub trait Clock {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that never moves (tests, snapshots).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Where journal records and run output come from.
pub trait Source {
    /// Wait until something may have changed. Returns messages that need no read (a signal
    /// becomes [`Msg::Shutdown`]); [`Source::poll`] is called right after.
    fn wait(&mut self) -> impl Future<Output = Vec<Msg>>;
    /// Read what is new in the journal (and the driver's liveness) without blocking.
    fn poll(&mut self) -> Vec<Msg>;
    /// Read new output of the followed log straight into `ui.output`, without blocking; one
    /// [`Msg::OutputGrew`] when lines arrived. Called after the journal's messages were applied.
    fn read_output(&mut self, ui: &mut UiState) -> Option<Msg>;
    /// Switch the followed log ([`Effect::FollowLog`]).
    fn follow(&mut self, log: Option<&str>);
}

/// How the loop paces itself.
#[derive(Debug, Clone, Copy)]
pub struct LoopConfig {
    /// At most one draw per this much time.
    pub frame: Duration,
}

impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig {
            frame: Duration::from_millis(16),
        }
    }
}

/// Counters, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopStats {
    pub draws: u64,
    pub wakes: u64,
}

/// Input events that matter, as messages.
fn input_msg(ev: TermEvent) -> Option<Msg> {
    match ev {
        TermEvent::Key(k) if k.kind != KeyEventKind::Release => Some(Msg::Key(k)),
        TermEvent::Resize(w, h) => Some(Msg::Resize(w, h)),
        _ => None,
    }
}

/// Run until the state asks to quit; returns its exit code.
pub async fn run<B, I, S, C>(
    terminal: &mut Terminal<B>,
    input: &mut I,
    source: &mut S,
    clock: &C,
    ui: &mut UiState,
    cfg: LoopConfig,
    stats: &mut LoopStats,
) -> Result<u8, B::Error>
where
    B: Backend,
    I: Stream<Item = io::Result<TermEvent>> + Unpin,
    S: Source,
    C: Clock,
{
    let size = terminal.size()?;
    let mut queue: VecDeque<Msg> = VecDeque::new();
    queue.push_back(Msg::Resize(size.width, size.height));
    queue.extend(source.poll());
    let _ = apply(ui, source, &mut queue);
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let mut next_tick: Option<Instant> = None;
    loop {
        if let Some(code) = ui.quit {
            return Ok(code);
        }
        let now = Instant::now();
        if dirty && last_draw.is_none_or(|t| now >= t + cfg.frame) {
            terminal.draw(|f| views::render(f, ui, clock.now()))?;
            stats.draws += 1;
            last_draw = Some(now);
            dirty = false;
        }
        let draw_at = if dirty {
            last_draw.map(|t| t + cfg.frame)
        } else {
            None
        };
        if ui.needs_clock() {
            next_tick.get_or_insert(now + Duration::from_secs(1));
        } else {
            next_tick = None;
        }
        enum Woke {
            Input(Option<io::Result<TermEvent>>),
            Source(Vec<Msg>),
            Frame,
            Tick,
        }
        let woke = tokio::select! {
            biased;
            ev = input.next() => Woke::Input(ev),
            msgs = source.wait() => Woke::Source(msgs),
            _ = sleep_until(draw_at.unwrap_or(now)), if draw_at.is_some() => Woke::Frame,
            _ = sleep_until(next_tick.unwrap_or(now)), if next_tick.is_some() => Woke::Tick,
        };
        stats.wakes += 1;
        match woke {
            Woke::Input(Some(Ok(ev))) => queue.extend(input_msg(ev)),
            Woke::Input(_) => queue.push_back(Msg::Shutdown),
            Woke::Source(msgs) => {
                queue.extend(msgs);
                queue.extend(source.poll());
            }
            Woke::Frame => {}
            Woke::Tick => {
                next_tick = None;
                queue.push_back(Msg::Tick);
                queue.extend(source.poll());
            }
        }
        // Drain what is already queued: keys first, they are what a person waits for. Polled
        // with this task's own waker: crossterm's EventStream keeps the waker of the poll that
        // found nothing, so a no-op waker (`now_or_never`) would lose the next key's wake-up.
        for _ in 0..1024 {
            let next = std::future::poll_fn(|cx| Poll::Ready(input.poll_next_unpin(cx))).await;
            match next {
                Poll::Ready(Some(Ok(ev))) => queue.extend(input_msg(ev)),
                Poll::Ready(_) => {
                    queue.push_back(Msg::Shutdown);
                    break;
                }
                Poll::Pending => break,
            }
        }
        let queued = !queue.is_empty();
        let (grew, suspend) = apply(ui, source, &mut queue);
        dirty |= queued || grew;
        if suspend {
            super::terminal::suspend().ok();
            // Whatever the shell drew meanwhile is gone from our picture of the screen: clear it
            // and forget the previous frame (`resize` does both without asking the terminal for
            // its cursor position, which `clear` would, racing the input reader for the reply).
            let size = terminal.size()?;
            terminal.resize(ratatui::layout::Rect::new(0, 0, size.width, size.height))?;
            dirty = true;
            last_draw = None;
        }
    }
}

/// Apply queued messages and perform their effects, then take in new output (and apply that).
/// Whether output arrived, and whether a suspend was asked for.
fn apply<S: Source>(ui: &mut UiState, source: &mut S, queue: &mut VecDeque<Msg>) -> (bool, bool) {
    let mut suspend = drain(ui, source, queue);
    match source.read_output(ui) {
        Some(m) => {
            queue.push_back(m);
            suspend |= drain(ui, source, queue);
            (true, suspend)
        }
        None => (false, suspend),
    }
}

fn drain<S: Source>(ui: &mut UiState, source: &mut S, queue: &mut VecDeque<Msg>) -> bool {
    let mut suspend = false;
    while let Some(msg) = queue.pop_front() {
        for fx in ui.update(msg) {
            match fx {
                Effect::FollowLog(log) => source.follow(log.as_deref()),
                Effect::Suspend => suspend = true,
                Effect::Quit(_) => {}
            }
        }
    }
    suspend
}

/// Bytes of log read per poll: a flood is taken in slices so keys and frames get their turn.
const READ_BUDGET: usize = 1024 * 1024;

struct FollowedLog {
    rel: String,
    path: PathBuf,
    file: Option<File>,
    offset: u64,
    parser: LogParser,
    flushed: bool,
}

/// The real source: one release's folder, watched with inotify (through `notify`), its journal
/// tailed with [`Tail`], the selected run's log parsed with [`LogParser`] into the ring; SIGTERM
/// and SIGHUP become [`Msg::Shutdown`].
pub struct ReleaseSource {
    rdir: ReleaseDir,
    tail: Tail,
    log: Option<FollowedLog>,
    rx: tokio::sync::mpsc::Receiver<()>,
    _watcher: Option<notify::RecommendedWatcher>,
    term: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
    driver: Option<Option<u32>>,
    /// The last poll stopped at its read budget: more output is waiting.
    more: bool,
    /// The journal problem last reported.
    problem: Option<String>,
    buf: Vec<u8>,
}

impl ReleaseSource {
    /// Watch `rdir`. Must be called inside a tokio runtime (signals).
    pub fn new(rdir: &ReleaseDir) -> ReleaseSource {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        // Our own reads (opening a log, probing the driver lock) are not changes.
        let watcher = crate::journal::watch_changes(&rdir.path, move || {
            let _ = tx.try_send(());
        });
        use tokio::signal::unix::{SignalKind, signal};
        ReleaseSource {
            rdir: rdir.clone(),
            tail: Tail::new(&rdir.journal()),
            log: None,
            rx,
            _watcher: watcher,
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
            driver: None,
            more: false,
            problem: None,
            buf: vec![0; 64 * 1024],
        }
    }

    fn read_log(&mut self, ui: &mut UiState) -> io::Result<Option<Msg>> {
        self.more = false;
        let Some(f) = self.log.as_mut() else {
            return Ok(None);
        };
        if ui.output.log.as_deref() != Some(f.rel.as_str()) {
            return Ok(None);
        }
        if f.file.is_none() {
            match File::open(&f.path) {
                Ok(file) => f.file = Some(file),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        let file = f.file.as_mut().expect("opened above");
        file.seek(SeekFrom::Start(f.offset))?;
        let mut lines = 0u64;
        let mut read = 0;
        let out = &mut ui.output;
        loop {
            let n = file.read(&mut self.buf)?;
            if n == 0 {
                break;
            }
            f.offset += n as u64;
            read += n;
            f.parser.feed_with(&self.buf[..n], |l| {
                out.push(l);
                lines += 1;
            });
            if read >= READ_BUDGET {
                self.more = true;
                break;
            }
        }
        // A finished run's unterminated last line is shown too.
        let finished = ui.release.stages.iter().flat_map(|s| &s.targets).any(|t| {
            t.attempts
                .iter()
                .chain(&t.rollbacks)
                .any(|a| a.log == f.rel && a.outcome.is_some())
        });
        if finished && !self.more && !f.flushed {
            f.flushed = true;
            f.parser.finish_with(|l| {
                out.push(l);
                lines += 1;
            });
        }
        Ok((lines > 0).then(|| Msg::OutputGrew {
            log: f.rel.clone(),
            lines,
        }))
    }
}

impl Source for ReleaseSource {
    async fn wait(&mut self) -> Vec<Msg> {
        if self.more {
            tokio::task::yield_now().await;
            return Vec::new();
        }
        async fn sig(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = self.rx.recv() => Vec::new(),
            _ = sig(&mut self.term) => vec![Msg::Shutdown],
            _ = sig(&mut self.hup) => vec![Msg::Shutdown],
        }
    }

    fn poll(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        match self.tail.poll() {
            Ok(recs) => {
                if self.problem.take().is_some() {
                    out.push(Msg::Problem(None));
                }
                if !recs.is_empty() {
                    out.push(Msg::Records(recs));
                }
            }
            // Shown, not fatal: the next poll tries again; the journal stays the truth.
            Err(e) => {
                let text = format!("journal: {e}");
                if self.problem.as_deref() != Some(text.as_str()) {
                    self.problem = Some(text.clone());
                    out.push(Msg::Problem(Some(text)));
                }
            }
        }
        let driver = self.rdir.live_driver();
        if self.driver != Some(driver) {
            self.driver = Some(driver);
            out.push(Msg::Driver(driver));
        }
        out
    }

    fn read_output(&mut self, ui: &mut UiState) -> Option<Msg> {
        match self.read_log(ui) {
            Ok(m) => m,
            Err(e) => {
                let text = format!("log: {e}");
                (ui.problem.as_deref() != Some(text.as_str())).then_some(Msg::Problem(Some(text)))
            }
        }
    }

    fn follow(&mut self, log: Option<&str>) {
        self.log = log.map(|rel| FollowedLog {
            rel: rel.to_string(),
            path: self.rdir.path.join(rel),
            file: None,
            offset: 0,
            parser: LogParser::new(super::app::LINE_CAP),
            flushed: false,
        });
        self.more = false;
    }
}

/// The board rows of `plan`'s releases (newest first, at most `max`).
pub fn load_board(store: &crate::journal::Store, plan: &str, max: usize) -> Vec<BoardRow> {
    let Ok(dirs) = store.releases(Some(plan)) else {
        return Vec::new();
    };
    dirs.iter()
        .take(max)
        .filter_map(|d| {
            let (recs, _) = crate::journal::read_journal(&d.journal()).ok()?;
            let st = crate::engine::state::ReleaseState::from_records(&recs);
            Some(BoardRow::of(&st, d.live_driver()))
        })
        .collect()
}
