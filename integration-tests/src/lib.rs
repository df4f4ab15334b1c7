//! Test harness: real `nats-server -js` on a free loopback port and both kiln planes as
//! separate processes, with typed helpers to drive them the way lattice clients do.
//!
//! Binaries come from the cargo target directory of the running test (`cargo test
//! --workspace` builds them); sample actors from `actors/build` (`actors/build.sh`).

pub mod browser;
pub mod fixtures;
pub mod http;
pub mod process;
mod waiting;
mod workspace;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use kiln_types::invocation::{Entity, Invocation, InvocationResponse};
use kiln_types::keys::{KeyKind, KeyPair};
use kiln_wasmbus::subjects::{self, CtlSubject};
use serde::{Deserialize, Serialize};

pub use process::{Nats, Process, Redis, Registry, binary};
pub use waiting::eventually;
pub use workspace::workspace_root;

/// A reply to a control command.
#[derive(Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Ack {
    /// Carried out.
    pub accepted: bool,
    /// Why not.
    pub error: String,
}

/// Options of a harness.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Extra flags for the control plane.
    pub control_plane_args: Vec<String>,
    /// Extra flags for the data plane.
    pub data_plane_args: Vec<String>,
    /// `KILN_LOG` of both planes; debug for the control plane when absent.
    pub log: Option<String>,
    /// Extra environment of both planes (and so of the providers the data plane
    /// starts), e.g. `OTEL_*` settings.
    pub env: Vec<(String, String)>,
    /// NATS servers routed into one cluster (0 or 1: a single server). The host is
    /// attached to the first.
    pub nats_servers: usize,
}

/// NATS plus one control plane and one data plane.
pub struct Harness {
    /// Scratch directory for sockets, caches and logs.
    pub dir: tempfile::TempDir,
    /// The NATS server (the first of the cluster, when there is one).
    pub nats: Nats,
    /// The NATS cluster's other servers.
    pub more_nats: Vec<Nats>,
    /// The data plane process.
    pub data_plane: Process,
    /// The control plane process.
    pub control_plane: Process,
    /// The cluster key the host signs with and trusts.
    pub cluster: KeyPair,
    /// The host's key.
    pub host: KeyPair,
    /// Lattice prefix.
    pub lattice: String,
    /// A NATS client for the test.
    pub client: async_nats::Client,
    /// Port of the control plane's status page.
    pub http_port: u16,
    /// Port of the control plane's gRPC control API.
    pub api_port: u16,
    options: Options,
}

impl Harness {
    /// Starts everything with default options.
    pub async fn start() -> Harness {
        Harness::with(Options::default()).await
    }

    /// Starts everything.
    pub async fn with(options: Options) -> Harness {
        let mut dir = tempfile::tempdir().expect("temp dir");
        // KILN_TEST_KEEP_DIR=1 leaves logs and caches behind for a post-mortem.
        if std::env::var_os("KILN_TEST_KEEP_DIR").is_some() {
            dir.disable_cleanup(true);
            eprintln!("harness directory: {}", dir.path().display());
        }
        let (nats, more_nats) = if options.nats_servers > 1 {
            let mut servers = Nats::cluster(dir.path(), options.nats_servers).await;
            let first = servers.remove(0);
            (first, servers)
        } else {
            (Nats::start(dir.path()).await, Vec::new())
        };
        let cluster = KeyKind::Cluster.generate();
        let host = KeyKind::Server.generate();
        let lattice = format!("test{}", std::process::id());
        let data_plane = start_data_plane(dir.path(), &options);
        let http_port = process::free_port();
        let api_port = process::free_port();
        let control_plane = Process::spawn_with_env(
            "control-plane",
            dir.path(),
            binary("kiln-control-plane"),
            log_level(&options),
            control_plane_args(
                dir.path(),
                &nats,
                &cluster,
                &host,
                &lattice,
                (http_port, api_port),
                &options.control_plane_args,
            ),
            &options.env,
        );
        let client = async_nats::connect(nats.url())
            .await
            .expect("test client connects to NATS");
        let harness = Harness {
            dir,
            nats,
            more_nats,
            data_plane,
            control_plane,
            cluster,
            host,
            lattice,
            client,
            http_port,
            api_port,
            options,
        };
        harness.wait_until_serving().await;
        harness
    }

