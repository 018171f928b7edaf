//! The cockpit's loop, generic over a ratatui [`Backend`], an input stream and a [`Clock`], with
//! the journal and log tail behind a [`Source`] (so tests can script all three; the real one is
//! [`super::source::ReleaseSource`]).
//!
//! ```text
//! select! { biased;
//!   terminal input                      -> Msg::Key / Msg::Resize   (first: a key beats a flood)
//!   source (journal + log tails, notify) -> Msg::Records / Msg::OutputGrew / Msg::Driver / Msg::Shutdown
//!   frame timer  (armed only while dirty and a frame was drawn less than a budget ago)
//!   1 Hz clock   (armed only while something runs)                                      }
//! ```
//! After each wake everything already queued is drained and applied; a frame is drawn at most
//! once per frame budget. Idle, no timer is armed and the task sleeps until input or a file
//! change.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::{Event as TermEvent, KeyEventKind, MouseEventKind};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::time::{Instant, sleep_until};

use super::app::{Effect, Msg};
use super::output_pane::PaneId;
use super::state::UiState;
use super::views;

/// Wall-clock time for the views (elapsed times, spinners).
pub trait Clock {
    fn now(&self) -> DateTime<Utc>;
    /// Sleep until `deadline` (the 1 Hz clock while something runs). Tokio's timer by default,
    /// which tests pause and advance.
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        sleep_until(deadline)
    }
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// A timerfd: one wake-up at the deadline. Tokio's timer wheel wakes a 1 s sleep twice (at
    /// the start of its 64 ms slot, then at the deadline), and an idle cockpit should wake once
    /// a second while a stage runs, not twice.
    async fn sleep_until(&self, deadline: Instant) {
        use nix::sys::time::TimeSpec;
        use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
        let wait = deadline.saturating_duration_since(Instant::now());
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .and_then(|fd| {
            // A zero expiration disarms a timerfd: at least a nanosecond.
            let spec = TimeSpec::from_duration(wait.max(Duration::from_nanos(1)));
            fd.set(Expiration::OneShot(spec), TimerSetTimeFlags::empty())
                .map(|()| fd)
        })
        .map_err(io::Error::from)
        .and_then(|fd| {
            // SAFETY: the AsyncFd owns the timer, so its descriptor stays open and the
            // same for the AsyncFd's whole life.
            unsafe {
                tokio::io::unix::AsyncFd::register_with_interest(Timer(fd), tokio::io::Interest::READABLE)
            }
            .map_err(io::Error::from)
        });
        match fd {
            Ok(fd) => {
                let _ = fd.readable().await;
            }
            Err(_) => sleep_until(deadline).await,
        }
    }
}

/// A timerfd, for tokio's reactor (which wants `AsRawFd`).
struct Timer(nix::sys::timerfd::TimerFd);

