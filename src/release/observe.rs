//! Driving a release from the command line: `run` and `resume` start a detached driver and, unless
//! detached, watch it from this process ([`Context::drive`]): print what happens, turn Ctrl-C or
//! SIGTERM into a cancel request, and end with the release's exit code.

use std::time::Duration;

use color_eyre::eyre::{Result, eyre};

use super::{Context, end_code, exit, grace, load_state, refuse_broken};
use crate::engine::driver;
use crate::event::Event;
use crate::headless::Printer;
use crate::journal::{self, Journal, ReleaseDir, SyncWaker};
use crate::plan::ReleaseType;

/// How long past the grace period a watching `run` waits for the driver to answer its cancel.
pub const CANCEL_ANSWER_SLACK: Duration = Duration::from_secs(5);

/// How `run` and `resume` drive.
#[derive(Debug, Clone, Copy, Default)]
pub struct DriveMode {
    /// At an unsatisfied gate, exit 3 (paused) instead of waiting.
    pub no_wait: bool,
    /// Drive in the background only: print the release id and exit 0.
    pub detach: bool,
}

impl Context {
    /// `run`: create a release (of only the stages `only`, when given) and drive it.
    pub fn run(
        &self,
        version: Option<&str>,
        rtype: Option<ReleaseType>,
        only: &[String],
        flags: DriveMode,
    ) -> Result<u8> {
        let scope = super::create::Scope {
            only: only.to_vec(),
            redeploy_of: None,
            at: None,
            train: None,
        };
        self.run_scoped(version, rtype, &scope, flags)
    }

    /// `run --at TIME`: create the release scheduled for TIME and start its background driver,
    /// which waits until then.
    pub fn run_at(
        &self,
        version: Option<&str>,
        rtype: Option<ReleaseType>,
        only: &[String],
        at: &str,
    ) -> Result<u8> {
        let at = parse_at(at, chrono::Local::now())?;
        let scope = super::create::Scope {
            only: only.to_vec(),
            redeploy_of: None,
            at: Some(at),
            train: None,
        };
        let code = self.run_scoped(
            version,
            rtype,
            &scope,
            DriveMode {
                no_wait: false,
                detach: true,
            },
        )?;
        crate::errln!(
            "flightdeck: scheduled to start at {} ({} local time)",
            at.format("%Y-%m-%d %H:%M:%S UTC"),
            at.with_timezone(&chrono::Local).format("%a %H:%M")
        );
        Ok(code)
    }

    /// `run` and `redeploy`: create a release of `scope` and drive it.
    pub fn run_scoped(
        &self,
        version: Option<&str>,
        rtype: Option<ReleaseType>,
        scope: &super::create::Scope,
        flags: DriveMode,
    ) -> Result<u8> {
        if !flags.detach {
            // A watching run turns Ctrl-C into a cancel of its release, however early it comes:
            // held from before the release exists until `wait_for_driver` listens.
            block_ending_signals(nix::sys::signal::SigmaskHow::SIG_BLOCK);
        }
        let rdir = self.create_scoped(version, rtype, scope)?;
        self.drive(rdir, flags, false)
    }

    /// `resume`: take over a release whose driver is gone (or stopped at a gate) and drive it on.
    pub fn resume(&self, release: Option<&str>, flags: DriveMode) -> Result<u8> {
        let rdir = self.find(release)?;
        let state = load_state(&rdir)?;
        refuse_broken(&state)?;
        if let Some(who) = rdir.driver_said() {
            crate::errln!(
                "flightdeck: release {} is driven by another process ({who})",
                rdir.id
            );
            return Ok(exit::LOCKED);
        }
        if state.finished.is_some() && state.pending_requests().next().is_none() {
            crate::errln!(
                "flightdeck: release {} has already finished ({})",
                rdir.id,
                state.state_word(false)
            );
            return Ok(end_code(&state));
        }
        // The plan copy must still load (the driver will load it too), and its secrets be
        // maskable: say so here, plainly.
        driver::plan_for_release(&rdir, &state)?.check_secrets_in_env()?;
        self.drive(rdir, flags, true)
    }

