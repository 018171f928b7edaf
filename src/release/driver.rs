//! The detached driver: starting `flightdeck drive DIR` in a session of its own and waiting until
//! it took the release over ([`Context::spawn_driver`]), being that driver
//! ([`Context::drive_here`]).

use std::path::Path;
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr, bail};

use super::{Context, exit, grace, load_state, refuse_broken, runtime};
use crate::engine::driver::{self, DriveOptions, Driver};
use crate::engine::state::ReleaseState;
use crate::event::Event;
use crate::journal::{self, ReleaseDir, SyncWaker};

impl Context {
    /// Start `flightdeck drive DIR` in its own session, detached from this terminal, and wait
    /// until it has taken the release over. `Err(code)`: it could not (another driver: 4).
    pub fn spawn_driver(&self, rdir: &ReleaseDir, no_wait: bool) -> Result<Result<std::process::Child, u8>> {
        let (child, waker) = self.start_driver(rdir, no_wait)?;
        self.await_driver(rdir, child, &waker)
    }

    /// [`Context::spawn_driver`] for a caller that does not wait for the driver: it is reaped
    /// when it exits. Ok(pid) once it took the release over; Err(code) when it could not.
    pub fn spawn_driver_detached(&self, rdir: &ReleaseDir, no_wait: bool) -> Result<Result<u32, u8>> {
        Ok(self.spawn_driver(rdir, no_wait)?.map(reap_when_done))
    }

    /// Drivers for several releases at once (a train's members, each with its context), started
    /// together and then waited for: each takes over while the others start.
    pub fn spawn_drivers(starts: &[(&Context, &ReleaseDir)]) -> Result<Result<(), u8>> {
        let mut started = Vec::new();
        for (ctx, rdir) in starts {
            started.push((ctx, rdir, ctx.start_driver(rdir, false)?));
        }
        for (ctx, rdir, (child, waker)) in started {
            match ctx.await_driver(rdir, child, &waker)? {
                Ok(child) => {
                    reap_when_done(child);
                }
                Err(code) => return Ok(Err(code)),
            }
        }
        Ok(Ok(()))
    }

    /// Start `flightdeck drive DIR` detached (not waited for), watching the release first.
    fn start_driver(&self, rdir: &ReleaseDir, no_wait: bool) -> Result<(std::process::Child, SyncWaker)> {
        // A journal that does not chain is not driven (the driver would refuse it too).
        refuse_broken(&ReleaseState::load(&rdir.journal())?.0)?;
        let mut args = vec![std::ffi::OsString::from("drive"), rdir.path.clone().into()];
        if no_wait {
            args.push("--no-wait".into());
        }
        let mut cmd = self.detached(&args, &rdir.driver_log())?;
        // Watch before starting it, so its first append cannot slip by unnoticed.
        let waker = SyncWaker::watch(&rdir.path);
        let child = cmd.spawn().wrap_err("starting the background driver")?;
        Ok((child, waker))
    }

