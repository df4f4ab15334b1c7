//! Which traces to export and where, from the standard OpenTelemetry variables.
//!
//! Traces are off unless an OTLP endpoint is given (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
//! or `OTEL_EXPORTER_OTLP_ENDPOINT`) or `OTEL_TRACES_EXPORTER` names `otlp`; then they
//! go over gRPC. `OTEL_TRACES_EXPORTER=none` and `OTEL_SDK_DISABLED=true` turn them off
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
const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";

/// Where OTLP/gRPC goes when only `OTEL_TRACES_EXPORTER=otlp` is set (the spec's default).
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://localhost:4317";

/// Telemetry settings of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `service.name` of the spans this process exports.
    pub service_name: String,
    /// OTLP/gRPC endpoint of the collector; `None` turns traces off, and then no
    /// exporter, tracer or OpenTelemetry layer exists at all.
    pub endpoint: Option<String>,
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
        let explicit = get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
            .or_else(|| get(OTEL_EXPORTER_OTLP_ENDPOINT))
            .map(str::to_string);
        let wanted = explicit.or_else(|| {
            exporters
                .iter()
                .any(|e| e == "otlp")
                .then(|| DEFAULT_OTLP_ENDPOINT.to_string())
        });
        let endpoint = if disabled { None } else { wanted };

        if endpoint.is_some() {
            for name in [
                OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
                OTEL_EXPORTER_OTLP_PROTOCOL,
            ] {
                if let Some(protocol) = get(name).filter(|p| *p != "grpc") {
                    ignored.push(format!(
                        "{name}: protocol {protocol:?} is not supported, traces go over grpc"
                    ));
                }
            }
        }
        Config {
            service_name,
            endpoint,
            ignored,
        }
    }

    /// Whether spans are exported.
    #[must_use]
    pub fn exports_traces(&self) -> bool {
        self.endpoint.is_some()
    }
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
            (OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf"),
        ]);
        assert!(config.exports_traces());
        assert_eq!(config.ignored.len(), 2, "{:?}", config.ignored);
        assert!(config.ignored[0].contains("zipkin"));
        assert!(config.ignored[1].contains("http/protobuf"));
    }
}