    /// Drive a release: always in a background driver process of its own session (so closing
    /// this terminal never touches the release, and no child can reach the terminal). Without
    /// `--detach` this process observes it: prints what happens (`resumed`: only from now on),
    /// turns Ctrl-C into a cancel request, and exits with the release's exit code.
    pub fn drive(&self, rdir: ReleaseDir, flags: DriveMode, resumed: bool) -> Result<u8> {
        if flags.detach {
            return match self.spawn_driver(&rdir, flags.no_wait)? {
                Ok(_child) => {
                    crate::outln!("{}", rdir.id);
                    Ok(exit::OK)
                }
                Err(code) => Ok(code),
            };
        }
        // From here on a Ctrl-C or SIGTERM must become a cancel request, also one that arrives
        // before `wait_for_driver` listens for it (the driver may already be running): hold
        // them pending until then. Threads started from here on inherit the mask, so only the
        // waiting thread receives them; the driver's own mask is reset when it is spawned.
        block_ending_signals(nix::sys::signal::SigmaskHow::SIG_BLOCK);
        let color = crate::ansi::color_stdout();
        let out = std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout());
        let mut printer = Printer::new(&rdir, out, color);
        if resumed {
            printer.skip_history()?;
        }
        let child = match self.spawn_driver(&rdir, flags.no_wait)? {
            Ok(c) => c,
            Err(code) => return Ok(code),
        };
        // The printer is an observer on its own thread: a slow terminal never slows anything.
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waker = SyncWaker::watch(&rdir.path);
        let wake = waker.handle();
        let printer_done = done.clone();
        let printer = std::thread::spawn(move || -> std::io::Result<()> {
            loop {
                let last = printer_done.load(std::sync::atomic::Ordering::Acquire);
                printer.poll()?;
                if last {
                    return Ok(());
                }
                waker.wait(Duration::from_millis(500));
            }
        });
        let status = self.wait_for_driver(&rdir, child)?;
        done.store(true, std::sync::atomic::Ordering::Release);
        let _ = wake.try_send(());
        let Some(status) = status else {
            // Gave up on the driver: what was printed is flushed, unless the printer is stuck too.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(printer.join());
            });
            let _ = rx.recv_timeout(Duration::from_secs(1));
            return Ok(exit::CANCELLED);
        };
        let printed = printer.join();
        // A journal that stopped chaining stopped the driver (and the printer): say where.
        if let Ok((_, warnings)) = journal::read_journal(&rdir.journal())
            && let Some(why) = journal::attention_reason(&rdir.journal(), &warnings)
        {
            crate::errln!(
                "flightdeck: release {} needs attention: {why}; nothing from this line on is acted on (`flightdeck verify {}`)",
                rdir.id,
                rdir.id
            );
            return Ok(exit::FAILED);
        }
        match printed {
            // A closed pipe or a vanished terminal only ends the printing, never the release.
            Ok(Err(e)) if !matches!(e.raw_os_error(), Some(libc::EPIPE | libc::EIO)) => {
                crate::errln!("flightdeck: output: {e}")
            }
            _ => {}
        }
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => {
                if code == i32::from(exit::PAUSED) {
                    crate::errln!(
                        "flightdeck: release {} is paused at a gate; `flightdeck resume {}` continues it",
                        rdir.id,
                        rdir.id
                    );
                }
                Ok(u8::try_from(code).unwrap_or(exit::FAILED))
            }
            (None, sig) => {
                crate::errln!(
                    "flightdeck: the driver of release {} died (signal {}); `flightdeck resume {}` takes over",
                    rdir.id,
                    sig.unwrap_or(0),
                    rdir.id
                );
                Ok(exit::FAILED)
            }
        }
    }

    /// Wait for the driver process to end. Ctrl-C or SIGTERM here become a cancel request (the
    /// driver then stops the running commands gracefully); SIGHUP is ignored. `Ok(None)`: this
    /// observer gave up watching, the driver still owns the release: a second Ctrl-C or SIGTERM,
    /// or a cancel the driver did not answer (no `request_handled` for it) within the grace period
    /// plus [`CANCEL_ANSWER_SLACK`] (a stuck or stopped driver).
    pub fn wait_for_driver(
        &self,
        rdir: &ReleaseDir,
        mut child: std::process::Child,
    ) -> Result<Option<std::process::ExitStatus>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let actor = self.actor();
        let journal_path = rdir.journal();
        let plan = self.plan_for(rdir)?;
        let pid = child.id();
        let id = rdir.id.clone();
        let answer_within = grace() + CANCEL_ANSWER_SLACK;
        rt.block_on(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let _hup = signal(SignalKind::hangup()).ok();
            let mut int = signal(SignalKind::interrupt())?;
            let mut term = signal(SignalKind::terminate())?;
            // Listening now: what arrived while they were held is delivered at once.
            block_ending_signals(nix::sys::signal::SigmaskHow::SIG_UNBLOCK);
            let (tx, mut rx) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                let _ = tx.send(child.wait());
            });
            // The cancel request: appended on a thread of its own (a stuck driver may hold the
            // journal's lock); its sequence number once written.
            let (asked_tx, mut asked_rx) = tokio::sync::mpsc::unbounded_channel::<Result<u64>>();
            let mut asked: Option<tokio::time::Instant> = None;
            let mut request: Option<u64> = None;
            let mut answered = false;
            let mut poll = tokio::time::interval(Duration::from_millis(200));
            loop {
                let deadline = asked
                    .filter(|_| !answered)
                    .map(|at| at + answer_within);
                let give_up = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                };
                let signalled = tokio::select! {
                    st = &mut rx => return Ok(Some(st.map_err(|_| eyre!("lost the driver process"))??)),
                    _ = int.recv() => true,
                    _ = term.recv() => true,
                    Some(r) = asked_rx.recv() => {
                        request = Some(r?);
                        false
                    }
                    _ = poll.tick(), if request.is_some() && !answered => {
                        let seq = request.unwrap_or_default();
                        answered = journal::read_journal(&journal_path).is_ok_and(|(recs, _)| {
                            recs.iter().any(|r| {
                                matches!(r.event, Event::RequestHandled { request, .. } if request == seq)
                            })
                        });
                        false
                    }
                    () = give_up => {
                        crate::errln!(
                            "flightdeck: the driver (pid {pid}) did not answer the cancel within {}; \
                             stopped watching. Release {id} is still its own: `flightdeck status {id}`",
                            crate::plan::format_duration(answer_within)
                        );
                        return Ok(None);
                    }
                };
                if !signalled {
                    continue;
                }
                if asked.is_some() {
                    crate::errln!(
                        "flightdeck: stopped watching; the driver (pid {pid}) still owns release {id} \
                         (`flightdeck status {id}`)"
                    );
                    return Ok(None);
                }
                asked = Some(tokio::time::Instant::now());
                let masker = std::sync::Arc::new(driver::masker_for(&plan));
                let (journal_path, actor, asked_tx) = (journal_path.clone(), actor.clone(), asked_tx.clone());
                std::thread::spawn(move || {
                    let written = Journal::open(&journal_path, masker)
                        .and_then(|mut j| j.append(&actor, vec![Event::CancelRequested {}]))
                        .map_err(color_eyre::Report::from)
                        .and_then(|recs| recs.first().map(|r| r.seq).ok_or_else(|| eyre!("the cancel request was not written")));
                    let _ = asked_tx.send(written);
                });
                crate::errln!(
                    "flightdeck: cancelling: running commands get SIGTERM, then SIGKILL after the grace period \
                     (Ctrl-C again to stop watching)"
                );
            }
        })
    }
}

