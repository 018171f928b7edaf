//! A real PostgreSQL server of a test's own: `initdb` and `pg_ctl` from Debian's package (under
//! `/usr/lib/postgresql/*/bin`), in a temp folder, on a free port on 127.0.0.1, run as the
//! `postgres` user when the tests run as root (initdb refuses root). Password authentication
//! (scram-sha-256) over TCP, so credentials really come from where libpq users keep them.
//! Dropping it stops the server.
//!
//! Missing PostgreSQL: under `CI=true` the test fails (`.ci/run` installs the package); elsewhere
//! [`Pg::start`] says loudly that the test is skipped and returns `None`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The superuser the tests connect as, and its password.
pub const USER: &str = "flightdeck";
pub const PASSWORD: &str = "s3cr3t-pw";

pub struct Pg {
    /// Holds the data directory, the socket and the server's log.
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
    as_postgres: bool,
    /// Serves TLS with a certificate for `localhost` and 127.0.0.1 signed by [`Pg::ca`].
    tls: bool,
    /// fsync on (for benchmarks against fsynced files); off in tests, for speed.
    durable: bool,
}

/// The newest PostgreSQL's bin folder.
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

impl Pg {
    /// A fresh server, or `None` (skipped, said on stderr) where PostgreSQL is not installed and
    /// this is not CI.
    #[track_caller]
    pub fn start() -> Option<Pg> {
        Pg::start_with(false)
    }

    /// A fresh server that also speaks TLS (`ssl = on`), its certificate signed by a CA of its
    /// own ([`Pg::ca`]) for `localhost` and 127.0.0.1.
    #[track_caller]
    pub fn start_tls() -> Option<Pg> {
        Pg::start_with(true)
    }

    /// A fresh server that fsyncs its commits, as a production one does (benchmarks).
    #[track_caller]
    pub fn start_durable() -> Option<Pg> {
        let mut pg = Pg::start_with(false)?;
        pg.stop();
        pg.durable = true;
        pg.start_again();
        Some(pg)
    }