    /// Waits until the control plane answers its inventory subject.
    async fn wait_until_serving(&self) {
        let serving = wait_serving(
            &self.client,
            &self.lattice,
            &self.host.public_key(),
            self.http_port,
        )
        .await;
        if let Err(error) = serving {
            panic!("{error}; logs:\n{}", self.logs());
        }
    }

    /// Starts another host (control plane and data plane) on this lattice, with the
    /// same cluster key; `control_plane_args` add to the harness's own.
    pub async fn join(&self, name: &str, args: &[&str]) -> Peer {
        self.join_on(name, 0, args).await
    }

    /// Like [`Harness::join`], attached to server `server` of the cluster (0 is the
    /// harness's own).
    pub async fn join_on(&self, name: &str, server: usize, args: &[&str]) -> Peer {
        let nats = if server == 0 {
            &self.nats
        } else {
            &self.more_nats[server - 1]
        };
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).expect("peer directory");
        let host = KeyKind::Server.generate();
        let http_port = process::free_port();
        let api_port = process::free_port();
        let mut extra = self.options.control_plane_args.clone();
        extra.extend(args.iter().map(ToString::to_string));
        let data_plane = start_data_plane(&dir, &self.options);
        let control_plane = Process::spawn_with_env(
            "control-plane",
            &dir,
            binary("kiln-control-plane"),
            log_level(&self.options),
            control_plane_args(
                &dir,
                nats,
                &self.cluster,
                &host,
                &self.lattice,
                (http_port, api_port),
                &extra,
            ),
            &self.options.env,
        );
        let peer = Peer {
            data_plane,
            control_plane,
            host,
            http_port,
            api_port,
        };
        let serving = wait_serving(&self.client, &self.lattice, &peer.id(), http_port).await;
        if let Err(error) = serving {
            panic!("{error}; logs:\n{}", peer.logs());
        }
        peer
    }

    /// Kills the data plane with SIGKILL.
    pub fn kill_data_plane(&mut self) {
        self.data_plane.kill();
    }

    /// Kills the control plane with SIGKILL (its data plane and providers keep running).
    pub fn kill_control_plane(&mut self) {
        self.control_plane.kill();
    }

    /// Starts a new control plane process in place of the old one, with the same
    /// identity, ports and flags plus `extra`; does not wait for it.
    pub fn restart_control_plane(&mut self, extra: &[&str]) {
        let mut args = self.options.control_plane_args.clone();
        args.extend(extra.iter().map(ToString::to_string));
        self.control_plane = Process::spawn_with_env(
            "control-plane",
            self.dir.path(),
            binary("kiln-control-plane"),
            log_level(&self.options),
            control_plane_args(
                self.dir.path(),
                &self.nats,
                &self.cluster,
                &self.host,
                &self.lattice,
                (self.http_port, self.api_port),
                &args,
            ),
            &self.options.env,
        );
    }

    /// What `/api/readyz` answers now: (status, body), or `None` when nothing listens.
    pub async fn readyz(&self) -> Option<(u16, serde_json::Value)> {
        let (status, body) = http(self.http_port, "GET", "/api/readyz", b"").await.ok()?;
        Some((status, serde_json::from_slice(&body).unwrap_or_default()))
    }

    /// Starts a new data plane process in place of the old one.
    pub fn restart_data_plane(&mut self) {
        self.data_plane = start_data_plane(self.dir.path(), &self.options);
    }

    /// Both planes' logs, for failure messages.
    #[must_use]
    pub fn logs(&self) -> String {
        format!(
            "--- control plane ---\n{}\n--- data plane ---\n{}",
            self.control_plane.log(),
            self.data_plane.log()
        )
    }

    /// The control subjects of this lattice.
    #[must_use]
    pub fn ctl(&self) -> subjects::Ctl {
        subjects::Ctl::new(subjects::DEFAULT_CTL_PREFIX, &self.lattice)
    }

    /// Sends a control command to this host.
    pub async fn command(&self, command: &str, body: &serde_json::Value) -> Ack {
        self.command_to(&self.host.public_key(), command, body)
            .await
    }

    /// Sends a control command to the host `host_id` of this lattice.
    pub async fn command_to(&self, host_id: &str, command: &str, body: &serde_json::Value) -> Ack {
        let subject = self
            .ctl()
            .subject(CtlSubject::Command(host_id, command))
            .expect("a host id and a command token");
        let reply = tokio::time::timeout(
            Duration::from_secs(20),
            self.client
                .request(subject, serde_json::to_vec(body).expect("json").into()),
        )
        .await
        .expect("control reply in time")
        .expect("control request");
        serde_json::from_slice(&reply.payload).expect("control reply is an ack")
    }

    /// Sends a lattice-wide control command (`linkdefs.put`, …), answered by one host.
    pub async fn command_lattice(&self, command: CtlSubject<'_>, body: &serde_json::Value) -> Ack {
        let subject = self.ctl().subject(command).expect("a lattice-wide subject");
        let reply = tokio::time::timeout(
            Duration::from_secs(20),
            self.client
                .request(subject, serde_json::to_vec(body).expect("json").into()),
        )
        .await
        .expect("control reply in time")
        .expect("control request");
        serde_json::from_slice(&reply.payload).expect("control reply is an ack")
    }

    /// A lattice-wide query (`get.links`, …) as JSON.
    pub async fn query_lattice(&self, query: CtlSubject<'_>) -> serde_json::Value {
        let subject = self.ctl().subject(query).expect("a lattice-wide subject");
        let reply = self
            .client
            .request(subject, "".into())
            .await
            .expect("query");
        serde_json::from_slice(&reply.payload).expect("query reply is JSON")
    }

    /// Launches a provider from an archive on `link_name` and waits for the outcome
    /// (`provider_started` or `provider_start_failed`), returned as an ack.
    pub async fn launch_provider(&self, archive: &Path, link_name: &str) -> Ack {
        let reference = format!("file://{}", archive.display());
        self.launch_provider_ref(&reference, link_name, None).await
    }

    /// Launches the provider at `reference` on `link_name` with the configuration
    /// string `configuration`, and waits for the outcome as [`Harness::launch_provider`].
    pub async fn launch_provider_ref(
        &self,
        reference: &str,
        link_name: &str,
        configuration: Option<&str>,
    ) -> Ack {
        let link = link_name.to_string();
        let mut body = serde_json::json!({ "provider_ref": reference, "link_name": link_name });
        if let Some(configuration) = configuration {
            body["configuration"] = configuration.into();
        }
        self.until_event(self.command("lp", &body), |kind, data| match kind {
            "provider_started"
                if data["image_ref"] == reference && data["link_name"] == link.as_str() =>
            {
                Some(Ack {
                    accepted: true,
                    error: String::new(),
                })
            }
            "provider_start_failed" if data["provider_ref"] == reference => Some(Ack {
                accepted: false,
                error: data["error"].as_str().unwrap_or_default().to_string(),
            }),
            _ => None,
        })
        .await
    }

    /// Subscribes to this lattice's events.
    pub async fn events(&self) -> async_nats::Subscriber {
        self.subscribe(subjects::events(&self.lattice)).await
    }

    /// Subscribes to this lattice's invocation outcome events.
    pub async fn rpc_events(&self) -> async_nats::Subscriber {
        self.subscribe(subjects::rpc_events(&self.lattice)).await
    }

    async fn subscribe(&self, subject: String) -> async_nats::Subscriber {
        let events = self
            .client
            .subscribe(subject)
            .await
            .expect("subscribe to events");
        self.client.flush().await.expect("flush");
        events
    }

    /// Sends a command; when accepted, waits for the event `outcome` recognises (given
    /// the event type's suffix and its data) and returns what it makes of it.
    pub async fn until_event(
        &self,
        command: impl std::future::Future<Output = Ack>,
        outcome: impl Fn(&str, &serde_json::Value) -> Option<Ack>,
    ) -> Ack {
        use futures::StreamExt as _;
        let mut events = self.events().await;
        let ack = command.await;
        if !ack.accepted {
            return ack;
        }
        let wait = async {
            while let Some(message) = events.next().await {
                let Ok(event) = serde_json::from_slice::<serde_json::Value>(&message.payload)
                else {
                    continue;
                };
                let kind = event["type"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches("com.wasmcloud.lattice.");
                if let Some(ack) = outcome(kind, &event["data"]) {
                    return ack;
                }
            }
            panic!("event stream ended");
        };
        tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .unwrap_or_else(|_| panic!("no outcome event within 30 s; logs:\n{}", self.logs()))
    }

    /// Puts a link definition on the link name `default`.
    pub async fn put_link(
        &self,
        actor: &str,
        provider: &str,
        contract: &str,
        values: &[(&str, &str)],
    ) -> Ack {
        self.put_link_named(actor, provider, contract, "default", values)
            .await
    }

    /// Puts a link definition on `link_name`.
    pub async fn put_link_named(
        &self,
        actor: &str,
        provider: &str,
        contract: &str,
        link_name: &str,
        values: &[(&str, &str)],
    ) -> Ack {
        let values: BTreeMap<&str, &str> = values.iter().copied().collect();
        self.command_lattice(
            CtlSubject::LinkPut,
            &serde_json::json!({
                "actor_id": actor, "provider_id": provider, "link_name": link_name,
                "contract_id": contract, "values": values,
            }),
        )
        .await
    }

    /// Deletes a link definition on the link name `default`.
    pub async fn delete_link(&self, actor: &str, contract: &str) -> Ack {
        self.delete_link_named(actor, contract, "default").await
    }

    /// Deletes a link definition on `link_name`.
    pub async fn delete_link_named(&self, actor: &str, contract: &str, link_name: &str) -> Ack {
        self.command_lattice(
            CtlSubject::LinkDel,
            &serde_json::json!({ "actor_id": actor, "contract_id": contract, "link_name": link_name }),
        )
        .await
    }

    /// The data plane's own inventory, over its socket.
    pub async fn data_plane_inventory(&self) -> kiln_proto::dataplane::v1::InventoryResponse {
        let mut client = data_plane_client(&self.dir.path().join("dp.sock")).await;
        client
            .inventory(kiln_proto::dataplane::v1::InventoryRequest {})
            .await
            .expect("data plane inventory")
            .into_inner()
    }

    /// Launches an actor from a file and waits for the outcome (`actors_started` or
    /// `actor_start_failed`), returned as an ack.
    pub async fn launch(&self, path: &Path) -> Ack {
        self.launch_on(
            &self.host.public_key(),
            &format!("file://{}", path.display()),
            1,
        )
        .await
    }

    /// Launches `count` instances of the actor at `reference` on host `host_id` and
    /// waits for the outcome.
    pub async fn launch_on(&self, host_id: &str, reference: &str, count: u32) -> Ack {
        self.until_event(
            self.command_to(
                host_id,
                "la",
                &serde_json::json!({ "actor_ref": reference, "count": count }),
            ),
            |kind, data| match kind {
                "actors_started"
                    if data["image_ref"] == reference && data["host_id"] == host_id =>
                {
                    Some(Ack {
                        accepted: true,
                        error: String::new(),
                    })
                }
                "actor_start_failed" if data["actor_ref"] == reference => Some(Ack {
                    accepted: false,
                    error: data["error"].as_str().unwrap_or_default().to_string(),
                }),
                _ => None,
            },
        )
        .await
    }

    /// Launches the sample actor `name` (`actors/build/{name}_s.wasm`), asserting that
    /// it starts; returns its key.
    pub async fn launch_sample(&self, name: &str) -> String {
        let path = fixtures::sample_actor(name);
        let ack = self.launch(&path).await;
        assert!(ack.accepted, "{name}: {ack:?}\n{}", self.logs());
        fixtures::actor_key(&std::fs::read(path).expect("read the sample actor"))
    }

    /// Launches an actor from bytes written into the scratch directory.
    pub async fn launch_bytes(&self, name: &str, bytes: &[u8]) -> Ack {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write module");
        self.launch(&path).await
    }

    /// The host inventory (JSON, as the control interface returns it).
    pub async fn inventory(&self) -> serde_json::Value {
        let subject = self
            .ctl()
            .subject(CtlSubject::Inventory(&self.host.public_key()))
            .expect("a host key");
        let reply = self
            .client
            .request(subject, "".into())
            .await
            .expect("inventory");
        serde_json::from_slice(&reply.payload).expect("inventory JSON")
    }

    /// A correctly signed invocation of `actor`, from an actor origin.
    #[must_use]
    pub fn invocation(&self, actor: &str, operation: &str, payload: Vec<u8>) -> Invocation {
        let origin = Entity::actor(KeyKind::Module.generate().public_key());
        Invocation::new_signed(
            &self.cluster,
            origin,
            Entity::actor(actor),
            operation,
            payload,
            kiln_types::unix_now(),
        )
        .expect("signing")
    }

    /// Sends raw bytes to `actor`'s RPC subject and decodes the response.
    pub async fn send_raw(&self, actor: &str, bytes: Vec<u8>) -> InvocationResponse {
        let subject = subjects::actor_rpc(&self.lattice, actor);
        let reply = tokio::time::timeout(
            Duration::from_secs(10),
            self.client.request(subject, bytes.into()),
        )
        .await
        .expect("reply in time")
        .expect("rpc request");
        InvocationResponse::decode(&reply.payload).expect("an InvocationResponse")
    }

    /// Calls `actor` with a signed invocation; `None` when nothing answers (no
    /// responders, a timeout) or the answer is not a response.
    pub async fn try_invoke(
        &self,
        actor: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> Option<InvocationResponse> {
        let subject = subjects::actor_rpc(&self.lattice, actor);
        let call = self.invocation(actor, operation, payload).encode();
        let reply = tokio::time::timeout(
            Duration::from_secs(5),
            self.client.request(subject, call.into()),
        )
        .await
        .ok()?
        .ok()?;
        InvocationResponse::decode(&reply.payload).ok()
    }

    /// Sends an invocation and decodes the response.
    pub async fn send(&self, invocation: &Invocation) -> InvocationResponse {
        self.send_raw(&invocation.target.public_key, invocation.encode())
            .await
    }

    /// Calls `actor` with a signed invocation.
    pub async fn invoke(
        &self,
        actor: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> InvocationResponse {
        self.send(&self.invocation(actor, operation, payload)).await
    }

    /// A plain HTTP/1.1 GET of `path` on the status server; returns (status, body).
    pub async fn http_get(&self, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.http_port))
            .await
            .expect("connect to the status page");
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send request");
        let mut raw = String::new();
        stream
            .read_to_string(&mut raw)
            .await
            .expect("read response");
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        (status, body.to_string())
    }

    /// Pushes `file` to the plain-HTTP registry at `reference` with `kiln push`, and
    /// `extra` arguments (credentials); fails the test when it does not push.
    pub async fn push(&self, reference: &str, file: &Path, extra: &[&str]) {
        let file = file.to_str().expect("a UTF-8 path");
        let mut args = vec!["push", reference, file, "--insecure"];
        args.extend_from_slice(extra);
        let (ok, out, err) = self.cli(&args).await;
        assert!(ok, "push {reference}: {err}");
        assert!(out.starts_with("pushed"), "{out}");
    }

    /// Runs the `kiln` CLI against this lattice; returns (success, stdout, stderr).
    pub async fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let output = tokio::process::Command::new(binary("kiln"))
            .args(args)
            .env("WASMCLOUD_RPC_PORT", self.nats.port.to_string())
            .env("WASMCLOUD_CTL_PORT", self.nats.port.to_string())
            .env("KILN_API", format!("http://127.0.0.1:{}", self.api_port))
            .env("WASMCLOUD_LATTICE_PREFIX", &self.lattice)
            .env("WASMCLOUD_CLUSTER_SEED", self.cluster.seed().expect("seed"))
            .output()
            .await
            .expect("run kiln");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

/// Another host on a harness's lattice.
pub struct Peer {
    /// Its data plane.
    pub data_plane: Process,
    /// Its control plane.
    pub control_plane: Process,
    /// Its host key.
    pub host: KeyPair,
    /// Port of its status page.
    pub http_port: u16,
    /// Port of its gRPC control API.
    pub api_port: u16,
}

impl Peer {
    /// Its host id.
    #[must_use]
    pub fn id(&self) -> String {
        self.host.public_key()
    }

    /// Both planes' logs.
    #[must_use]
    pub fn logs(&self) -> String {
        format!(
            "--- peer control plane ---\n{}\n--- peer data plane ---\n{}",
            self.control_plane.log(),
            self.data_plane.log()
        )
    }
}

/// Waits until the control plane of `host_id` answers its inventory subject and says
/// its data plane is ready.
async fn wait_serving(
    client: &async_nats::Client,
    lattice: &str,
    host_id: &str,
    http_port: u16,
) -> Result<(), String> {
    let subject = subjects::Ctl::new(subjects::DEFAULT_CTL_PREFIX, lattice)
        .subject(CtlSubject::Inventory(host_id))
        .map_err(|e| e.to_string())?;
    let answered = eventually(Duration::from_secs(20), || async {
        client.request(subject.clone(), "".into()).await.is_ok()
    })
    .await;
    if !answered {
        return Err("control plane never answered".into());
    }
    let ready = eventually(Duration::from_secs(20), || async {
        http(http_port, "GET", "/api/readyz", b"")
            .await
            .is_ok_and(|(status, _)| status == 200)
    })
    .await;
    if ready {
        Ok(())
    } else {
        Err("the data plane never connected".into())
    }
}

fn log_level(options: &Options) -> &str {
    options
        .log
        .as_deref()
        .unwrap_or("info,kiln_control_plane=debug")
}

/// A data plane listening on `dir/dp.sock`, as the harness starts it.
pub fn start_data_plane(dir: &Path, options: &Options) -> Process {
    let mut args = vec![
        "--listen".to_string(),
        format!("unix:{}", dir.join("dp.sock").display()),
        "--cache-dir".to_string(),
        dir.join("dp-cache").display().to_string(),
    ];
    // A small pool unless the test sizes its own.
    if !options
        .data_plane_args
        .iter()
        .any(|a| a == "--max-instances")
    {
        args.extend(["--max-instances".to_string(), "200".to_string()]);
    }
    args.extend(options.data_plane_args.iter().cloned());
    Process::spawn_with_env(
        "data-plane",
        dir,
        binary("kiln-data-plane"),
        log_level(options),
        args,
        &options.env,
    )
}

fn control_plane_args(
    dir: &Path,
    nats: &Nats,
    cluster: &KeyPair,
    host: &KeyPair,
    lattice: &str,
    (http_port, api_port): (u16, u16),
    extra: &[String],
) -> Vec<String> {
    let mut args = vec![
        "--lattice-prefix".to_string(),
        lattice.to_string(),
        "--rpc-port".to_string(),
        nats.port.to_string(),
        "--ctl-port".to_string(),
        nats.port.to_string(),
        "--cluster-seed".to_string(),
        cluster.seed().expect("seed"),
        "--host-seed".to_string(),
        host.seed().expect("seed"),
        "--data-plane".to_string(),
        format!("unix:{}", dir.join("dp.sock").display()),
        "--http-addr".to_string(),
        format!("127.0.0.1:{http_port}"),
        "--api-addr".to_string(),
        format!("127.0.0.1:{api_port}"),
    ];
    // Tests load actors from files unless they say otherwise.
    if !extra.iter().any(|a| a == "--allow-file-load") {
        args.extend(["--allow-file-load".to_string(), "true".to_string()]);
    }
    args.extend(extra.iter().cloned());
    args
}

/// A control API client on `port` (plaintext, loopback).
pub async fn api_client(
    port: u16,
) -> kiln_proto::control::v1::control_api_client::ControlApiClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect to the control API");
    kiln_proto::control::v1::control_api_client::ControlApiClient::new(channel)
}

/// A gRPC client on a data plane's unix socket.
pub async fn data_plane_client(
    socket: &Path,
) -> kiln_proto::dataplane::v1::data_plane_client::DataPlaneClient<tonic::transport::Channel> {
    let socket = socket.to_path_buf();
    let channel = tonic::transport::Endpoint::from_static("http://data-plane.local")
        .connect_with_connector(tower::service_fn(move |_| {
            let socket = socket.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(socket).await?,
                ))
            }
        }))
        .await
        .expect("connect to the data plane socket");
    kiln_proto::dataplane::v1::data_plane_client::DataPlaneClient::new(channel)
}

/// One HTTP/1.1 request to `127.0.0.1:port`; returns (status, body).
///
/// # Errors
/// When nothing listens there or the answer is not HTTP.
pub async fn http(
    port: u16,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no HTTP header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok((status, body))
}

/// Decodes an HTTP/1.1 chunked body.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&raw[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        body.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
    body
}

/// Annotations for commands.
#[must_use]
pub fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}
