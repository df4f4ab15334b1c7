//! Capability providers: native executables run as child processes, one per
//! (provider key, link name), restarted with backoff whenever they exit.
//!
//! Each process gets its host data on stdin (one base64 line) and keeps that pipe open:
//! it closes when the data plane dies. It runs in a process group of its own, so a stop
//! reaches its children too, and, through `setpriv --pdeathsig KILL` where available, it
//! is killed by the kernel if the data plane dies without stopping it.

use bytes::Bytes;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kiln_proto::dataplane::v1::ProviderStatus;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Wait after the first exit; doubles on each quick exit.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// Longest wait between restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A process that ran this long is healthy again: its next exit restarts quickly.
const STABLE_AFTER: Duration = Duration::from_secs(30);

/// A provider that could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The executable was never pushed.
    #[error("provider executable {0} is not on this data plane; push it first")]
    MissingExecutable(String),
    /// The OS refused to start it.
    #[error("could not start provider {provider}: {reason}")]
    Spawn {
        /// Provider key.
        provider: String,
        /// Why.
        reason: String,
    },
}

type Key = (String, String);

struct Running {
    digest: String,
    record: Bytes,
    host_data: watch::Sender<Bytes>,
    stop: CancellationToken,
    pid: Arc<AtomicU32>,
    restarts: Arc<AtomicU32>,
    since: Arc<Mutex<Instant>>,
    done: tokio::sync::oneshot::Receiver<()>,
}

/// The providers of this data plane.
pub struct Providers {
    running: Mutex<HashMap<Key, Running>>,
    /// `setpriv`, to have the kernel kill providers when the data plane dies.
    setpriv: Option<PathBuf>,
    tasks: TaskTracker,
}

impl Providers {
    /// No providers yet; supervisors are spawned on `tasks`.
    #[must_use]
    pub fn new(tasks: TaskTracker) -> Providers {
        let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file());
        if setpriv.is_none() {
            tracing::warn!(
                "setpriv not found: providers will outlive a data plane killed with SIGKILL"
            );
        }
        Providers {
            running: Mutex::new(HashMap::new()),
            setpriv,
            tasks,
        }
    }

    /// Starts `provider` on `link` from `executable`, or gives a running one new host
    /// data for its next restart. Returns the pid and whether it already ran.
    ///
    /// # Errors
    /// When the process cannot be started.
    pub async fn start(
        &self,
        provider: &str,
        link: &str,
        digest: &str,
        executable: &Path,
        host_data: Bytes,
        record: Bytes,
    ) -> Result<(u32, bool), ProviderError> {
        let key = (provider.to_string(), link.to_string());
        {
            let mut running = self.lock();
            if let Some(run) = running.get_mut(&key)
                && run.digest == digest
            {
                run.host_data.send_replace(host_data);
                run.record = record;
                return Ok((run.pid.load(Ordering::Relaxed), true));
            }
        }
        // Another digest under the same key: replace it.
        self.stop(provider, link, Duration::from_secs(2)).await;
        let mut child =
            spawn(self.setpriv.as_deref(), executable, provider, link).map_err(|e| {
                ProviderError::Spawn {
                    provider: provider.to_string(),
                    reason: e.to_string(),
                }
            })?;
        let stdin = feed(&mut child, &host_data).await;
        let pid = child.id().unwrap_or_default();
        let (host_data, updates) = watch::channel(host_data);
        let (done, finished) = tokio::sync::oneshot::channel();
        let run = Running {
            digest: digest.to_string(),
            record,
            host_data,
            stop: CancellationToken::new(),
            pid: Arc::new(AtomicU32::new(pid)),
            restarts: Arc::new(AtomicU32::new(0)),
            since: Arc::new(Mutex::new(Instant::now())),
            done: finished,
        };
        let supervisor = Supervisor {
            provider: provider.to_string(),
            link: link.to_string(),
            executable: executable.to_path_buf(),
            setpriv: self.setpriv.clone(),
            updates,
            stop: run.stop.clone(),
            pid: run.pid.clone(),
            restarts: run.restarts.clone(),
            since: run.since.clone(),
        };
        self.lock().insert(key, run);
        self.tasks.spawn(async move {
            supervisor.run(child, stdin).await;
            let _ = done.send(());
        });
        tracing::info!(provider, link, pid, "provider started");
        Ok((pid, false))
    }

    /// Stops a provider: SIGTERM to its process group, SIGKILL after `grace`. Returns
    /// whether it ran.
    pub async fn stop(&self, provider: &str, link: &str, grace: Duration) -> bool {
        let Some(run) = self
            .lock()
            .remove(&(provider.to_string(), link.to_string()))
        else {
            return false;
        };
        stop_run(run, grace).await;
        tracing::info!(provider, link, "provider stopped");
        true
    }

    /// Stops every provider, each with `grace`.
    pub async fn stop_all(&self, grace: Duration) {
        let runs: Vec<Running> = self.lock().drain().map(|(_, run)| run).collect();
        futures::future::join_all(runs.into_iter().map(|run| stop_run(run, grace))).await;
    }

    /// What runs.
    #[must_use]
    pub fn inventory(&self) -> Vec<ProviderStatus> {
        let mut all: Vec<ProviderStatus> = self
            .lock()
            .iter()
            .map(|((provider, link), run)| ProviderStatus {
                provider: provider.clone(),
                link_name: link.clone(),
                digest: run.digest.clone(),
                pid: run.pid.load(Ordering::Relaxed),
                restarts: run.restarts.load(Ordering::Relaxed),
                up_ms: u64::try_from(
                    run.since
                        .lock()
                        .expect("invariant: never poisoned")
                        .elapsed()
                        .as_millis(),
                )
                .unwrap_or(u64::MAX),
                record: run.record.clone(),
            })
            .collect();
        all.sort_by(|a, b| (&a.provider, &a.link_name).cmp(&(&b.provider, &b.link_name)));
        all
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Running>> {
        self.running
            .lock()
            .expect("invariant: providers lock is never poisoned")
    }
}