/// Hold SIGINT, SIGTERM and SIGHUP pending in this thread and every thread it starts from now
/// on, until a watching command takes them (`run`, `resume` and `redeploy` call it first).
pub fn hold_ending_signals() {
    block_ending_signals(nix::sys::signal::SigmaskHow::SIG_BLOCK);
}

/// Hold (`SIG_BLOCK`) or deliver (`SIG_UNBLOCK`) SIGINT, SIGTERM and SIGHUP for this thread.
fn block_ending_signals(how: nix::sys::signal::SigmaskHow) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(sig);
    }
    let _ = nix::sys::signal::pthread_sigmask(how, Some(&set), None);
}

/// `--at TIME`: an RFC 3339 time, or `HH:MM` (today's, or tomorrow's once it has passed, local
/// time); never in the past.
pub fn parse_at(text: &str, now: chrono::DateTime<chrono::Local>) -> Result<chrono::DateTime<chrono::Utc>> {
    use chrono::TimeZone;
    let t = text.trim();
    let at = if let Ok(t) = chrono::DateTime::parse_from_rfc3339(t) {
        t.with_timezone(&chrono::Utc)
    } else if let Ok(hm) = chrono::NaiveTime::parse_from_str(t, "%H:%M") {
        let mut day = now.date_naive();
        if day.and_time(hm) <= now.naive_local() {
            day = day.succ_opt().unwrap_or(day);
        }
        match chrono::Local.from_local_datetime(&day.and_time(hm)).earliest() {
            Some(local) => local.with_timezone(&chrono::Utc),
            None => {
                return Err(super::usage(format!(
                    "--at {t}: that local time does not exist (a daylight-saving change); give an RFC 3339 time"
                )));
            }
        }
    } else {
        return Err(super::usage(format!(
            "--at `{}`: give an RFC 3339 time (2026-12-05T06:00:00+01:00) or HH:MM",
            crate::ansi::clean(t)
        )));
    };
    if at <= now.with_timezone(&chrono::Utc) {
        return Err(super::usage(format!("--at {t} is in the past")));
    }
    Ok(at)
}
