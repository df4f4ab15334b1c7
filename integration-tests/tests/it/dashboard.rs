//! The dashboard in a real headless Chromium: every action of a user's round trip
//! through the forms, live updates without reloading, form errors next to their
//! fields, the token guard and the upload limit. Screenshots go to the artefacts
//! folder (target/artefacts, or KILN_ARTEFACTS).

use std::time::Duration;

use fantoccini::Locator;
use kiln_integration_tests::browser::Browser;
use kiln_integration_tests::{Harness, Options, Registry, api_client, eventually, fixtures, http};
use kiln_proto::control::v1 as pb;
use kiln_wasmbus::subjects::CtlSubject;

const WAIT: Duration = Duration::from_secs(15);

/// The host still says it is ready.
async fn still_serving(h: &Harness) {
    let (status, _) = http(h.http_port, "GET", "/api/readyz", b"").await.unwrap();
    assert_eq!(status, 200, "{}", h.logs());
}

#[tokio::test]
async fn a_user_runs_the_echo_demo_from_the_dashboard() {
    let scratch = tempfile::tempdir().unwrap();
    let registry = Registry::start(scratch.path(), None).await;
    let h = Harness::with(Options {
        control_plane_args: vec![
            "--oci-allowed-insecure".into(),
            registry.address(),
            "--cache-dir".into(),
            scratch.path().join("cache").display().to_string(),
            "--health-interval-ms".into(),
            "300".into(),
        ],
        ..Options::default()
    })
    .await;
    let echo_ref = format!("{}/kiln/echo:0.1.0", registry.address());
    h.push(&echo_ref, &fixtures::sample_actor("echo"), &[])
        .await;
    let echo = fixtures::actor_key(&std::fs::read(fixtures::sample_actor("echo")).unwrap());
    let archive = fixtures::provider_archive("httpserver");
    let httpserver = fixtures::provider_key(&archive);

    let browser = Browser::start(h.dir.path(), 1280, 1000).await;
    let page = format!("http://127.0.0.1:{}/", h.http_port);
    browser.client.goto(&page).await.unwrap();
    browser.shows("#live-state", "live", WAIT).await;

    // A form sent empty comes back with the problem next to the field.
    browser
        .click("form[action='/actors/start'] button[type=submit]")
        .await;
    browser
        .shows(
            "#start-actor-reference-error",
            "Give a reference, or choose a file to upload.",
            WAIT,
        )
        .await;
    let invalid = browser
        .client
        .find(Locator::Css("#start-actor-reference"))
        .await
        .unwrap()
        .attr("aria-invalid")
        .await
        .unwrap();
    assert_eq!(invalid.as_deref(), Some("true"));
    browser.screenshot("dashboard-form-error.png").await;

    // Start from a registry reference.
    browser.fill("#start-actor-reference", &echo_ref).await;
    browser.fill("#start-actor-count", "1").await;
    browser
        .click("form[action='/actors/start'] button[type=submit]")
        .await;
    let instances = format!("tr[data-actor='{echo}'] td.instances");
    browser.shows(&instances, "1", WAIT).await;
    assert!(
        browser
            .text(".notice")
            .await
            .unwrap_or_default()
            .starts_with("Started 1 instance")
    );
    browser.shows("#live-state", "live", WAIT).await;

    // Scaled by someone else (the gRPC API): the count changes on the open page, which
    // is not reloaded (a value set in the page survives).
    browser
        .js("window.kilnMarker = 'same page'; return null;")
        .await;
    let mut api = api_client(h.api_port).await;
    api.scale_actor(pb::ScaleActorRequest {
        actor_id: echo.clone(),
        count: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    browser.shows(&instances, "3", WAIT).await;
    assert_eq!(browser.js("return window.kilnMarker;").await, "same page");
    assert!(
        browser
            .wait_for("#event-feed li[data-kind='actors_started']", true, WAIT)
            .await,
        "the event feed shows the start"
    );

    // Scale with the row's form.
    browser
        .fill(&format!("#scale-{echo}-{}", h.host.public_key()), "2")
        .await;
    browser
        .click(&format!(
            "tr[data-actor='{echo}'] form[action='/actors/scale'] button"
        ))
        .await;
    browser.shows(&instances, "2", WAIT).await;
    let inventory = api
        .get_inventory(pb::GetInventoryRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inventory.actors[0].instances.len(), 2);

    // Start the HTTP server provider by uploading its archive; its badge turns green.
    browser
        .choose_file("#start-provider-file", archive.to_str().unwrap())
        .await;
    browser
        .click("form[action='/providers/start'] button[type=submit]")
        .await;
    let badge = format!("tr[data-provider='{httpserver}'] [data-health]");
    browser.shows(&badge, "healthy", WAIT).await;
    let class = browser
        .client
        .find(Locator::Css(&badge))
        .await
        .unwrap()
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(class.split(' ').any(|c| c == "ok"), "green: {class}");

    // Define the link with the pickers; HTTP reaches echo through it.
    let port = kiln_integration_tests::process::free_port();
    assert!(
        browser
            .wait_for(
                &format!("#link-provider option[value='{httpserver}']"),
                true,
                WAIT
            )
            .await
    );
    browser
        .click(&format!("#link-actor option[value='{echo}']"))
        .await;
    browser
        .click(&format!("#link-provider option[value='{httpserver}']"))
        .await;
    browser
        .fill("#link-values", &format!("address=127.0.0.1:{port}"))
        .await;
    browser
        .click("form[action='/links'] button[type=submit]")
        .await;
    let link_row = format!("tr[data-link='{echo}/wasmcloud:httpserver/default']");
    assert!(browser.wait_for(&link_row, true, WAIT).await);
    let answered = eventually(WAIT, || async {
        http(port, "GET", "/through-the-dashboard", b"")
            .await
            .is_ok_and(|(status, body)| {
                status == 200 && String::from_utf8_lossy(&body).contains("/through-the-dashboard")
            })
    })
    .await;
    assert!(answered, "{}", h.logs());
    let (status, metrics) = h.http_get("/host/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("kiln_invocations_total") && metrics.contains(&echo),
        "the metrics page counts the calls: {metrics}"
    );
    browser.js("window.scrollTo(0, 0); return null;").await;
    browser.screenshot("dashboard.png").await;
    browser
        .js("document.getElementById('links').scrollIntoView(); return null;")
        .await;
    browser.screenshot("dashboard-links.png").await;

    // The event filter hides a group.
    let link_event = "#event-feed li[data-kind='linkdef_set']";
    assert!(browser.wait_for(link_event, true, WAIT).await);
    browser
        .click("input[name='event-group'][value='link']")
        .await;
    let shown = browser
        .client
        .find(Locator::Css(link_event))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap();
    assert!(!shown, "unchecking 'link' hides link events");

    // On a phone-sized screen nothing runs off the side of the page.
    browser.client.set_window_size(390, 844).await.unwrap();
    let overflow = browser
        .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        .await;
    let culprits = browser.js("const w = document.documentElement.clientWidth; return [...document.querySelectorAll('body *')]\
         .filter((e) => e.getBoundingClientRect().right > w && !e.closest('.scroll'))\
         .map((e) => e.tagName + '.' + e.className + '#' + e.id).slice(0, 10)\
         .concat([document.documentElement.scrollWidth, w, window.innerWidth, document.body.scrollWidth]);",
    )
    .await;
    assert_eq!(
        overflow, 0,
        "horizontal overflow on a narrow screen: {culprits}"
    );
    browser
        .js("document.getElementById('actors').scrollIntoView(); return null;")
        .await;
    browser.screenshot("dashboard-narrow.png").await;
    browser.client.set_window_size(1280, 1000).await.unwrap();

    // Delete the link, stop the actor.
    browser
        .click(&format!("{link_row} form[action='/links/delete'] button"))
        .await;
    assert!(browser.wait_for(&link_row, false, WAIT).await);
    assert!(
        h.query_lattice(CtlSubject::Links).await["links"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    browser
        .click(&format!(
            "tr[data-actor='{echo}'] form[action='/actors/stop'] button"
        ))
        .await;
    let gone = browser
        .wait_for(&format!("tr[data-actor='{echo}']"), false, WAIT)
        .await;
    assert!(
        gone,
        "{:?} {:?}\n{}",
        browser.text(".form-error").await,
        browser.text(".notice").await,
        h.logs()
    );
    assert!(h.inventory().await["actors"].as_array().unwrap().is_empty());
    browser
        .click(&format!(
            "tr[data-provider='{httpserver}'] form[action='/providers/stop'] button"
        ))
        .await;
    assert!(
        browser
            .wait_for(&format!("tr[data-provider='{httpserver}']"), false, WAIT)
            .await
    );
    assert!(
        h.inventory().await["providers"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Malformed posts are refused with a reason; the host keeps serving.
    let (status, body) = http(h.http_port, "POST", "/actors/start", b"not multipart")
        .await
        .unwrap();
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(!body.is_empty());
    let (status, _) = http(h.http_port, "POST", "/links", b"actor=%ZZ")
        .await
        .unwrap();
    assert_eq!(status, 415, "a form without its content type");
    still_serving(&h).await;
    browser.client.close().await.unwrap();
}

#[tokio::test]
async fn the_dashboard_needs_the_api_token_and_keeps_to_its_upload_limit() {
    let h = Harness::with(Options {
        control_plane_args: vec![
            "--api-token".into(),
            "open-sesame".into(),
            "--upload-limit-mib".into(),
            "1".into(),
        ],
        ..Options::default()
    })
    .await;
    // Probes stay open; the dashboard and its actions do not.
    assert_eq!(
        http(h.http_port, "GET", "/api/livez", b"").await.unwrap().0,
        200
    );
    assert_eq!(http(h.http_port, "GET", "/live", b"").await.unwrap().0, 401);
    assert_eq!(
        http(h.http_port, "POST", "/actors/stop", b"actor=x")
            .await
            .unwrap()
            .0,
        401
    );

    let browser = Browser::start(h.dir.path(), 1280, 1000).await;
    browser
        .client
        .goto(&format!("http://127.0.0.1:{}/", h.http_port))
        .await
        .unwrap();
    assert!(browser.client.current_url().await.unwrap().path() == "/login");
    browser.fill("#login-token", "wrong").await;
    browser.click("form[action='/login'] button").await;
    browser
        .shows("#login-token-error", "That is not this host's token.", WAIT)
        .await;
    browser.fill("#login-token", "open-sesame").await;
    browser.click("form[action='/login'] button").await;
    browser.shows("#live-state", "live", WAIT).await;
    assert_eq!(browser.client.current_url().await.unwrap().path(), "/");

    // A file over the limit is refused with the limit named, next to the file field.
    let big = h.dir.path().join("big.wasm");
    std::fs::write(&big, vec![0u8; 3 << 20]).unwrap();
    browser
        .choose_file("#start-actor-file", big.to_str().unwrap())
        .await;
    browser
        .click("form[action='/actors/start'] button[type=submit]")
        .await;
    let over = eventually(WAIT, || async {
        browser
            .text("#start-actor-file-error")
            .await
            .is_some_and(|p| p.contains("larger than this host's upload limit of 1 MiB"))
    })
    .await;
    assert!(over, "{:?}", browser.text("#start-actor-file-error").await);
    // A file under the limit that is not a signed module is refused by its claims.
    let junk = h.dir.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm\x01\0\0\0").unwrap();
    browser
        .choose_file("#start-actor-file", junk.to_str().unwrap())
        .await;
    browser
        .click("form[action='/actors/start'] button[type=submit]")
        .await;
    let refused = eventually(WAIT, || async {
        browser
            .text("#start-actor-file-error")
            .await
            .is_some_and(|p| !p.is_empty() && !p.contains("upload limit"))
    })
    .await;
    assert!(
        refused,
        "an unsigned upload is refused next to the file field"
    );
    assert!(h.inventory().await["actors"].as_array().unwrap().is_empty());

    // A signed module uploaded starts; a live update from the row brings revision 2.
    let (v1, v2, tagged) = fixtures::tagged_revisions();
    let v1_path = h.dir.path().join("tagged-v1.wasm");
    let v2_path = h.dir.path().join("tagged-v2.wasm");
    std::fs::write(&v1_path, &v1).unwrap();
    std::fs::write(&v2_path, &v2).unwrap();
    browser
        .choose_file("#start-actor-file", v1_path.to_str().unwrap())
        .await;
    browser
        .click("form[action='/actors/start'] button[type=submit]")
        .await;
    browser
        .shows(&format!("tr[data-actor='{tagged}'] td.rev"), "1", WAIT)
        .await;
    assert_eq!(h.invoke(&tagged, "Any.Op", b"x".to_vec()).await.msg, b"v01");
    browser
        .fill(
            &format!("#update-{tagged}-{}", h.host.public_key()),
            &format!("file://{}", v2_path.display()),
        )
        .await;
    browser
        .click(&format!(
            "tr[data-actor='{tagged}'] form[action='/actors/update'] button"
        ))
        .await;
    browser
        .shows(&format!("tr[data-actor='{tagged}'] td.rev"), "2", WAIT)
        .await;
    assert_eq!(h.invoke(&tagged, "Any.Op", b"x".to_vec()).await.msg, b"v02");
    // The host kept serving.
    still_serving(&h).await;
    browser.client.close().await.unwrap();
}

/// The row of host `id` on the page, from its `<tr>` to the end of the row.
fn host_row<'a>(page: &'a str, id: &str) -> Option<&'a str> {
    let start = page.find(&format!("data-host=\"{id}\""))?;
    let rest = &page[start..];
    Some(&rest[..rest.find("</tr>").unwrap_or(rest.len())])
}

#[tokio::test]
async fn a_host_that_stops_heartbeating_goes_stale_then_leaves_the_page() {
    let h = Harness::with(Options {
        control_plane_args: vec![
            "--heartbeat-interval-ms".into(),
            "300".into(),
            "--host-expiry-ms".into(),
            "4000".into(),
        ],
        ..Options::default()
    })
    .await;
    let mut peer = h.join("peer", &["--label", "zone=b"]).await;
    let peer_id = peer.id();
    let listed = eventually(WAIT, || async {
        let (_, page) = h.http_get("/").await;
        host_row(&page, &peer_id)
            .is_some_and(|row| row.contains("zone=b") && !row.contains(">stale<"))
    })
    .await;
    assert!(listed, "{}", h.http_get("/").await.1);
    peer.control_plane.kill();
    peer.data_plane.kill();
    let stale = eventually(WAIT, || async {
        let (_, page) = h.http_get("/").await;
        host_row(&page, &peer_id).is_some_and(|row| row.contains(">stale<"))
    })
    .await;
    assert!(stale, "{}", h.http_get("/").await.1);
    let gone = eventually(WAIT, || async {
        let (_, page) = h.http_get("/").await;
        host_row(&page, &peer_id).is_none()
    })
    .await;
    assert!(gone, "{}", h.http_get("/").await.1);
    // This host stays, never stale.
    let (_, page) = h.http_get("/").await;
    let own = host_row(&page, &h.host.public_key()).unwrap_or_default();
    assert!(
        own.contains("this host") && !own.contains(">stale<"),
        "{own}"
    );
}