impl std::os::fd::AsRawFd for Timer {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsFd;
        self.0.as_fd().as_raw_fd()
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
    /// Read new output of the followed logs straight into the output panes' rings, without
    /// blocking and within a read budget shared fairly between them; one [`Msg::OutputGrew`]
    /// per pane that took lines. Called after the journal's messages were applied.
    fn read_output(&mut self, ui: &mut UiState) -> Vec<Msg>;
    /// Switch the log followed for output pane `pane` ([`Effect::FollowLog`]).
    fn follow(&mut self, pane: PaneId, log: Option<&str>);
    /// Perform an effect that needs I/O beyond the terminal ([`Effect::Submit`],
    /// [`Effect::StartRelease`], [`Effect::Resume`], [`Effect::Open`], [`Effect::Suggest`],
    /// [`Effect::ReadLines`], [`Effect::Search`], [`Effect::Copy`], [`Effect::Bell`]) without
    /// blocking; its answer comes back as a message from [`Source::wait`]. [`Effect::Pager`]
    /// blocks: the pager has the terminal until it ends (the loop then redraws everything).
    fn perform(&mut self, effect: Effect);
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
        // Clicks and the wheel; moves, drags and releases would only wake the loop for nothing.
        TermEvent::Mouse(m)
            if matches!(
                m.kind,
                MouseEventKind::Down(_) | MouseEventKind::ScrollUp | MouseEventKind::ScrollDown
            ) =>
        {
            Some(Msg::Mouse(m))
        }
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
    let input = &mut WakeGated::new(input);
    let size = terminal.size()?;
    let mut queue: VecDeque<Msg> = VecDeque::new();
    queue.push_back(Msg::Resize(size.width, size.height));
    queue.extend(source.poll());
    let _ = apply(ui, source, &mut queue);
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    // The clock's sleep, kept across wake-ups (armed once per second, not once per wake): the
    // 1 Hz clock while something runs (`tick_for` is `Some(None)`), else one wake-up when the
    // screen changes by the clock alone (`Some(Some(at))`: a freeze window begins or ends).
    let mut tick: Option<std::pin::Pin<Box<dyn Future<Output = ()> + '_>>> = None;
    let mut tick_for: Option<Option<DateTime<Utc>>> = None;
    loop {
        if let Some(code) = ui.quit {
            return Ok(code);
        }
        let now = Instant::now();
        // One wall-clock reading for the frame and for when to wake next: a timer that fires a
        // little early (the monotonic and the wall clock drift apart) draws the frame before the
        // change and is armed again for it, never past it.
        let wall = clock.now();
        if dirty && last_draw.is_none_or(|t| now >= t + cfg.frame) {
            terminal.draw(|f| views::render(f, ui, wall))?;
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
            if tick_for != Some(None) {
                tick = Some(Box::pin(clock.sleep_until(now + Duration::from_secs(1))));
                tick_for = Some(None);
            }
        } else if let Some(at) = ui.wake_at(wall) {
            if tick_for != Some(Some(at)) {
                let wait = (at - wall).to_std().unwrap_or_default();
                tick = Some(Box::pin(clock.sleep_until(now + wait + Duration::from_millis(1))));
                tick_for = Some(Some(at));
            }
        } else {
            tick = None;
            tick_for = None;
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
            _ = async { if let Some(t) = tick.as_mut() { t.await } }, if tick.is_some() => Woke::Tick,
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
                tick = None;
                tick_for = None;
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
        let (grew, screen) = apply(ui, source, &mut queue);
        dirty |= queued || grew;
        if screen != Screen::Kept {
            if screen == Screen::Suspend {
                super::terminal::suspend().ok();
            }
            // Whatever the shell (or the pager) drew meanwhile is gone from our picture of the
            // screen: clear it and forget the previous frame (`resize` does both without asking
            // the terminal for its cursor position, which `clear` would, racing the input reader
            // for the reply).
            let size = terminal.size()?;
            terminal.resize(ratatui::layout::Rect::new(0, 0, size.width, size.height))?;
            dirty = true;
            last_draw = None;
            // The terminal's input stream was let go of while the pager ran (see
            // `terminal::lend`): look at the new one without waiting for the old one's wake-up.
            input.reopen();
        }
    }
}

/// An input stream polled only once it has woken the task (and until it is pending again).
///
/// crossterm's `EventStream` answers a poll that finds nothing by trying its reader's lock with
/// `try_lock_for(0)` while its own reader thread holds that lock, blocked until the terminal has
/// input: parking_lot spins 3 times and calls `sched_yield` 7 times before giving up. The loop
/// polls input up to three times per wake-up (select, drain, select), so without this gate a
/// flood cost thousands of `sched_yield`s a second, each handing the core away, and an idle
/// cockpit's 1 Hz tick 21 of them. The stream's reader thread wakes the waker it was last given
/// when input arrives; until then, polling it again cannot find anything.
struct WakeGated<'a, I> {
    inner: &'a mut I,
    gate: Arc<Gate>,
    waker: std::task::Waker,
}

struct Gate {
    woken: std::sync::atomic::AtomicBool,
    task: std::sync::Mutex<Option<std::task::Waker>>,
}

impl std::task::Wake for Gate {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, std::sync::atomic::Ordering::SeqCst);
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(w) = task.as_ref() {
            w.wake_by_ref();
        }
    }
}