    #[track_caller]
    fn start_with(tls: bool) -> Option<Pg> {
        let Some(bin) = bin_dir() else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): under CI=true this fails; .ci/run installs it"
                );
            }
            eprintln!(
                "\n*** SKIPPED {}: PostgreSQL is not installed (apt-get install -y postgresql) ***\n",
                std::panic::Location::caller()
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("fd-pg")
            .tempdir()
            .expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let as_postgres = is_root();
        if as_postgres {
            let out = Command::new("chown")
                .args(["postgres:", dir.path().to_str().unwrap()])
                .output()
                .unwrap();
            assert!(out.status.success(), "chown: {out:?}");
        }
        let pg = Pg {
            dir,
            port: 0,
            bin,
            as_postgres,
            tls,
            durable: false,
        };
        let pwfile = pg.dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        if as_postgres {
            Command::new("chown")
                .args(["postgres:", pwfile.to_str().unwrap()])
                .status()
                .unwrap();
        }
        pg.run_ok(
            "initdb",
            &[
                "-D",
                pg.data().to_str().unwrap(),
                "-U",
                USER,
                "--pwfile",
                pwfile.to_str().unwrap(),
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        );
        if tls {
            pg.make_certificates();
            // Over TCP, TLS only: a connection that did not encrypt is turned away.
            std::fs::write(
                pg.data().join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all ::1/128 scram-sha-256\n",
            )
            .unwrap();
        }
        let mut pg = pg;
        pg.port = free_port();
        pg.start_again();
        Some(pg)
    }

    /// The CA certificate that signed the server's (for `sslrootcert`).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A CA and a server certificate signed by it, with openssl; the key readable by the server
    /// only.
    fn make_certificates(&self) {
        let d = self.dir.path();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        std::fs::write(d.join("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=flightdeck test CA",
            "-days",
            "2",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ]);
        std::fs::set_permissions(d.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
        if self.as_postgres {
            for f in ["server.key", "server.crt"] {
                Command::new("chown")
                    .args(["postgres:", d.join(f).to_str().unwrap()])
                    .status()
                    .unwrap();
            }
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Run one of the server's programs (as `postgres` when root).
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args).env_remove("PGPASSWORD").output().unwrap()
    }

    #[track_caller]
    fn run_ok(&self, program: &str, args: &[&str]) -> Output {
        let out = self.run(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
        out
    }

    /// Start the server (again) on its port; waits until it accepts connections.
    pub fn start_again(&self) {
        // Room for many observers (each holds two connections: its reads and its LISTEN).
        let mut opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300",
            self.port,
            self.dir.path().display()
        );
        if !self.durable {
            opts.push_str(" -c fsync=off -c full_page_writes=off");
        }
        if self.tls {
            let d = self.dir.path().display();
            opts.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={d}/server.crt -c ssl_key_file={d}/server.key"
            ));
        }
        self.run_ok(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-l",
                self.dir.path().join("log").to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stop the server at once, whatever happens (at exit: nothing may panic there).
    pub fn stop_quietly(&self) {
        let data = self.data();
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// Stop the server at once (as a crash or an outage would).
    pub fn stop(&self) {
        self.run_ok(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// The URL of database `postgres`, without the password (tests give it as PGPASSWORD).
    pub fn url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/postgres", self.port)
    }

    /// The URL with the password in it (for library calls; never printed by flightdeck).
    pub fn url_with_password(&self) -> String {
        format!("postgres://{USER}:{PASSWORD}@127.0.0.1:{}/postgres", self.port)
    }

    /// Run SQL through psql (over the socket, as the superuser); its output, unaligned.
    #[track_caller]
    pub fn psql(&self, sql: &str) -> String {
        let sock = self.dir.path().to_str().unwrap().to_string();
        let port = self.port.to_string();
        let out = self.run_ok(
            "psql",
            &[
                "-h",
                &sock,
                "-p",
                &port,
                "-U",
                USER,
                "-d",
                "postgres",
                "-XAtq",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// PgBouncer in transaction mode in front of a [`Pg`]: every transaction may go to another
/// server connection, so LISTEN (which lives on one) does not work through it. Debian's
/// `pgbouncer` package; run as `postgres` when the tests run as root (it refuses root). Dropping
/// it stops it.
pub struct Bouncer {
    pub port: u16,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Bouncer {
    /// Start one in front of `pg` (the same user and password), or `None` (skipped, said on
    /// stderr) where PgBouncer is not installed and this is not CI.
    #[track_caller]
    pub fn start(pg: &Pg) -> Option<Bouncer> {
        let exe = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .map(Path::new)
            .find(|p| p.exists());
        let Some(exe) = exe else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PgBouncer is not installed: under CI=true this fails; .ci/run installs it");
            }
            eprintln!(
                "\n*** SKIPPED {}: PgBouncer is not installed (apt-get install -y pgbouncer) ***\n",
                std::panic::Location::caller()
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("fd-pgbouncer")
            .tempdir()
            .expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let port = free_port();
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("users.txt"),
            format!("\"{USER}\" \"{PASSWORD}\"\n"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host=127.0.0.1 port={}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\nauth_type = scram-sha-256\nauth_file = {d}/users.txt\npool_mode = transaction\ndefault_pool_size = 3\nmax_client_conn = 200\nlogfile = {d}/pgbouncer.log\n",
                pg.port
            ),
        )
        .unwrap();
        let mut cmd = Command::new(exe);
        cmd.arg(dir.path().join("pgbouncer.ini"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if is_root() {
            use std::os::unix::process::CommandExt;
            let id = |flag: &str| -> u32 {
                let out = Command::new("id").args([flag, "postgres"]).output().unwrap();
                String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
            };
            for f in ["users.txt", "pgbouncer.ini"] {
                Command::new("chown")
                    .args(["postgres:", dir.path().join(f).to_str().unwrap()])
                    .status()
                    .unwrap();
            }
            Command::new("chown")
                .args(["postgres:", dir.path().to_str().unwrap()])
                .status()
                .unwrap();
            cmd.gid(id("-g")).uid(id("-u"));
        }
        let child = cmd.spawn().expect("start pgbouncer");
        let bouncer = Bouncer {
            port,
            child,
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "pgbouncer did not listen on {port}: {}",
                std::fs::read_to_string(bouncer._dir.path().join("pgbouncer.log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Some(bouncer)
    }

    /// The URL of database `postgres` through the pooler, without the password. PgBouncer before
    /// 1.21 keeps no prepared statements in transaction mode: the URL says not to cache them.
    pub fn url(&self) -> String {
        format!(
            "postgres://{USER}@127.0.0.1:{}/postgres?statement-cache-capacity=0",
            self.port
        )
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
