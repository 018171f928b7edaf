//! Entering and leaving the full-screen terminal: raw mode, alternate screen, hidden cursor,
//! mouse capture. Restored when the guard drops (quit or error), by a panic hook installed after
//! color-eyre's (the panic report prints after the terminal is back to normal, then the process
//! ends, whichever thread or task panicked), and around a suspend (Ctrl-Z). SIGTERM and SIGHUP
//! arrive as messages (see the loop's source) and end the loop like a quit.

use std::io::{self, Stdout, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::{cursor, event, execute, terminal};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// Whether the terminal is in cockpit mode now (so restoring twice is harmless).
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Whether a cockpit runs (from `enter` until its guard drops), suspended or not: a panic in
/// any thread meanwhile ends the process.
static SESSION: AtomicBool = AtomicBool::new(false);
/// Whether mouse capture is wanted (turned off by the user to select text with the terminal).
static MOUSE: AtomicBool = AtomicBool::new(true);

/// Clicks and the wheel only, in SGR encoding (1000 + 1006): no motion reports, which would wake
/// the cockpit for every pointer move. (Turned off with crossterm's `DisableMouseCapture`, which
/// clears every mode.)
const MOUSE_ON: &str = "\x1b[?1000h\x1b[?1006h";

/// Restores the terminal when dropped.
#[derive(Debug)]
pub struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    /// Enter raw mode, the alternate screen and mouse capture; install the restoring panic hook
    /// (once).
    pub fn enter() -> io::Result<(TerminalGuard, Terminal<CrosstermBackend<Stdout>>)> {
        install_panic_hook();
        SESSION.store(true, Ordering::SeqCst);
        MOUSE.store(true, Ordering::SeqCst);
        let guard = TerminalGuard { _private: () };
        activate()?;
        let term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok((guard, term))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
        SESSION.store(false, Ordering::SeqCst);
    }
}

/// Raw mode, alternate screen, hidden cursor, and mouse capture when wanted.
fn activate() -> io::Result<()> {
    terminal::enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let mut out = io::stdout();
    execute!(out, terminal::EnterAlternateScreen, cursor::Hide)?;
    if MOUSE.load(Ordering::SeqCst) {
        out.write_all(MOUSE_ON.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}

/// Stop mouse capture, leave the alternate screen, show the cursor, leave raw mode. Idempotent.
/// A terminal that is gone (closed: SIGHUP, writes fail with EIO) is let go of: stdout and
/// stderr then point to `/dev/null`, so that no later line (a clean-up's, a library's `Drop`)
/// fails or panics half-way.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = io::stdout();
        let written = execute!(
            out,
            event::DisableMouseCapture,
            terminal::LeaveAlternateScreen,
            cursor::Show
        )
        .and_then(|()| out.flush());
        let _ = terminal::disable_raw_mode();
        if written.is_err() {
            let _ = io::stderr().flush();
            let_go_of_the_terminal();
        }
    }
}

/// Point stdout and stderr to `/dev/null` (the terminal is gone).
pub fn let_go_of_the_terminal() {
    use std::os::fd::AsRawFd;
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        for fd in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
            // SAFETY: dup2 onto the standard descriptors; `null` stays open for the call.
            unsafe {
                libc::dup2(null.as_raw_fd(), fd);
            }
        }
    }
}

/// Run by the panic hook before a cockpit's process ends (see [`on_fatal_exit`]).
type FatalHook = Box<dyn Fn() + Send + Sync>;
static ON_FATAL: std::sync::Mutex<Option<FatalHook>> = std::sync::Mutex::new(None);

/// `f` runs (once) when a panic ends the process while a cockpit runs, after the terminal is
/// restored: what the cockpit's owner must not leave behind (the demo's releases and folder).
/// `None` clears it.
pub fn on_fatal_exit(f: Option<FatalHook>) {
    *ON_FATAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = f;
}

/// Turn mouse capture on or off ([`crate::tui::app::Effect::MouseCapture`]); remembered across
/// a suspend. Writes nothing when the cockpit is not on a real terminal (tests).
pub fn set_mouse_capture(on: bool) -> io::Result<()> {
    MOUSE.store(on, Ordering::SeqCst);
    if !ACTIVE.load(Ordering::SeqCst) {
        return Ok(());
    }
    let mut out = io::stdout();
    if on {
        out.write_all(MOUSE_ON.as_bytes())?;
        out.flush()
    } else {
        execute!(out, event::DisableMouseCapture)
    }
}

/// A panic anywhere (the loop, a tokio task, a blocking job, any thread) while a cockpit runs
/// restores the terminal first, then prints through the previous hook (color-eyre's, installed
/// by `main`), then ends the process with 101: a cockpit must not linger with a half-dead UI
/// (tokio would otherwise catch a task's panic and carry on without its answer).
///
/// Stdout stays locked from the restore to the exit, so the loop's thread cannot draw a frame
/// onto the normal screen in between.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_session = SESSION.load(Ordering::SeqCst);
            let lock = in_session.then(|| io::stdout().lock());
            restore();
            previous(info);
            if in_session {
                let _ = io::stderr().flush();
                let hook = ON_FATAL
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                if let Some(f) = hook {
                    f();
                }
                std::process::exit(101);
            }
            drop(lock);
        }));
    });
}

/// Ctrl-Z: restore the terminal, stop this process (SIGTSTP) and, once continued (`fg`), enter
/// the cockpit's mode again (mouse capture as it was). The caller redraws everything. Does
/// nothing when the cockpit is not on a real terminal (tests).
pub fn suspend() -> io::Result<()> {
    if !ACTIVE.load(Ordering::SeqCst) {
        return Ok(());
    }
    restore();
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGTSTP).map_err(io::Error::from)?;
    // Continued.
    activate()
}

/// The terminal's input events. Crossterm's reader thread would take the keys of a program the
/// terminal is lent to ([`lend`]), so the stream is dropped while it runs and made anew after.
#[derive(Debug, Default)]
pub struct TermInput {
    _private: (),
}

static INPUT: std::sync::Mutex<Option<crossterm::event::EventStream>> = std::sync::Mutex::new(None);

impl futures::Stream for TermInput {
    type Item = io::Result<crossterm::event::Event>;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use futures::StreamExt;
        let mut input = INPUT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        input
            .get_or_insert_with(crossterm::event::EventStream::new)
            .poll_next_unpin(cx)
    }
}

/// Lend the terminal to another program while `f` runs (the pager): leave the cockpit's mode,
/// stop reading keys, run `f`, enter the mode again (the caller redraws everything). Without a
/// cockpit on the terminal (tests), `f` just runs.
pub fn lend<T>(f: impl FnOnce() -> T) -> io::Result<T> {
    if !ACTIVE.load(Ordering::SeqCst) {
        return Ok(f());
    }
    // Dropping the stream stops crossterm's reader thread.
    drop(
        INPUT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(),
    );
    restore();
    let out = f();
    activate()?;
    Ok(out)
}
