//! The cockpit's loop (test layer 4): a paused tokio clock, a counting backend, scripted input
//! and a fake tail. No draws while idle; at most one draw per frame budget under a flood; a key
//! sent during a flood handled within a frame.

use crate::fixture;

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use flightdeck::journal::Record;
use flightdeck::runlog::{LineKind, LogLineRef};
use flightdeck::tui::app::{Effect, Msg};
use flightdeck::tui::event_loop::{self, FixedClock, LoopConfig, LoopStats, Source};
use flightdeck::tui::state::UiState;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use tokio::time::Instant;

/// A `TestBackend` that records when each frame was flushed.
struct Counting {
    inner: TestBackend,
    flushes: Arc<Mutex<Vec<Instant>>>,
}

impl Backend for Counting {
    type Error = <TestBackend as Backend>::Error;
    fn draw<'a, I: Iterator<Item = (u16, u16, &'a Cell)>>(&mut self, content: I) -> Result<(), Self::Error> {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, p: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(p)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, t: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(t)
    }
    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.flushes.lock().unwrap().push(Instant::now());
        self.inner.flush()
    }
}

enum Batch {
    Lines(usize),
    Records(Vec<Record>),
}

/// A tail fed by the test: records as messages, lines straight into the ring.
struct FakeSource {
    rx: tokio::sync::mpsc::UnboundedReceiver<Batch>,
    records: Vec<Record>,
    lines: usize,
    polls: usize,
}

impl Source for FakeSource {
    async fn wait(&mut self) -> Vec<Msg> {
        match self.rx.recv().await {
            Some(Batch::Lines(n)) => self.lines += n,
            Some(Batch::Records(r)) => self.records.extend(r),
            None => std::future::pending::<()>().await,
        }
        Vec::new()
    }
    fn poll(&mut self) -> Vec<Msg> {
        self.polls += 1;
        if self.records.is_empty() {
            Vec::new()
        } else {
            vec![Msg::Records(std::mem::take(&mut self.records))]
        }
    }
    fn read_output(&mut self, ui: &mut UiState) -> Vec<Msg> {
        if self.lines == 0 {
            return Vec::new();
        }
        let n = std::mem::take(&mut self.lines);
        for i in 0..n {
            let text = format!("\x1b[32mline\x1b[0m {i}");
            ui.output.push(LogLineRef {
                t_ms: 0,
                kind: LineKind::Stdout,
                text: text.as_bytes(),
                truncated: false,
            });
        }
        vec![Msg::OutputGrew {
            pane: 0,
            log: ui.output.log.clone().unwrap_or_default(),
            lines: n as u64,
        }]
    }
    fn follow(&mut self, _pane: u32, _log: Option<&str>) {}
    fn perform(&mut self, _effect: Effect) {}
}

struct Rig {
    term: Terminal<Counting>,
    flushes: Arc<Mutex<Vec<Instant>>>,
    keys: UnboundedSender<io::Result<TermEvent>>,
    input: UnboundedReceiver<io::Result<TermEvent>>,
    feed: tokio::sync::mpsc::UnboundedSender<Batch>,
    source: FakeSource,
    ui: UiState,
}

