//! A client of the NATS control interface, as `kiln ctl` and the gRPC API (for other
//! hosts) use it: requests on the control subjects of [`crate::subjects::Ctl`], typed
//! bodies in (`kiln_types::ctl`), the answers of every host gathered, and the event that
//! reports a background command waited for.

use std::time::Duration;

use anyhow::bail;
use futures::StreamExt as _;
use serde::Serialize;

use crate::subjects::{self, Command, CtlSubject};

/// A control-interface client.
#[derive(Debug, Clone)]
pub struct Client {
    nats: async_nats::Client,
    subjects: subjects::Ctl,
    lattice: String,
    timeout: Duration,
}

/// Why a command over the control interface did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// Nobody answered (or NATS could not be used).
    #[error("no answer on {subject}: {reason}")]
    NoAnswer {
        /// Subject asked.
        subject: String,
        /// Why.
        reason: String,
    },
    /// The host refused the command; its reason.
    #[error("refused: {0}")]
    Refused(String),
    /// The host accepted, then reported a failure; its reason.
    #[error("failed: {0}")]
    Failed(String),
    /// The request names something that cannot be part of a subject (a host id that is
    /// no key, a wildcard).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Accepted, but no outcome event in time.
    #[error("accepted, but no outcome within {0:?} (use --timeout-ms to wait longer)")]
    NoOutcome(Duration),
}

impl From<subjects::BadToken> for CtlError {
    fn from(bad: subjects::BadToken) -> CtlError {
        CtlError::Invalid(bad.to_string())
    }
}

impl Client {
    /// A client of the control subjects under `prefix` (usually
    /// [`subjects::DEFAULT_CTL_PREFIX`]) of `lattice` over `nats`, waiting `timeout`
    /// for answers and outcomes.
    #[must_use]
    pub fn new(nats: async_nats::Client, prefix: &str, lattice: &str, timeout: Duration) -> Client {
        Client {
            nats,
            subjects: subjects::Ctl::new(prefix, lattice),
            lattice: lattice.to_string(),
            timeout,
        }
    }

    /// The control subjects it asks on.
    #[must_use]
    pub fn subjects(&self) -> &subjects::Ctl {
        &self.subjects
    }

    /// One request, one JSON answer.
    ///
    /// # Errors
    /// No answer in time, or an answer that is not JSON.
    pub async fn request<T: Serialize + ?Sized>(
        &self,
        which: CtlSubject<'_>,
        body: &T,
    ) -> Result<serde_json::Value, CtlError> {
        let subject = self.subjects.subject(which)?;
        let body = serde_json::to_vec(body).map_err(|e| CtlError::Invalid(e.to_string()))?;
        let no_answer = |reason: String| CtlError::NoAnswer {
            subject: subject.clone(),
            reason,
        };
        let reply = self
            .nats
            .request(subject.clone(), body.into())
            .await
            .map_err(|e| no_answer(e.to_string()))?;
        kiln_types::decode::json(
            "a control reply",
            &reply.payload,
            kiln_types::limits::JSON_BODY,
        )
        .map_err(|e| no_answer(format!("the answer is not JSON: {e}")))
    }

    /// Starts an actor on `host` and, with `wait`, returns the `actors_started` data
    /// once it runs (the ack otherwise).
    ///
    /// # Errors
    /// See [`CtlError`].
    pub async fn start_actor(
        &self,
        host: &str,
        body: &kiln_types::ctl::LaunchActor,
        wait: bool,
    ) -> Result<serde_json::Value, CtlError> {
        let reference = body.actor_ref.as_str();
        self.command_then_event(
            host,
            Command::LaunchActor,
            body,
            wait,
            |kind, data| match kind {
                "actors_started" if data["image_ref"] == reference && data["host_id"] == host => {
                    Some(Ok(()))
                }
                "actor_start_failed" if data["actor_ref"] == reference => {
                    Some(Err(data["error"].as_str().unwrap_or_default().to_string()))
                }
                _ => None,
            },
        )
        .await
    }

    /// Starts a provider on `host` and, with `wait`, returns the `provider_started`
    /// data once it runs (the ack otherwise).
    ///
    /// # Errors
    /// See [`CtlError`].
    pub async fn start_provider(
        &self,
        host: &str,
        body: &kiln_types::ctl::LaunchProvider,
        wait: bool,
    ) -> Result<serde_json::Value, CtlError> {
        let reference = body.provider_ref.as_str();
        let link = kiln_types::link::name_or_default(&body.link_name);
        self.command_then_event(
            host,
            Command::LaunchProvider,
            body,
            wait,
            |kind, data| match kind {
                "provider_started"
                    if data["image_ref"] == reference && data["link_name"] == link =>
                {
                    Some(Ok(()))
                }
                "provider_start_failed" if data["provider_ref"] == reference => {
                    Some(Err(data["error"].as_str().unwrap_or_default().to_string()))
                }
                _ => None,
            },
        )
        .await
    }