    /// `flightdeck ARGS` (this executable) in a session of its own, detached from this terminal,
    /// its output appended to `log`, with this context's data directory, store and identity: a
    /// release's driver, a train's.
    pub(super) fn detached(&self, args: &[std::ffi::OsString], log: &Path) -> Result<std::process::Command> {
        use std::os::unix::process::CommandExt;
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(journal::io_error(log))?;
        let mut cmd = std::process::Command::new(std::env::current_exe()?);
        cmd.args(args);
        if let Some(d) = &self.data_dir {
            cmd.arg("--data-dir").arg(d);
        }
        cmd.arg("--as").arg(self.actor());
        cmd.stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        // SAFETY: setsid and sigprocmask are async-signal-safe and touch nothing of the parent.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                // A watching `run` holds SIGINT/SIGTERM pending while it starts (see `drive`);
                // the mask survives exec, and the driver must get its signals.
                nix::sys::signal::pthread_sigmask(
                    nix::sys::signal::SigmaskHow::SIG_SETMASK,
                    Some(&nix::sys::signal::SigSet::empty()),
                    None,
                )
                .map_err(std::io::Error::from)?;
                Ok(())
            });
        }
        Ok(cmd)
    }

    /// Wait until the driver `child` took the release over. `Err(code)`: it could not.
    fn await_driver(
        &self,
        rdir: &ReleaseDir,
        mut child: std::process::Child,
        waker: &SyncWaker,
    ) -> Result<Result<std::process::Child, u8>> {
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (recs, _) = journal::read_journal(&rdir.journal())?;
            if recs
                .iter()
                .any(|r| matches!(r.event, Event::DriverStarted { pid: p, .. } if p == pid))
            {
                return Ok(Ok(child));
            }
            if let Some(status) = child.try_wait()? {
                if status.code() == Some(i32::from(exit::LOCKED)) {
                    let holder = rdir.driver_said().map(|d| format!(" ({d})")).unwrap_or_default();
                    crate::errln!(
                        "flightdeck: release {} is driven by another process{holder}",
                        rdir.id
                    );
                    return Ok(Err(exit::LOCKED));
                }
                let log = std::fs::read_to_string(rdir.driver_log()).unwrap_or_default();
                bail!("the background driver exited ({status}) before taking over:\n{log}");
            }
            if Instant::now() > deadline {
                bail!(
                    "the background driver (pid {pid}) did not start within 20s; see {}",
                    rdir.driver_log().display()
                );
            }
            waker.wait(Duration::from_millis(100));
        }
    }

    /// Be the driver of the release in `dir` (`flightdeck drive DIR`, started by
    /// [`Context::spawn_driver`]): take it over and drive it to its end; SIGTERM or SIGINT cancel
    /// it gracefully. The exit code is the release's.
    pub fn drive_here(&self, dir: &Path, no_wait: bool) -> Result<u8> {
        let rdir = ReleaseDir::from_path(dir);
        let state = load_state(&rdir)?;
        let plan = driver::plan_for_release(&rdir, &state)?;
        let opts = DriveOptions {
            no_wait,
            grace: grace(),
            actor: self.actor(),
        };
        let rt = runtime()?;
        let driver = Driver::take_over(plan, rdir, self.store()?, opts)?;
        let end = rt.block_on(async {
            // No terminal here (own session): SIGTERM or SIGINT cancel gracefully.
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
            let mut int = signal(SignalKind::interrupt()).expect("installing a SIGINT handler");
            let stop = async move {
                tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            };
            // On a worker, so the jobs it starts are picked up without a cross-thread wake-up.
            tokio::spawn(driver.run(stop))
                .await
                .expect("the driver task panicked")
        })?;
        Ok(end.exit_code())
    }

    /// `flightdeck notify-send DIR` (internal, started by the driver): deliver the release's
    /// `[[notify]]` messages still due, journaling each attempt, until none is.
    /// `--incidents FILE`: the messages of a plan's incidents journal (started by `incident
    /// open`), its `[[notify]]`s those of the plan given.
    pub fn notify_send(&self, dir: Option<&Path>, incidents: Option<&Path>) -> Result<u8> {
        use crate::engine::notify::{Source, send};
        match (dir, incidents) {
            (Some(dir), None) => {
                let rdir = ReleaseDir::from_path(dir);
                let state = load_state(&rdir)?;
                let plan = driver::plan_for_release(&rdir, &state)?;
                let masker = std::sync::Arc::new(driver::masker_for(&plan));
                send(Source::Release(&rdir), &plan, masker)?;
            }
            (None, Some(path)) => {
                let plan = self.load_plan()?;
                let masker = std::sync::Arc::new(driver::masker_for(&plan));
                send(Source::Incidents(path), &plan, masker)?;
            }
            _ => {
                return Err(super::usage(
                    "notify-send takes a release folder or --incidents FILE",
                ));
            }
        }
        Ok(exit::OK)
    }
}

/// Let the detached driver `child` be reaped when it exits, by a thread that waits for it; its
/// pid. A process that lives on after starting drivers (the cockpit, a train's driver) would
/// otherwise keep each as a zombie until it exits itself.
pub(crate) fn reap_when_done(mut child: std::process::Child) -> u32 {
    let pid = child.id();
    let _ = std::thread::Builder::new()
        .name("reap-driver".into())
        .spawn(move || {
            let _ = child.wait();
        });
    pid
}
