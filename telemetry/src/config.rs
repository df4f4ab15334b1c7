//! Which traces to export and where, from the standard OpenTelemetry variables.
//!
//! Traces are off unless an OTLP endpoint is given (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
//! or `OTEL_EXPORTER_OTLP_ENDPOINT`) or `OTEL_TRACES_EXPORTER` names `otlp`; then they
//! go over gRPC, or over HTTP with `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL=http/protobuf`
//! (also taken when the protocol is unset and the endpoint is on the spec's OTLP/HTTP
//! port, 4318, where the OTP host's exporter sent by default). `OTEL_TRACES_EXPORTER=none` and `OTEL_SDK_DISABLED=true` turn them off
//! whatever else is set. Other standard variables (`OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_BSP_*`, `OTEL_TRACES_SAMPLER`,
//! `OTEL_RESOURCE_ATTRIBUTES`) are read by the OpenTelemetry SDK itself.

/// Endpoint for every signal.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Endpoint for traces; wins over [`OTEL_EXPORTER_OTLP_ENDPOINT`].
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// `otlp` (the only exporter kiln has) or `none`.
pub const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
/// `true` turns the SDK off.
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// The `service.name` resource attribute.
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// `key=value,…` resource attributes; `service.name` there is used when
/// [`OTEL_SERVICE_NAME`] is not set.
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// `grpc` or `http/protobuf`.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// The protocol for traces; wins over [`OTEL_EXPORTER_OTLP_PROTOCOL`].
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";

/// Where OTLP/gRPC goes when only `OTEL_TRACES_EXPORTER=otlp` is set (the spec's default).
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://localhost:4317";
/// Where OTLP/HTTP goes by default (the spec's port), before `/v1/traces`.
pub const DEFAULT_OTLP_HTTP_ENDPOINT: &str = "http://localhost:4318";
/// The port the specification gives OTLP/HTTP.
const OTLP_HTTP_PORT: &str = "4318";

/// How spans travel to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC.
    Grpc,
    /// OTLP over HTTP with protobuf bodies (plain HTTP).
    HttpProtobuf,
}

/// Telemetry settings of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `service.name` of the spans this process exports.
    pub service_name: String,
    /// Where spans go: the collector's gRPC endpoint, or the full URL spans are posted
    /// to over HTTP; `None` turns traces off, and then no exporter, tracer or
    /// OpenTelemetry layer exists at all.
    pub endpoint: Option<String>,
    /// How they go there.
    pub protocol: Protocol,
    /// Settings that were ignored, and why; logged once logging is up.
    pub ignored: Vec<String>,
}

impl Config {
    /// Traces off, logs only.
    #[must_use]
    pub fn logs_only(service_name: &str) -> Config {
        Config {
            service_name: service_name.to_string(),
            endpoint: None,
            protocol: Protocol::Grpc,
            ignored: Vec::new(),
        }
    }

    /// Reads the `OTEL_*` variables among `vars` (pass `std::env::vars()`);
    /// `default_service` names the service when neither `OTEL_SERVICE_NAME` nor
    /// `OTEL_RESOURCE_ATTRIBUTES` does.
    #[must_use]
    pub fn from_vars(
        default_service: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Config {
        let vars: std::collections::HashMap<String, String> = vars
            .into_iter()
            .filter(|(k, v)| k.starts_with("OTEL_") && !v.trim().is_empty())
            .map(|(k, v)| (k, v.trim().to_string()))
            .collect();
        let get = |name: &str| vars.get(name).map(String::as_str);
        let mut ignored = Vec::new();

        let service_name = get(OTEL_SERVICE_NAME)
            .map(str::to_string)
            .or_else(|| get(OTEL_RESOURCE_ATTRIBUTES).and_then(service_name_attribute))
            .unwrap_or_else(|| default_service.to_string());

        let exporters: Vec<String> = get(OTEL_TRACES_EXPORTER)
            .map(|list| {
                list.split(',')
                    .map(|e| e.trim().to_ascii_lowercase())
                    .filter(|e| !e.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        for other in exporters.iter().filter(|e| *e != "otlp" && *e != "none") {
            ignored.push(format!(
                "{OTEL_TRACES_EXPORTER}: exporter {other:?} is not supported (only otlp)"
            ));
        }
        let disabled = get(OTEL_SDK_DISABLED).is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || exporters.iter().any(|e| e == "none");
        let traces_endpoint = get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
        let general_endpoint = get(OTEL_EXPORTER_OTLP_ENDPOINT);
        let explicit = traces_endpoint.or(general_endpoint);
        let protocol_setting = get(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL)
            .map(|p| (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, p))
            .or_else(|| get(OTEL_EXPORTER_OTLP_PROTOCOL).map(|p| (OTEL_EXPORTER_OTLP_PROTOCOL, p)));
        let protocol = match protocol_setting {
            Some((_, "grpc")) => Protocol::Grpc,
            Some((_, "http/protobuf")) => Protocol::HttpProtobuf,
            Some((name, other)) => {
                ignored.push(format!(
                    "{name}: protocol {other:?} is not supported (grpc or http/protobuf); traces go over http/protobuf"
                ));
                Protocol::HttpProtobuf
            }
            None if explicit.is_some_and(on_otlp_http_port) => Protocol::HttpProtobuf,
            None => Protocol::Grpc,
        };
        let wanted = match (traces_endpoint, general_endpoint) {
            (Some(url), _) => Some(url.to_string()),
            (None, Some(base)) => Some(match protocol {
                Protocol::Grpc => base.to_string(),
                Protocol::HttpProtobuf => traces_url(base),
            }),
            (None, None) => exporters
                .iter()
                .any(|e| e == "otlp")
                .then(|| match protocol {
                    Protocol::Grpc => DEFAULT_OTLP_ENDPOINT.to_string(),
                    Protocol::HttpProtobuf => traces_url(DEFAULT_OTLP_HTTP_ENDPOINT),
                }),
        };
        let endpoint = if disabled { None } else { wanted };
        Config {
            service_name,
            endpoint,
            protocol,
            ignored,
        }
    }

    /// Whether spans are exported.
    #[must_use]
    pub fn exports_traces(&self) -> bool {
        self.endpoint.is_some()
    }
}

/// Whether `url` names the spec's OTLP/HTTP port.
fn on_otlp_http_port(url: &str) -> bool {
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = authority.split('/').next().unwrap_or_default();
    authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| port == OTLP_HTTP_PORT)
}

/// The traces URL under an OTLP/HTTP base URL, as the specification builds it from
/// `OTEL_EXPORTER_OTLP_ENDPOINT`.
fn traces_url(base: &str) -> String {
    format!("{}/v1/traces", base.trim_end_matches('/'))
}

/// `service.name` from `key=value,…` (values may be percent-encoded; kept as given).
fn service_name_attribute(attributes: &str) -> Option<String> {
    attributes
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.trim() == "service.name")
        .map(|(_, value)| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_vars(
            "kiln-test",
            vars.iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string())),
        )
    }