fn rig(journal: &fixture::Journal) -> Rig {
    let flushes = Arc::new(Mutex::new(Vec::new()));
    let term = Terminal::new(Counting {
        inner: TestBackend::new(160, 40),
        flushes: flushes.clone(),
    })
    .unwrap();
    let (keys, input) = unbounded();
    let (feed, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut ui = fixture::ui(journal, (160, 40));
    ui.output = Default::default();
    Rig {
        term,
        flushes,
        keys,
        input,
        feed,
        source: FakeSource {
            rx,
            records: Vec::new(),
            lines: 0,
            polls: 0,
        },
        ui,
    }
}

fn q() -> io::Result<TermEvent> {
    Ok(TermEvent::Key(KeyEvent::new(
        KeyCode::Char('q'),
        KeyModifiers::NONE,
    )))
}

const FRAME: Duration = Duration::from_millis(16);

async fn run(r: &mut Rig, stats: &mut LoopStats) -> u8 {
    event_loop::run(
        &mut r.term,
        &mut r.input,
        &mut r.source,
        &FixedClock(fixture::now()),
        &mut r.ui,
        LoopConfig { frame: FRAME },
        stats,
    )
    .await
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn no_draw_and_no_wake_while_idle() {
    // A finished release: nothing runs, so no clock is armed.
    let mut r = rig(&fixture::failed());
    let mut stats = LoopStats::default();
    let res = tokio::time::timeout(Duration::from_secs(60), run(&mut r, &mut stats)).await;
    assert!(res.is_err(), "the loop must still be waiting");
    assert_eq!(stats.draws, 1, "only the first frame");
    assert_eq!(stats.wakes, 0, "no timer woke the loop");
    assert_eq!(r.flushes.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn one_wake_per_second_while_a_stage_runs() {
    let mut r = rig(&fixture::mid_run());
    let mut stats = LoopStats::default();
    let res = tokio::time::timeout(Duration::from_secs(60), run(&mut r, &mut stats)).await;
    assert!(res.is_err());
    assert!((59..=61).contains(&stats.wakes), "1 Hz clock: {stats:?}");
    assert!(stats.draws <= 61, "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn a_flood_is_drawn_at_most_once_per_frame_and_keys_get_through() {
    let mut r = rig(&fixture::failed());
    let feed = r.feed.clone();
    let keys = r.keys.clone();
    let start = Instant::now();
    // 100,000 lines in batches of 100, one batch per millisecond of virtual time.
    tokio::spawn(async move {
        for _ in 0..1000 {
            feed.send(Batch::Lines(100)).unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Keep the tail busy after that too.
        loop {
            if feed.send(Batch::Lines(10)).is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    // A key in the middle of the flood.
    let key_at = Duration::from_millis(1500);
    tokio::spawn(async move {
        tokio::time::sleep(key_at).await;
        keys.unbounded_send(q()).unwrap();
    });
    let mut stats = LoopStats::default();
    let code = run(&mut r, &mut stats).await;
    let took = start.elapsed();
    assert_eq!(code, 0);
    assert!(
        took <= key_at + FRAME,
        "the key took {:?} to be handled",
        took - key_at
    );
    assert!(r.ui.output.total >= 100_000, "{}", r.ui.output.total);
    assert_eq!(r.ui.output.ring.len(), flightdeck::tui::output_pane::RING_LINES);
    let flushes = r.flushes.lock().unwrap().clone();
    let budget_max = (took.as_millis() / FRAME.as_millis()) as usize + 1;
    assert!(flushes.len() <= budget_max, "{} draws in {took:?}", flushes.len());
    for w in flushes.windows(2) {
        assert!(w[1] - w[0] >= FRAME, "two draws {:?} apart", w[1] - w[0]);
    }
    // The pane kept advancing: well over 10 frames per second of flood.
    assert!(
        flushes.len() as u128 >= took.as_millis() / 100 * 5,
        "{} draws",
        flushes.len()
    );
}

#[tokio::test(start_paused = true)]
async fn journal_records_arrive_and_exit_when_done_quits() {
    let mut r = rig(&fixture::mid_run());
    r.ui.exit_when_done = true;
    let feed = r.feed.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut j = fixture::Journal::default();
        j.push(
            300,
            "driver",
            flightdeck::event::Event::ReleaseFinished {
                state: flightdeck::event::FinalState::Cancelled,
                reason: String::new(),
            },
        );
        j.records[0].seq = 500;
        feed.send(Batch::Records(j.records)).unwrap();
    });
    let mut stats = LoopStats::default();
    let start = Instant::now();
    let code = run(&mut r, &mut stats).await;
    assert_eq!(code, 130);
    assert!(start.elapsed() < Duration::from_secs(4));
    assert!(r.source.polls >= 2);
}

/// Input that behaves like crossterm's `EventStream`: when nothing is queued it keeps the waker
/// of the first poll that found nothing (until that one is woken) and ignores later ones.
#[derive(Clone, Default)]
struct StickyInput(Arc<Mutex<Sticky>>);

type Sticky = (VecDeque<io::Result<TermEvent>>, Option<std::task::Waker>);

impl StickyInput {
    fn send(&self, ev: io::Result<TermEvent>) {
        let mut g = self.0.lock().unwrap();
        g.0.push_back(ev);
        if let Some(w) = g.1.take() {
            w.wake();
        }
    }
}

impl futures::Stream for StickyInput {
    type Item = io::Result<TermEvent>;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let mut g = self.0.lock().unwrap();
        match g.0.pop_front() {
            Some(ev) => std::task::Poll::Ready(Some(ev)),
            None => {
                if g.1.is_none() {
                    g.1 = Some(cx.waker().clone());
                }
                std::task::Poll::Pending
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn every_key_wakes_the_loop_even_when_nothing_else_does() {
    // A finished release: no clock, no tail activity; only keys can wake the loop.
    let r = rig(&fixture::failed());
    let Rig {
        mut term,
        mut source,
        mut ui,
        ..
    } = r;
    let input = StickyInput::default();
    let keys = input.clone();
    tokio::spawn(async move {
        for c in ['k', '?', 'q'] {
            tokio::time::sleep(Duration::from_millis(200)).await;
            keys.send(Ok(TermEvent::Key(KeyEvent::new(
                KeyCode::Char(c),
                KeyModifiers::NONE,
            ))));
        }
    });
    let mut input = input;
    let mut stats = LoopStats::default();
    let start = Instant::now();
    let code = tokio::time::timeout(
        Duration::from_secs(10),
        event_loop::run(
            &mut term,
            &mut input,
            &mut source,
            &FixedClock(fixture::now()),
            &mut ui,
            LoopConfig { frame: FRAME },
            &mut stats,
        ),
    )
    .await
    .expect("every key reached the loop")
    .unwrap();
    assert_eq!(code, 0);
    assert!(start.elapsed() <= Duration::from_millis(600) + FRAME);
    assert!(ui.help(), "the ? before q was handled");
}
