//! The data plane's end of the host-call back-channel.
//!
//! Actors' host calls (other than the builtins) leave through the one `HostCalls.Open`
//! stream that the control plane keeps open, and their replies come back on it by id.

use bytes::Bytes;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use kiln_proto::dataplane::v1::{HostCallReply, HostCallRequest, host_call_reply};
use kiln_telemetry::TraceContext;
use kiln_types::waiting::Waiting;
use tokio::sync::{mpsc, oneshot};

/// A host call as the guest made it.
#[derive(Debug, Clone)]
pub struct HostCall {
    /// Calling actor.
    pub actor: String,
    /// Link name.
    pub binding: String,
    /// Contract id, actor key or call alias.
    pub namespace: String,
    /// Operation.
    pub operation: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// The invocation the actor is serving.
    pub invocation_id: String,
    /// Trace context of the data plane's span of this host call.
    pub trace: TraceContext,
}

type Pending = oneshot::Sender<Result<Bytes, String>>;
type Sender = mpsc::Sender<Result<HostCallRequest, tonic::Status>>;

const DISCONNECTED: &str = "host call failed: the control plane disconnected";

/// The current stream and the calls waiting on any stream, under one lock: a call is
/// either registered while its stream is open, or refused.
type Route = Waiting<Sender, Pending>;

/// Routes host calls to the control plane and replies back to the waiting guests.
#[derive(Debug, Default)]
pub struct Broker {
    route: Mutex<Route>,
    next_id: AtomicU64,
}

/// Requests queued on a stream before senders wait.
const OUTBOUND_QUEUE: usize = 1024;

impl Broker {
    /// Sends `call` to the control plane and waits for its reply.
    ///
    /// # Errors
    /// The control plane's error text, or why the call could not be sent.
    pub async fn call(&self, call: HostCall) -> Result<Bytes, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let sender = self
            .lock()
            .register(id, tx)
            .map_err(|_| "host call failed: no control plane is connected".to_string())?;
        let request = HostCallRequest {
            id,
            actor: call.actor,
            binding: call.binding,
            namespace: call.namespace,
            operation: call.operation,
            payload: call.payload.into(),
            invocation_id: call.invocation_id,
            traceparent: call.trace.traceparent,
            tracestate: call.trace.tracestate,
        };
        if sender.send(Ok(request)).await.is_err() {
            self.lock().take(id);
            return Err(DISCONNECTED.into());
        }
        // A guest future dropped at its deadline leaves its entry behind; it is removed
        // when the reply arrives or its stream closes.
        rx.await.unwrap_or_else(|_| Err(DISCONNECTED.into()))
    }

    /// Makes a new stream the route for host calls, replacing any older one. Returns the
    /// receiving end of requests and a token for [`Broker::detach`].
    pub fn attach(&self) -> (u64, mpsc::Receiver<Result<HostCallRequest, tonic::Status>>) {
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        (self.lock().attach(tx), rx)
    }

    /// Forgets the route if `stream` is still the current one, and fails the calls
    /// that wait on that stream.
    pub fn detach(&self, stream: u64) {
        let lost = self.lock().detach(stream);
        for waiter in lost {
            let _ = waiter.send(Err(DISCONNECTED.into()));
        }
    }

    /// Delivers a reply to the guest waiting for it; replies nobody waits for are dropped.
    pub fn reply(&self, reply: HostCallReply) {
        let Some(waiter) = self.lock().take(reply.id) else {
            return;
        };
        let result = match reply.result {
            Some(host_call_reply::Result::Payload(bytes)) => Ok(bytes),
            Some(host_call_reply::Result::Error(message)) => Err(message),
            None => Err("host call failed: empty reply from the control plane".into()),
        };
        let _ = waiter.send(result);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Route> {
        self.route
            .lock()
            .expect("invariant: broker lock is never poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> HostCall {
        HostCall {
            actor: "M1".into(),
            binding: String::new(),
            namespace: "demo/ponger".into(),
            operation: "Ping".into(),
            payload: b"hi".to_vec(),
            invocation_id: "inv".into(),
            trace: TraceContext::new(
                Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                None,
            ),
        }
    }

    #[tokio::test]
    async fn fails_clearly_without_a_control_plane() {
        let broker = Broker::default();
        let err = broker.call(call()).await.unwrap_err();
        assert_eq!(err, "host call failed: no control plane is connected");
    }

    #[tokio::test]
    async fn routes_replies_by_id() {
        let broker = std::sync::Arc::new(Broker::default());
        let (_, mut requests) = broker.attach();
        let waiting = tokio::spawn({
            let broker = broker.clone();
            async move { broker.call(call()).await }
        });
        let request = requests.recv().await.unwrap().unwrap();
        assert_eq!(request.namespace, "demo/ponger");
        assert_eq!(
            request.traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "the trace context travels with each request"
        );
        broker.reply(HostCallReply {
            id: request.id,
            result: Some(host_call_reply::Result::Payload(Bytes::from_static(
                b"pong",
            ))),
        });
        assert_eq!(waiting.await.unwrap().unwrap(), &b"pong"[..]);
    }

    #[tokio::test]
    async fn detaching_fails_waiting_calls() {
        let broker = std::sync::Arc::new(Broker::default());
        let (stream, mut requests) = broker.attach();
        let waiting = tokio::spawn({
            let broker = broker.clone();
            async move { broker.call(call()).await }
        });
        requests.recv().await.unwrap().unwrap();
        broker.detach(stream);
        assert!(waiting.await.unwrap().unwrap_err().contains("disconnected"));
    }
}