    #[test]
    fn traces_are_off_without_an_endpoint() {
        let config = config(&[("KILN_LOG", "debug")]);
        assert_eq!(config.endpoint, None);
        assert_eq!(config.service_name, "kiln-test");
        assert!(config.ignored.is_empty());
    }

    #[test]
    fn the_traces_endpoint_wins_over_the_general_one() {
        let general = config(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4317")]);
        assert_eq!(general.endpoint.as_deref(), Some("http://collector:4317"));
        let both = config(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4317"),
            (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "http://traces:4317"),
        ]);
        assert_eq!(both.endpoint.as_deref(), Some("http://traces:4317"));
    }

    #[test]
    fn the_otlp_exporter_alone_uses_the_default_endpoint() {
        let config = config(&[(OTEL_TRACES_EXPORTER, "otlp")]);
        assert_eq!(config.endpoint.as_deref(), Some(DEFAULT_OTLP_ENDPOINT));
    }

    #[test]
    fn none_or_a_disabled_sdk_turns_traces_off() {
        let endpoint = (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4317");
        assert_eq!(
            config(&[endpoint, (OTEL_TRACES_EXPORTER, "none")]).endpoint,
            None
        );
        assert_eq!(
            config(&[endpoint, (OTEL_SDK_DISABLED, "TRUE")]).endpoint,
            None
        );
        assert!(
            config(&[endpoint, (OTEL_SDK_DISABLED, "false")])
                .endpoint
                .is_some()
        );
    }

    #[test]
    fn the_service_name_comes_from_the_variable_then_the_resource_attributes() {
        let attributes = (
            OTEL_RESOURCE_ATTRIBUTES,
            "deployment.environment=test, service.name=from-attributes",
        );
        assert_eq!(config(&[attributes]).service_name, "from-attributes");
        assert_eq!(
            config(&[attributes, (OTEL_SERVICE_NAME, "named")]).service_name,
            "named"
        );
        assert_eq!(
            config(&[(OTEL_SERVICE_NAME, " ")]).service_name,
            "kiln-test"
        );
    }

    #[test]
    fn unsupported_exporters_and_protocols_are_reported() {
        let config = config(&[
            (OTEL_TRACES_EXPORTER, "otlp,zipkin"),
            (OTEL_EXPORTER_OTLP_PROTOCOL, "http/json"),
        ]);
        assert!(config.exports_traces());
        assert_eq!(config.ignored.len(), 2, "{:?}", config.ignored);
        assert!(config.ignored[0].contains("zipkin"));
        assert!(config.ignored[1].contains("http/json"));
        assert_eq!(config.protocol, Protocol::HttpProtobuf);
    }

    #[test]
    fn http_goes_to_the_traces_path_and_the_specs_port() {
        let http = config(&[
            (OTEL_TRACES_EXPORTER, "otlp"),
            (OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf"),
        ]);
        assert_eq!(http.protocol, Protocol::HttpProtobuf);
        assert_eq!(
            http.endpoint.as_deref(),
            Some("http://localhost:4318/v1/traces")
        );
        let base = config(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:9999/"),
            (OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf"),
        ]);
        assert_eq!(
            base.endpoint.as_deref(),
            Some("http://collector:9999/v1/traces")
        );
        // The traces variables are taken as given, and win.
        let traces = config(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4317"),
            (OTEL_EXPORTER_OTLP_PROTOCOL, "grpc"),
            (
                OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
                "http://traces:8080/otlp",
            ),
            (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "http/protobuf"),
        ]);
        assert_eq!(traces.protocol, Protocol::HttpProtobuf);
        assert_eq!(traces.endpoint.as_deref(), Some("http://traces:8080/otlp"));
        // An OTP deployment's collector on 4318, no protocol given: HTTP.
        let otp = config(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "http://otel-collector:4318")]);
        assert_eq!(otp.protocol, Protocol::HttpProtobuf);
        assert_eq!(
            otp.endpoint.as_deref(),
            Some("http://otel-collector:4318/v1/traces")
        );
        let grpc = config(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "http://otel-collector:4317")]);
        assert_eq!(grpc.protocol, Protocol::Grpc);
        assert!(grpc.ignored.is_empty());
    }
}