async fn stop_run(run: Running, grace: Duration) {
    run.stop.cancel();
    // The supervisor terminates the process; wait for it, bounded.
    let _ = tokio::time::timeout(grace + Duration::from_secs(1), run.done).await;
}

/// Keeps one provider running until stopped.
struct Supervisor {
    provider: String,
    link: String,
    executable: PathBuf,
    setpriv: Option<PathBuf>,
    updates: watch::Receiver<Bytes>,
    stop: CancellationToken,
    pid: Arc<AtomicU32>,
    restarts: Arc<AtomicU32>,
    since: Arc<Mutex<Instant>>,
}

impl Supervisor {
    async fn run(self, mut child: Child, mut stdin: Option<ChildStdin>) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let started = Instant::now();
            let status = tokio::select! {
                status = child.wait() => status,
                () = self.stop.cancelled() => {
                    terminate(&mut child, STOP_GRACE).await;
                    return;
                }
            };
            drop(stdin.take());
            self.pid.store(0, Ordering::Relaxed);
            let restarts = self.restarts.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(provider = %self.provider, link = %self.link, ?status, restarts, "provider exited; restarting");
            backoff = if started.elapsed() > STABLE_AFTER {
                FIRST_BACKOFF
            } else {
                backoff
            };
            loop {
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = self.stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                match spawn(
                    self.setpriv.as_deref(),
                    &self.executable,
                    &self.provider,
                    &self.link,
                ) {
                    Ok(mut next) => {
                        let host_data = self.updates.borrow().clone();
                        stdin = feed(&mut next, &host_data).await;
                        self.pid
                            .store(next.id().unwrap_or_default(), Ordering::Relaxed);
                        *self.since.lock().expect("invariant: never poisoned") = Instant::now();
                        child = next;
                        break;
                    }
                    Err(error) => {
                        tracing::error!(provider = %self.provider, %error, "could not restart provider")
                    }
                }
            }
        }
    }
}

/// Time between SIGTERM and SIGKILL when a stop gives none.
const STOP_GRACE: Duration = Duration::from_secs(2);

async fn terminate(child: &mut Child, grace: Duration) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGTERM);
        if tokio::time::timeout(grace, child.wait()).await.is_ok() {
            return;
        }
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = child.kill().await;
}

fn spawn(
    setpriv: Option<&Path>,
    executable: &Path,
    provider: &str,
    link: &str,
) -> std::io::Result<Child> {
    // setpriv would start and then fail to exec: check first, for a clear error.
    if !executable.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} does not exist", executable.display()),
        ));
    }
    let mut command = match setpriv {
        Some(setpriv) => {
            let mut command = Command::new(setpriv);
            command.args(["--pdeathsig", "KILL", "--"]).arg(executable);
            command
        }
        None => Command::new(executable),
    };
    let mut child = command
        // The provider inherits the OTEL_* settings but names its own service.
        .env_remove("OTEL_SERVICE_NAME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    for (stream, name) in [
        (
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            "stdout",
        ),
        (
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            "stderr",
        ),
    ] {
        if let Some(stream) = stream {
            let (provider, link) = (provider.to_string(), link.to_string());
            // Ends by itself when the process closes the pipe.
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::info!(target: "provider", %provider, %link, stream = name, "{line}");
                }
            });
        }
    }
    Ok(child)
}

/// Writes the host data line and keeps the pipe open: it closes when we die.
async fn feed(child: &mut Child, host_data: &[u8]) -> Option<ChildStdin> {
    let mut stdin = child.stdin.take()?;
    if let Err(error) = stdin.write_all(host_data).await {
        tracing::warn!(%error, "could not write host data to the provider");
    }
    let _ = stdin.flush().await;
    Some(stdin)
}

#[cfg(test)]
mod tests;
