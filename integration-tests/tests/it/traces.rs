//! OpenTelemetry traces end to end: an in-process OTLP/gRPC receiver, both planes and
//! the httpserver and keyvalue providers exporting to it, and one HTTP request through
//! the kvcounter demo that must come back as one connected trace across all four; and
//! an OTLP/HTTP receiver, for collectors that take only HTTP.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiln_integration_tests::{Harness, Options, Redis, eventually, fixtures, http, process};
use kiln_wasmbus::subjects;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

/// An OTLP trace receiver on a free loopback port that keeps every export.
#[derive(Clone, Default)]
struct Collector {
    received: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.received.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Collector {
    /// Serves until the test ends; returns the collector and its port.
    async fn start() -> (Collector, u16) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let collector = Collector::default();
        let server = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        tokio::spawn(server);
        (collector, port)
    }

    /// Receives OTLP/HTTP (protobuf bodies posted to `/v1/traces`) instead; returns the
    /// collector and its port.
    async fn start_http() -> (Collector, u16) {
        use axum::body::Bytes;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let collector = Collector::default();
        let kept = collector.received.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: Bytes| {
                let kept = kept.clone();
                async move {
                    let export =
                        <ExportTraceServiceRequest as prost::Message>::decode(body).unwrap();
                    kept.lock().unwrap().push(export);
                    let reply = prost::Message::encode_to_vec(&ExportTraceServiceResponse {
                        partial_success: None,
                    });
                    ([("content-type", "application/x-protobuf")], reply)
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        (collector, port)
    }

    /// Every span received so far, with the `service.name` of its resource.
    fn spans(&self) -> Vec<Received> {
        let received = self.received.lock().unwrap();
        let mut spans = Vec::new();
        for export in received.iter() {
            for resource in &export.resource_spans {
                let service = resource
                    .resource
                    .as_ref()
                    .and_then(|r| text(&r.attributes, "service.name"))
                    .unwrap_or_default();
                for scope in &resource.scope_spans {
                    for span in &scope.spans {
                        spans.push(Received {
                            service: service.clone(),
                            name: span.name.clone(),
                            kind: span.kind,
                            trace: hex(&span.trace_id),
                            id: hex(&span.span_id),
                            parent: hex(&span.parent_span_id),
                            attributes: span
                                .attributes
                                .iter()
                                .filter_map(|kv| Some((kv.key.clone(), value(kv)?)))
                                .collect(),
                        });
                    }
                }
            }
        }
        spans
    }
}

/// One exported span, flattened.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    kind: i32,
    trace: String,
    id: String,
    parent: String,
    attributes: HashMap<String, String>,
}

impl Received {
    fn attribute(&self, key: &str) -> &str {
        self.attributes.get(key).map_or("", String::as_str)
    }

    fn is(&self, service: &str, kind: SpanKind) -> bool {
        self.service == service && self.kind == kind as i32
    }
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

fn value(kv: &KeyValue) -> Option<String> {
    Some(match kv.value.as_ref()?.value.as_ref()? {
        Value::StringValue(s) => s.clone(),
        Value::IntValue(i) => i.to_string(),
        Value::BoolValue(b) => b.to_string(),
        Value::DoubleValue(d) => d.to_string(),
        _ => return None,
    })
}

fn text(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).and_then(value)
}

/// The spans of the trace of the HTTP request for `path`.
fn trace_of(spans: &[Received], path: &str) -> Vec<Received> {
    let Some(root) = spans
        .iter()
        .find(|s| s.service == "kiln-httpserver" && s.attribute("url.path") == path)
    else {
        return Vec::new();
    };
    spans
        .iter()
        .filter(|s| s.trace == root.trace)
        .cloned()
        .collect()
}

/// Whether `ancestor` is `span` or one of its ancestors in `trace`.
fn descends(trace: &[Received], span: &Received, ancestor: &Received) -> bool {
    let by_id: HashMap<&str, &Received> = trace.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut current = Some(span);
    let mut hops = 0;
    while let Some(s) = current {
        if s.id == ancestor.id {
            return true;
        }
        hops += 1;
        if hops > trace.len() {
            return false;
        }
        current = by_id.get(s.parent.as_str()).copied();
    }
    false
}

/// The one span of `trace` that `pick` selects.
fn one<'a>(
    trace: &'a [Received],
    what: &str,
    pick: impl Fn(&Received) -> bool,
) -> Result<&'a Received, String> {
    let found: Vec<&Received> = trace.iter().filter(|s| pick(s)).collect();
    match found.as_slice() {
        [span] => Ok(span),
        [] => Err(format!("no {what} span yet")),
        many => Err(format!("{} {what} spans", many.len())),
    }
}

