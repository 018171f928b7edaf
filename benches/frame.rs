//! One full cockpit frame at 200x50 on ratatui's `TestBackend` (issue 5 §7: goal under 1 ms): a
//! release mid-run with a fan-out (`fixture::mid_run`), the output ring full of coloured lines.
//! Floor, in the same run: a frame of one plain `Paragraph` filling 200x50. Both are drawn the
//! way a flood draws them: every frame brings new content (a pane's worth of new output lines for
//! the cockpit, the other of two texts for the floor), so the diff and the backend do real work.
//!
//!     cargo bench --bench frame                      # criterion, then an interleaved ratio
//!     FRAME_BENCH_DRAW=cockpit:100 <bench binary>    # draw 100 frames and exit (for callgrind;
//!                                                    # `floor:N` for the floor, N=0: setup only)

#[path = "../tests/support/fixture.rs"]
mod fixture;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flightdeck::runlog::{LineKind, LogLineRef};
use flightdeck::tui::app::Msg;
use flightdeck::tui::layout::Focus;
use flightdeck::tui::output_pane::RING_LINES;
use flightdeck::tui::state::UiState;
use flightdeck::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::text::{Line, Text};
use ratatui::widgets::Paragraph;

const W: u16 = 200;
const H: u16 = 50;

/// A coloured output line like a deploy script prints (SGR colours, some stderr), ~150 columns.
fn line(i: usize) -> (LineKind, Vec<u8>) {
    let kind = if i % 7 == 3 {
        LineKind::Stderr
    } else {
        LineKind::Stdout
    };
    let text = format!(
        "\x1b[2m2026-01-02T10:04:{:02}Z\x1b[0m \x1b[1;32mINFO\x1b[0m deploy eu-5: step {i:>6} of 250000 \
         \x1b[36mpulled\x1b[0m layer sha256:{:016x} \x1b[33m{} ms\x1b[0m, rollout \x1b[35m{}%\x1b[0m done, \
         health \x1b[32mok\x1b[0m",
        i % 60,
        (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        i % 997,
        i % 101
    );
    (kind, text.into_bytes())
}

fn push(ui: &mut UiState, (kind, text): &(LineKind, Vec<u8>)) {
    ui.output.push(LogLineRef {
        t_ms: 0,
        kind: *kind,
        text,
        truncated: false,
    });
}

/// The cockpit mid-run at 200x50 with a full output ring, and a supply of new lines to push.
struct Cockpit {
    ui: UiState,
    fresh: Vec<(LineKind, Vec<u8>)>,
    next: usize,
}

impl Cockpit {
    fn new() -> Cockpit {
        let mut ui = fixture::ui(&fixture::mid_run(), (W, H));
        for i in 0..RING_LINES {
            push(&mut ui, &line(i));
        }
        assert_eq!(ui.output.ring.len(), RING_LINES);
        let fresh = (RING_LINES..RING_LINES + 4 * usize::from(H)).map(line).collect();
        Cockpit { ui, fresh, next: 0 }
    }

    /// The most an output can show: four panes (a 2x2 grid), each with a full ring, wrapped,
    /// timestamped and searching.
    fn four_panes() -> Cockpit {
        let mut c = Cockpit::new();
        let ui = &mut c.ui;
        for _ in 0..3 {
            ui.focus = Focus::Pipeline;
            keys(ui, "+h");
        }
        assert_eq!(ui.pane_count(), 4);
        for p in 1..4 {
            for i in 0..RING_LINES {
                let (kind, text) = line(i);
                ui.pinned[p - 1].push(LogLineRef {
                    t_ms: i as u64,
                    kind,
                    text: &text,
                    truncated: false,
                });
            }
        }
        ui.focus = Focus::Output;
        for p in 0..4 {
            ui.pane = p;
            keys(ui, "wT/rollout\n");
        }
        c
    }

    /// A pane's worth of new lines (so every output row changes), then one frame.
    fn frame(&mut self, t: &mut Terminal<TestBackend>) {
        for _ in 0..H {
            push(&mut self.ui, &self.fresh[self.next]);
            self.next = (self.next + 1) % self.fresh.len();
        }
        let ui = &self.ui;
        t.draw(|f| views::render(f, ui, fixture::now())).unwrap();
    }
}

fn keys(ui: &mut UiState, keys: &str) {
    for c in keys.chars() {
        let code = if c == '\n' {
            KeyCode::Enter
        } else {
            KeyCode::Char(c)
        };
        ui.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }
}

/// The floor: a plain paragraph filling the screen, alternating between two texts.
struct Floor {
    texts: [Text<'static>; 2],
    next: usize,
}

impl Floor {
    fn new() -> Floor {
        let text = |c: char| -> Text<'static> {
            (0..H)
                .map(|y| Line::from(format!("{y:>3} {}", c.to_string().repeat(usize::from(W) - 4))))
                .collect::<Vec<_>>()
                .into()
        };
        Floor {
            texts: [text('a'), text('b')],
            next: 0,
        }
    }

    fn frame(&mut self, t: &mut Terminal<TestBackend>) {
        let text = &self.texts[self.next];
        self.next ^= 1;
        t.draw(|f| f.render_widget(Paragraph::new(text.clone()), f.area()))
            .unwrap();
    }
}

fn terminal() -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(W, H)).unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // Callgrind mode: draw N frames and exit.
    if let Ok(spec) = std::env::var("FRAME_BENCH_DRAW") {
        let (what, n) = spec.split_once(':').unwrap_or((spec.as_str(), "1"));
        let n: usize = n.parse().expect("FRAME_BENCH_DRAW=cockpit:N or floor:N");
        let mut t = terminal();
        match what {
            "cockpit" => {
                let mut c = Cockpit::new();
                (0..n).for_each(|_| c.frame(&mut t));
            }
            "floor" => {
                let mut f = Floor::new();
                (0..n).for_each(|_| f.frame(&mut t));
            }
            "four" => {
                let mut c = Cockpit::four_panes();
                (0..n).for_each(|_| c.frame(&mut t));
            }
            other => panic!("FRAME_BENCH_DRAW: unknown {other:?} (cockpit, four or floor)"),
        }
        black_box(t);
        return;
    }

    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("frame_200x50");
        g.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        let mut t = terminal();
        let mut floor = Floor::new();
        g.bench_function("floor_plain_paragraph", |b| b.iter(|| floor.frame(&mut t)));
        let mut t = terminal();
        let mut cockpit = Cockpit::new();
        g.bench_function("cockpit_mid_run_full_ring", |b| b.iter(|| cockpit.frame(&mut t)));
        let mut t = terminal();
        let mut four = Cockpit::four_panes();
        g.bench_function("cockpit_four_panes_wrapped_timestamped_searching", |b| {
            b.iter(|| four.frame(&mut t))
        });
        g.finish();
    }
    c.final_summary();

    // The ratio, from frames timed one by one and interleaved (floor, cockpit, floor, ...), so
    // both see the same machine load.
    let (mut tf, mut tc, mut t4) = (terminal(), terminal(), terminal());
    let (mut floor, mut cockpit, mut four) = (Floor::new(), Cockpit::new(), Cockpit::four_panes());
    let (mut f, mut k, mut q) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..2000 {
        let t0 = Instant::now();
        floor.frame(&mut tf);
        f.push(t0.elapsed());
        let t0 = Instant::now();
        cockpit.frame(&mut tc);
        k.push(t0.elapsed());
        let t0 = Instant::now();
        four.frame(&mut t4);
        q.push(t0.elapsed());
    }
    let (f, k, q) = (median(f), median(k), median(q));
    println!(
        "frame 200x50, four panes wrapped, timestamped, searching: {:.1} µs, ratio {:.2}x the floor; \
         goal < 1 ms: {}",
        q.as_secs_f64() * 1e6,
        q.as_secs_f64() / f.as_secs_f64(),
        if q < Duration::from_millis(1) {
            "PASS"
        } else {
            "FAIL"
        }
    );
    println!(
        "frame 200x50 (2000 interleaved frames, medians): cockpit {:.1} µs, plain paragraph floor {:.1} µs, \
         ratio {:.2}x; goal < 1 ms: {}",
        k.as_secs_f64() * 1e6,
        f.as_secs_f64() * 1e6,
        k.as_secs_f64() / f.as_secs_f64(),
        if k < Duration::from_millis(1) {
            "PASS"
        } else {
            "FAIL"
        }
    );
}
