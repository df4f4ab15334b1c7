//! Child processes the tests start: nats-server and the kiln binaries.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

/// A running child whose output goes to a log file; killed when dropped.
pub struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `program` with `args` and `KILN_LOG=log`, logging into `dir/<name>.N.log`.
    pub fn spawn(
        name: &str,
        dir: &Path,
        program: PathBuf,
        log_level: &str,
        args: Vec<String>,
    ) -> Process {
        Process::spawn_with_env(name, dir, program, log_level, args, &[])
    }

    /// [`Process::spawn`] with `env` added to the inherited environment.
    pub fn spawn_with_env(
        name: &str,
        dir: &Path,
        program: PathBuf,
        log_level: &str,
        args: Vec<String>,
        env: &[(String, String)],
    ) -> Process {
        Process::spawn_in(name, dir, None, program, log_level, args, env)
    }

    /// [`Process::spawn_with_env`] in the working directory `cwd` (the test's when
    /// none), for programs that read files there.
    pub fn spawn_in(
        name: &str,
        dir: &Path,
        cwd: Option<&Path>,
        program: PathBuf,
        log_level: &str,
        args: Vec<String>,
        env: &[(String, String)],
    ) -> Process {
        let mut index = 0;
        let log = loop {
            let candidate = dir.join(format!("{name}.{index}.log"));
            if !candidate.exists() {
                break candidate;
            }
            index += 1;
        };
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(&program);
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        let child = command
            .args(&args)
            .env("KILN_LOG", log_level)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", program.display()));
        Process { child, log }
    }

    /// The process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its resident memory now, in KiB (`VmRSS`), 0 when it is gone.
    #[must_use]
    pub fn rss_kib(&self) -> u64 {
        self.proc_kib("status", "VmRSS:")
    }

    /// Its proportional set size now, in KiB: resident pages, each shared page counted
    /// as its share among the processes that map it; 0 when it is gone.
    #[must_use]
    pub fn pss_kib(&self) -> u64 {
        self.proc_kib("smaps_rollup", "Pss:")
    }

    /// How many memory mappings it has now (lines of `/proc/PID/maps`; the kernel caps
    /// them at `vm.max_map_count`); 0 when it is gone.
    #[must_use]
    pub fn mappings(&self) -> usize {
        std::fs::read_to_string(format!("/proc/{}/maps", self.pid()))
            .map_or(0, |maps| maps.lines().count())
    }

    /// The figure after `field` in `/proc/PID/{file}`, in kB.
    fn proc_kib(&self, file: &str, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/{file}", self.pid()))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix(field))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `within` for the process to exit on its own.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Sends SIGTERM and waits up to `within` for the exit status.
    pub async fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// What it logged so far.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `nats-server -js` on a free loopback port.
pub struct Nats {
    process: Process,
    dir: PathBuf,
    args: Vec<String>,
    /// Its port.
    pub port: u16,
}

impl Nats {
    /// Starts it with its JetStream store under `dir` and waits until it accepts clients.
    pub async fn start(dir: &Path) -> Nats {
        let port = free_port();
        let args = Nats::args(dir, port, "jetstream");
        let process = Nats::spawn(dir, port, args.clone()).await;
        Nats {
            process,
            dir: dir.to_path_buf(),
            args,
            port,
        }
    }

    /// Starts `size` servers routed into one cluster, JetStream on each (its own store
    /// under `dir`), and waits until JetStream answers.
    pub async fn cluster(dir: &Path, size: usize) -> Vec<Nats> {
        let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let mut servers = Vec::new();
        for (index, (port, route)) in ports.iter().enumerate() {
            let mut args = Nats::args(dir, *port, &format!("jetstream-{index}"));
            let routes: Vec<String> = ports
                .iter()
                .filter(|(_, other)| other != route)
                .map(|(_, other)| format!("nats://127.0.0.1:{other}"))
                .collect();
            args.extend([
                "--server_name".into(),
                format!("n{index}"),
                "--cluster_name".into(),
                "kiln".into(),
                "--cluster".into(),
                format!("nats://127.0.0.1:{route}"),
                "--routes".into(),
                routes.join(","),
            ]);
            let process = Nats::spawn(dir, *port, args.clone()).await;
            servers.push(Nats {
                process,
                dir: dir.to_path_buf(),
                args,
                port: *port,
            });
        }
        let client = async_nats::connect(servers[0].url())
            .await
            .expect("a client of the cluster");
        let js = async_nats::jetstream::new(client);
        // Ready once a stream replicated on every server can be made.
        let ready = crate::waiting::eventually(Duration::from_secs(30), || {
            let js = js.clone();
            async move {
                let probe = async_nats::jetstream::stream::Config {
                    name: "KILN_CLUSTER_PROBE".into(),
                    num_replicas: size,
                    ..Default::default()
                };
                match js.get_or_create_stream(probe).await {
                    Ok(_) => js.delete_stream("KILN_CLUSTER_PROBE").await.is_ok(),
                    Err(_) => false,
                }
            }
        })
        .await;
        assert!(ready, "JetStream never answered on the cluster");
        servers
    }

    /// Starts it again on the same port and store, after [`Nats::kill`].
    pub async fn restart(&mut self) {
        self.process = Nats::spawn(&self.dir, self.port, self.args.clone()).await;
    }

    fn args(dir: &Path, port: u16, store: &str) -> Vec<String> {
        vec![
            "-js".into(),
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-sd".into(),
            dir.join(store).display().to_string(),
        ]
    }

    async fn spawn(dir: &Path, port: u16, args: Vec<String>) -> Process {
        let process = Process::spawn("nats", dir, PathBuf::from("nats-server"), "", args);
        let up = crate::waiting::eventually(Duration::from_secs(10), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        assert!(
            up,
            "nats-server did not start; is the nats-server package installed?"
        );
        process
    }

    /// `nats://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server with SIGKILL.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Its resident memory now, in KiB.
    #[must_use]
    pub fn rss_kib(&self) -> u64 {
        self.process.rss_kib()
    }

    /// Its process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The server's log.
    #[must_use]
    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// A `redis-server` on a free loopback port, with nothing persisted.
pub struct Redis {
    _process: Process,
    /// Its port.
    pub port: u16,
}

impl Redis {
    /// Starts it and waits until it accepts clients.
    pub async fn start(dir: &Path) -> Redis {
        let port = free_port();
        let process = Process::spawn(
            "redis",
            dir,
            PathBuf::from("redis-server"),
            "",
            vec![
                "--port".into(),
                port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--save".into(),
                String::new(),
                "--appendonly".into(),
                "no".into(),
            ],
        );
        let up = crate::waiting::eventually(Duration::from_secs(10), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        assert!(
            up,
            "redis-server did not start; is the redis-server package installed?"
        );
        Redis {
            _process: process,
            port,
        }
    }

    /// `redis://127.0.0.1:PORT/`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Runs `redis-cli` against it and returns what it printed.
    #[must_use]
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}

/// A port nobody listens on right now, and never handed out before by this process:
/// the kernel may give the same free port to two binds in a row (a harness asks for
/// its HTTP and API ports one after the other, before either process binds them).
#[must_use]
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Path of a workspace binary, next to the running test's own directory.
///
/// # Panics
/// When the binary has not been built.
#[must_use]
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> or target/<profile>/<bin>
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace binaries first (cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// A real OCI registry (Debian `docker-registry`) on a free loopback port, with basic
/// auth when credentials are given (an htpasswd file made with `htpasswd -B`).
pub struct Registry {
    process: Process,
    /// Its port.
    pub port: u16,
    /// Where it keeps blobs.
    pub storage: PathBuf,
}

impl Registry {
    /// Starts one under `dir`.
    pub async fn start(dir: &Path, credentials: Option<(&str, &str)>) -> Registry {
        let port = free_port();
        let root = dir.join(format!("registry-{port}"));
        std::fs::create_dir_all(&root).expect("registry directory");
        let storage = root.join("data");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: kiln-tests\n",
            storage.display()
        );
        if let Some((user, password)) = credentials {
            let htpasswd = root.join("htpasswd");
            let output = std::process::Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd (Debian apache2-utils) runs");
            assert!(output.status.success(), "htpasswd failed");
            std::fs::write(&htpasswd, output.stdout).expect("write htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: kiln-tests\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = root.join("config.yml");
        std::fs::write(&config_path, config).expect("write registry config");
        let process = Process::spawn(
            "registry",
            &root,
            PathBuf::from("docker-registry"),
            "",
            vec!["serve".into(), config_path.display().to_string()],
        );
        let up = crate::waiting::eventually(Duration::from_secs(10), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        assert!(
            up,
            "docker-registry did not start; is the docker-registry package installed?"
        );
        Registry {
            process,
            port,
            storage,
        }
    }

    /// `127.0.0.1:PORT`.
    #[must_use]
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What it logged so far.
    #[must_use]
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// The file that holds the blob `digest` (`sha256:…`).
    #[must_use]
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

/// The CPU time this process's children have used, those that have ended and been
/// waited for (`cutime` and `cstime` of `/proc/self/stat`), in seconds.
#[must_use]
pub fn waited_children_cpu_seconds() -> f64 {
    stat_seconds("self", 13, 14)
}

/// The ids of `pid`'s children now, none when it has none (a scan of `/proc` for
/// processes whose parent it is).
#[must_use]
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|stat| {
                // After the command (in parentheses, which may hold spaces): the state,
                // then the parent's id.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}

/// The CPU time process `pid` has used so far, user and system (all its threads), in
/// seconds; 0 when it is gone. Read from `/proc/PID/stat`, whose times are in the
/// kernel's `USER_HZ` (100 on Linux, whatever the kernel's own tick).
#[must_use]
pub fn cpu_seconds(pid: u32) -> f64 {
    stat_seconds(&pid.to_string(), 11, 12)
}

/// Two times of `/proc/{process}/stat` added, in seconds: `first` and `second` count
/// the fields after the command (in parentheses, which may hold spaces) from 0, the
/// state; utime is 11 and stime 12, cutime 13 and cstime 14.
fn stat_seconds(process: &str, first: usize, second: usize) -> f64 {
    const USER_HZ: f64 = 100.0;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{process}/stat")) else {
        return 0.0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(first) + ticks(second)) / USER_HZ
}
