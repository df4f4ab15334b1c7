//! `/metrics` on the control plane, scraped after a known number of calls.

use std::time::Duration;

use kiln_integration_tests::{Harness, eventually, fixtures, http};
use kiln_types::claims::ActorSpec;

/// The value of the sample `name{labels}` in a Prometheus text exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_count_calls_errors_and_instances() {
    let h = Harness::start().await;
    let echo_path = fixtures::sample_actor("echo");
    let echo = fixtures::actor_key(&std::fs::read(&echo_path).unwrap());
    assert!(h.launch(&echo_path).await.accepted);
    let (trap_module, trap_key) = fixtures::sign(&fixtures::wat("trap"), &ActorSpec::default());
    let trap = trap_key.public_key();
    assert!(h.launch_bytes("trap.wasm", &trap_module).await.accepted);
    assert!(
        h.command(
            "scale",
            &serde_json::json!({"actor_id": echo, "actor_ref": "", "count": 3})
        )
        .await
        .accepted
    );
    for i in 0..7 {
        let response = h
            .invoke(
                &echo,
                "HttpServer.HandleRequest",
                http::get(&format!("/{i}")),
            )
            .await;
        assert_eq!(response.error, None);
    }
    for _ in 0..3 {
        assert!(h.invoke(&trap, "Any.Op", Vec::new()).await.error.is_some());
    }

    let calls = format!(r#"{{actor="{echo}",operation="HttpServer.HandleRequest"}}"#);
    let traps = format!(r#"{{actor="{trap}",operation="Any.Op"}}"#);
    // A call is counted just after its reply is sent, so the last one may lag its
    // answer by a moment.
    let counted = eventually(Duration::from_secs(5), || async {
        let (_, text) = h.http_get("/metrics").await;
        let count = |labels: &str| {
            sample(
                &text,
                &format!("kiln_invocation_duration_seconds_count{labels}"),
            )
        };
        count(&calls) == Some(7.0) && count(&traps) == Some(3.0)
    })
    .await;
    assert!(counted, "{}", h.http_get("/metrics").await.1);
    let (status, text) = h.http_get("/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        sample(&text, &format!("kiln_invocations_total{calls}")),
        Some(7.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("kiln_invocation_errors_total{calls}")),
        None
    );
    assert_eq!(
        sample(&text, &format!("kiln_invocations_total{traps}")),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, &format!("kiln_invocation_errors_total{traps}")),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("kiln_invocation_duration_seconds_count{calls}")
        ),
        Some(7.0)
    );
    assert_eq!(
        sample(&text, &format!(r#"kiln_actor_instances{{actor="{echo}"}}"#)),
        Some(3.0)
    );
    // From the data plane: the calls it ran and the traps among them.
    assert_eq!(
        sample(
            &text,
            &format!(r#"kiln_data_plane_calls{{actor="{echo}"}}"#)
        ),
        Some(7.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!(r#"kiln_data_plane_failures{{actor="{trap}"}}"#)
        ),
        Some(3.0)
    );
    assert!(
        text.contains("# TYPE kiln_nats_reconnects counter"),
        "{text}"
    );
}