    /// A command to `host` whose ack is the outcome.
    ///
    /// # Errors
    /// No answer, or a refused ack.
    pub async fn command<T: Serialize + ?Sized>(
        &self,
        host: &str,
        command: Command,
        body: &T,
    ) -> Result<serde_json::Value, CtlError> {
        let ack = self
            .request(CtlSubject::Command(host, command.token()), body)
            .await?;
        check_ack(&ack)?;
        Ok(ack)
    }

    /// The inventory of `host`.
    ///
    /// # Errors
    /// No answer, or an answer that is not JSON.
    pub async fn inventory(&self, host: &str) -> Result<serde_json::Value, CtlError> {
        self.request(CtlSubject::Inventory(host), &serde_json::json!({}))
            .await
    }

    /// Every answer to `which` within a second (or the timeout, if shorter).
    ///
    /// # Errors
    /// When NATS refuses the subscription or the publish.
    pub async fn gather<T: Serialize + ?Sized>(
        &self,
        which: CtlSubject<'_>,
        body: &T,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let subject = self.subjects.subject(which)?;
        let inbox = self.nats.new_inbox();
        let mut replies = self.nats.subscribe(inbox.clone()).await?;
        self.nats
            .publish_with_reply(subject, inbox, serde_json::to_vec(body)?.into())
            .await?;
        let mut answers = Vec::new();
        let deadline = tokio::time::Instant::now() + self.timeout.min(Duration::from_secs(1));
        while let Ok(Some(reply)) = tokio::time::timeout_at(deadline, replies.next()).await {
            if let Ok(answer) = kiln_types::decode::json(
                "a control reply",
                &reply.payload,
                kiln_types::limits::JSON_BODY,
            ) {
                answers.push(answer);
            }
        }
        Ok(answers)
    }

    /// `host`, or the first host that answers a ping.
    ///
    /// # Errors
    /// When no host answers.
    pub async fn host_or_first(&self, host: Option<String>) -> anyhow::Result<String> {
        if let Some(host) = host {
            return Ok(host);
        }
        let hosts = self
            .gather(CtlSubject::PingHosts, &serde_json::json!({}))
            .await?;
        match hosts.first().and_then(|h| h["id"].as_str()) {
            Some(id) => Ok(id.to_string()),
            None => bail!("no host answered on {}.ping.hosts", self.subjects.root()),
        }
    }

    /// The lattice's events, from now on.
    ///
    /// # Errors
    /// When NATS refuses the subscription.
    pub async fn events(&self) -> anyhow::Result<async_nats::Subscriber> {
        let events = self.nats.subscribe(subjects::events(&self.lattice)).await?;
        self.nats.flush().await?;
        Ok(events)
    }

    /// Sends a command whose outcome arrives as an event: `outcome` sees each event's
    /// type (without `com.wasmcloud.lattice.`) and data and returns `Some(Ok)` for
    /// success, `Some(Err(reason))` for failure. With `wait` false, the ack is the result.
    ///
    /// # Errors
    /// A refused ack, a failure event, or no outcome within the timeout.
    pub async fn command_then_event<T: Serialize + ?Sized>(
        &self,
        host: &str,
        command: Command,
        body: &T,
        wait: bool,
        outcome: impl Fn(&str, &serde_json::Value) -> Option<Result<(), String>>,
    ) -> Result<serde_json::Value, CtlError> {
        let mut events = self.events().await.map_err(|e| CtlError::NoAnswer {
            subject: subjects::events(&self.lattice),
            reason: format!("{e:#}"),
        })?;
        let ack = self
            .request(CtlSubject::Command(host, command.token()), body)
            .await?;
        check_ack(&ack)?;
        if !wait {
            return Ok(ack);
        }
        let wait_for = async {
            while let Some(message) = events.next().await {
                let Ok(event) = kiln_types::decode::json::<serde_json::Value>(
                    "an event",
                    &message.payload,
                    kiln_types::limits::JSON_BODY,
                ) else {
                    continue;
                };
                let kind = event["type"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches("com.wasmcloud.lattice.");
                if let Some(result) = outcome(kind, &event["data"]) {
                    return result.map(|()| event["data"].clone());
                }
            }
            Err("the event stream ended".to_string())
        };
        match tokio::time::timeout(self.timeout, wait_for).await {
            Err(_) => Err(CtlError::NoOutcome(self.timeout)),
            Ok(Err(reason)) => Err(CtlError::Failed(reason)),
            Ok(Ok(data)) => Ok(data),
        }
    }
}

/// An accepted ack, or its reason as the error.
///
/// # Errors
/// The ack's reason when it was not accepted.
pub fn check_ack(ack: &serde_json::Value) -> Result<(), CtlError> {
    if ack["accepted"].as_bool() == Some(true) {
        Ok(())
    } else {
        Err(CtlError::Refused(
            ack["error"]
                .as_str()
                .unwrap_or("no reason given")
                .to_string(),
        ))
    }
}