impl<I> WakeGated<'_, I> {
    /// Poll the inner stream next time even though it has not woken us (it was replaced).
    fn reopen(&self) {
        self.gate.woken.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl<'a, I> WakeGated<'a, I> {
    fn new(inner: &'a mut I) -> Self {
        let gate = Arc::new(Gate {
            woken: std::sync::atomic::AtomicBool::new(true),
            task: std::sync::Mutex::new(None),
        });
        let waker = std::task::Waker::from(gate.clone());
        WakeGated { inner, gate, waker }
    }
}

impl<I: Stream + Unpin> Stream for WakeGated<'_, I> {
    type Item = I::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<I::Item>> {
        {
            let mut task = self
                .gate
                .task
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        if !self.gate.woken.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Poll::Pending;
        }
        let this = &mut *self;
        let polled = this
            .inner
            .poll_next_unpin(&mut std::task::Context::from_waker(&this.waker));
        if polled.is_ready() {
            // More may be queued: look again next time.
            this.gate.woken.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        polled
    }
}

/// What became of the screen while effects were performed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Screen {
    Kept,
    /// Another program (the pager) had the terminal: redraw everything.
    Lent,
    /// Ctrl-Z was asked for: suspend, then redraw everything.
    Suspend,
}

/// Apply queued messages and perform their effects, then take in new output (and apply that).
/// Whether output arrived, and what must happen to the screen.
fn apply<S: Source>(ui: &mut UiState, source: &mut S, queue: &mut VecDeque<Msg>) -> (bool, Screen) {
    let mut screen = drain(ui, source, queue);
    let grew = source.read_output(ui);
    if grew.is_empty() {
        return (false, screen);
    }
    queue.extend(grew);
    screen = screen.max(drain(ui, source, queue));
    (true, screen)
}

fn drain<S: Source>(ui: &mut UiState, source: &mut S, queue: &mut VecDeque<Msg>) -> Screen {
    let mut screen = Screen::Kept;
    while let Some(msg) = queue.pop_front() {
        for fx in ui.update(msg) {
            match fx {
                Effect::FollowLog { pane, log } => source.follow(pane, log.as_deref()),
                Effect::Suspend => screen = Screen::Suspend,
                Effect::Quit(_) => {}
                fx @ Effect::Pager(_) => {
                    source.perform(fx);
                    screen = screen.max(Screen::Lent);
                }
                other => source.perform(other),
            }
        }
    }
    screen
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Context;

    use futures::channel::mpsc::{UnboundedReceiver, unbounded};

    use super::*;

    /// A stream that counts how often it is polled.
    struct Counted {
        rx: UnboundedReceiver<u32>,
        polls: Arc<AtomicUsize>,
    }

    impl Stream for Counted {
        type Item = u32;
        fn poll_next(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u32>> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            self.rx.poll_next_unpin(cx)
        }
    }

    #[test]
    fn gated_input_is_polled_only_after_it_woke_us() {
        let (tx, rx) = unbounded();
        let polls = Arc::new(AtomicUsize::new(0));
        let mut inner = Counted {
            rx,
            polls: polls.clone(),
        };
        let mut gated = WakeGated::new(&mut inner);
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        for _ in 0..5 {
            assert_eq!(gated.poll_next_unpin(&mut cx), Poll::Pending);
        }
        assert_eq!(polls.load(Ordering::SeqCst), 1, "nothing woke it: polled once");
        tx.unbounded_send(1).unwrap();
        tx.unbounded_send(2).unwrap();
        assert_eq!(gated.poll_next_unpin(&mut cx), Poll::Ready(Some(1)));
        assert_eq!(gated.poll_next_unpin(&mut cx), Poll::Ready(Some(2)));
        assert_eq!(gated.poll_next_unpin(&mut cx), Poll::Pending);
        assert_eq!(gated.poll_next_unpin(&mut cx), Poll::Pending);
        assert_eq!(polls.load(Ordering::SeqCst), 4);
        drop(tx);
        assert_eq!(gated.poll_next_unpin(&mut cx), Poll::Ready(None));
    }
}