/// Checks the request's trace; the reason when it does not (yet) hold.
fn check(trace: &[Received], lattice: &str, counter: &str) -> Result<(), String> {
    let services: HashSet<&str> = trace.iter().map(|s| s.service.as_str()).collect();
    for service in [
        "kiln-httpserver",
        "kiln-control-plane",
        "kiln-data-plane",
        "kiln-keyvalue",
    ] {
        if !services.contains(service) {
            return Err(format!("no span from {service} in the trace yet"));
        }
    }

    // One root: the httpserver's HTTP server span.
    let roots: Vec<&Received> = trace.iter().filter(|s| s.parent.is_empty()).collect();
    let http = match roots.as_slice() {
        [root] => *root,
        _ => return Err(format!("{} roots in the trace", roots.len())),
    };
    if !(http.is("kiln-httpserver", SpanKind::Server)
        && http.attribute("http.request.method") == "GET"
        && http.attribute("http.response.status_code") == "200")
    {
        return Err(format!("the root is not the HTTP server span: {http:?}"));
    }
    // Every other parent is a span of the same trace.
    let ids: HashSet<&str> = trace.iter().map(|s| s.id.as_str()).collect();
    if let Some(orphan) = trace
        .iter()
        .find(|s| !s.parent.is_empty() && !ids.contains(s.parent.as_str()))
    {
        return Err(format!("parent of {orphan:?} not received (yet)"));
    }

    // The chain: HTTP → control plane receives → data plane invokes → host call →
    // keyvalue provider.
    let actor_subject = subjects::actor_rpc(lattice, counter);
    let received = one(trace, "control-plane invocation", |s| {
        s.is("kiln-control-plane", SpanKind::Server)
            && s.attribute("messaging.destination.name") == actor_subject
    })?;
    let invoke = one(trace, "data-plane invocation", |s| {
        s.is("kiln-data-plane", SpanKind::Server)
            && s.attribute("rpc.service") == "kiln.dataplane.v1.DataPlane"
            && s.attribute("wasmcloud.actor.key") == counter
    })?;
    let host_call = one(trace, "data-plane host call", |s| {
        s.is("kiln-data-plane", SpanKind::Client)
            && s.attribute("rpc.service") == "kiln.dataplane.v1.HostCalls"
            && s.attribute("wasmbus.namespace") == "wasmcloud:keyvalue"
    })?;
    let keyvalue = one(trace, "keyvalue provider", |s| {
        s.is("kiln-keyvalue", SpanKind::Server)
            && s.attribute("messaging.operation.type") == "process"
            && s.attribute("wasmcloud.actor.key") == counter
    })?;
    for (child, parent) in [
        (received, http),
        (invoke, received),
        (host_call, invoke),
        (keyvalue, host_call),
    ] {
        if !descends(trace, child, parent) {
            return Err(format!(
                "{} ({}) does not descend from {} ({})",
                child.name, child.service, parent.name, parent.service
            ));
        }
    }
    // Each hop's direct parent is the calling process's client span.
    for (child, caller) in [
        (received, "kiln-httpserver"),
        (invoke, "kiln-control-plane"),
        (keyvalue, "kiln-control-plane"),
    ] {
        let parent = trace.iter().find(|s| s.id == child.parent);
        if !parent.is_some_and(|p| p.is(caller, SpanKind::Client)) {
            return Err(format!(
                "the parent of {} is {parent:?}, not a client span of {caller}",
                child.name
            ));
        }
    }
    // And the control plane answers the host call in a child of the data plane's span.
    if !trace
        .iter()
        .any(|s| s.is("kiln-control-plane", SpanKind::Server) && s.parent == host_call.id)
    {
        return Err("no control-plane host-call span under the data plane's".into());
    }
    Ok(())
}

#[tokio::test]
async fn one_http_request_is_one_trace_across_every_process() {
    let (collector, collector_port) = Collector::start().await;
    let h = Harness::with(Options {
        env: vec![
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
                format!("http://127.0.0.1:{collector_port}"),
            ),
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
        ],
        // The production log level: the spans are exported even though the log
        // shows info only.
        log: Some("info".into()),
        ..Options::default()
    })
    .await;
    let redis = Redis::start(h.dir.path()).await;
    let counter_path = fixtures::sample_actor("kvcounter");
    assert!(h.launch(&counter_path).await.accepted, "{}", h.logs());
    let counter = fixtures::actor_key(&std::fs::read(&counter_path).unwrap());
    let mut providers = Vec::new();
    for name in ["httpserver", "keyvalue"] {
        let archive = fixtures::provider_archive(name);
        let ack = h.launch_provider(&archive, "default").await;
        assert!(ack.accepted, "{name}: {ack:?}\n{}", h.logs());
        providers.push(fixtures::provider_key(&archive));
    }
    let (httpserver, keyvalue) = (&providers[0], &providers[1]);
    assert!(
        h.put_link(
            &counter,
            keyvalue,
            "wasmcloud:keyvalue",
            &[("URL", &redis.url())]
        )
        .await
        .accepted
    );
    let port = process::free_port();
    let address = format!("127.0.0.1:{port}");
    assert!(
        h.put_link(
            &counter,
            httpserver,
            "wasmcloud:httpserver",
            &[("address", &address)]
        )
        .await
        .accepted
    );
    // Wait for the listener without sending a request (that would be a trace of its own).
    let listening = eventually(Duration::from_secs(10), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    assert!(listening, "nothing listens on {address}\n{}", h.logs());

    let path = "/traced";
    let (status, body) = http(port, "GET", path, b"").await.unwrap();
    assert_eq!(
        (status, String::from_utf8_lossy(&body).as_ref()),
        (200, r#"{"counter":1}"#),
        "{}",
        h.logs()
    );

    let mut outcome = Err("nothing received".to_string());
    let complete = eventually(Duration::from_secs(15), || {
        let trace = trace_of(&collector.spans(), path);
        outcome = check(&trace, &h.lattice, &counter);
        let done = outcome.is_ok();
        async move { done }
    })
    .await;
    if !complete {
        let spans = collector.spans();
        let trace = trace_of(&spans, path);
        let dump: Vec<String> = trace
            .iter()
            .map(|s| {
                format!(
                    "{:<20} {:<70} kind={} id={} parent={}",
                    s.service, s.name, s.kind, s.id, s.parent
                )
            })
            .collect();
        let services: HashSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
        panic!(
            "{}\nservices heard from: {services:?}\ntrace:\n{}\n{}",
            outcome.unwrap_err(),
            dump.join("\n"),
            h.logs()
        );
    }
}

#[tokio::test]
async fn traces_go_over_otlp_http_when_the_protocol_says_so() {
    let (collector, port) = Collector::start_http().await;
    let h = Harness::with(Options {
        env: vec![
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
                format!("http://127.0.0.1:{port}"),
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/protobuf".into()),
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
        ],
        ..Options::default()
    })
    .await;
    let echo = h.launch_sample("echo").await;
    let response = h
        .invoke(&echo, "HttpServer.HandleRequest", http::get("/traced"))
        .await;
    assert_eq!(response.error, None);
    let both = eventually(Duration::from_secs(10), || {
        let spans = collector.spans();
        async move {
            let services: HashSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
            services.contains("kiln-control-plane") && services.contains("kiln-data-plane")
        }
    })
    .await;
    assert!(
        both,
        "spans from both planes over HTTP: {:?}\n{}",
        collector
            .spans()
            .iter()
            .map(|s| (&s.service, &s.name))
            .collect::<Vec<_>>(),
        h.logs()
    );
}
