//! The dashboard as the lattice's: from one host's page, in a real headless Chromium, a
//! user starts actors and providers on another host, by choosing it and by an auction
//! on its labels, scales, updates and stops them there, and sees and stops that host's
//! providers. Each action is checked against the other host's own inventory.

use std::time::Duration;

use kiln_integration_tests::browser::Browser;
use kiln_integration_tests::{
    Harness, Options, Peer, Registry, api_client, eventually, fixtures, http,
};
use kiln_proto::control::v1 as pb;

const WAIT: Duration = Duration::from_secs(20);

/// What host `api_port` runs, from its own API.
async fn inventory(api_port: u16) -> pb::Inventory {
    api_client(api_port)
        .await
        .get_inventory(pb::GetInventoryRequest::default())
        .await
        .unwrap()
        .into_inner()
}

/// Instances of `actor` in `inventory`.
fn instances(inventory: &pb::Inventory, actor: &str) -> usize {
    inventory
        .actors
        .iter()
        .find(|a| a.id == actor)
        .map_or(0, |a| a.instances.len())
}

/// Fills in and sends the start form `form` (`start-actor`, `start-provider`) for
/// `reference`, placed on `host` (a host id or `auction`) with `fields` besides.
async fn start(
    browser: &Browser,
    form: &str,
    reference: &str,
    host: &str,
    fields: &[(&str, &str)],
) {
    browser.fill(&format!("#{form}-reference"), reference).await;
    browser
        .click(&format!("#{form}-host option[value='{host}']"))
        .await;
    for (field, value) in fields {
        browser.fill(&format!("#{form}-{field}"), value).await;
    }
    let action = if form == "start-actor" {
        "/actors/start"
    } else {
        "/providers/start"
    };
    browser
        .click(&format!("form[action='{action}'] button[type=submit]"))
        .await;
}

/// Two hosts, the other labelled `zone=b`, the first one's dashboard open, and the
/// fixtures in a registry both can pull from.
struct Walk {
    h: Harness,
    peer: Peer,
    peer_id: String,
    browser: Browser,
    page: String,
    registry: Registry,
    _scratch: tempfile::TempDir,
}

impl Walk {
    async fn start() -> Walk {
        let scratch = tempfile::tempdir().unwrap();
        let registry = Registry::start(scratch.path(), None).await;
        let h = Harness::with(Options {
            control_plane_args: vec![
                "--oci-allowed-insecure".into(),
                registry.address(),
                "--health-interval-ms".into(),
                "300".into(),
                "--heartbeat-interval-ms".into(),
                "500".into(),
            ],
            ..Options::default()
        })
        .await;
        let peer = h.join("peer", &["--label", "zone=b"]).await;
        let peer_id = peer.id();
        for actor in ["echo", "kvcounter"] {
            let reference = format!("{}/kiln/{actor}:0.1.0", registry.address());
            h.push(&reference, &fixtures::sample_actor(actor), &[])
                .await;
        }
        for provider in ["httpserver", "keyvalue"] {
            let reference = format!("{}/kiln/{provider}:0.1.0", registry.address());
            h.push(&reference, &fixtures::provider_archive(provider), &[])
                .await;
        }
        // The start forms offer the other host once its heartbeat is in.
        let offered = eventually(WAIT, || async {
            h.http_get("/")
                .await
                .1
                .contains(&format!("<option value=\"{peer_id}\">"))
        })
        .await;
        assert!(offered, "{}", h.http_get("/").await.1);
        let browser = Browser::start(h.dir.path(), 1280, 1000).await;
        let page = format!("http://127.0.0.1:{}/", h.http_port);
        browser.client.goto(&page).await.unwrap();
        browser.shows("#live-state", "live", WAIT).await;
        Walk {
            h,
            peer,
            peer_id,
            browser,
            page,
            registry,
            _scratch: scratch,
        }
    }

    fn reference(&self, name: &str) -> String {
        format!("{}/kiln/{name}:0.1.0", self.registry.address())
    }

    /// The row of `actor` on the other host.
    fn there(&self, actor: &str) -> String {
        format!("tr[data-actor='{actor}'][data-on-host='{}']", self.peer_id)
    }

    /// Echo started there by choice and scaled; kvcounter by auction, after an auction
    /// nobody won; a module updated there. Returns echo's and kvcounter's keys.
    async fn actors(&self) -> (String, String) {
        let (browser, peer_id) = (&self.browser, self.peer_id.as_str());
        let echo = fixtures::actor_key(&std::fs::read(fixtures::sample_actor("echo")).unwrap());
        let counter =
            fixtures::actor_key(&std::fs::read(fixtures::sample_actor("kvcounter")).unwrap());
        start(
            browser,
            "start-actor",
            &self.reference("echo"),
            peer_id,
            &[("count", "1")],
        )
        .await;
        let echo_count = format!("{} td.instances", self.there(&echo));
        browser.shows(&echo_count, "1", WAIT).await;
        let notice = browser.text(".notice").await.unwrap_or_default();
        assert!(
            notice.contains(" on "),
            "the notice names the host: {notice}"
        );
        assert_eq!(instances(&inventory(self.peer.api_port).await, &echo), 1);
        assert!(
            inventory(self.h.api_port).await.actors.is_empty(),
            "not here"
        );

        // Scaled there from its row.
        browser.fill(&format!("#scale-{echo}-{peer_id}"), "3").await;
        browser
            .click(&format!(
                "{} form[action='/actors/scale'] button",
                self.there(&echo)
            ))
            .await;
        browser.shows(&echo_count, "3", WAIT).await;
        assert_eq!(instances(&inventory(self.peer.api_port).await, &echo), 3);

        // An auction nobody's labels satisfy is refused next to the constraints.
        let counter_ref = self.reference("kvcounter");
        start(
            browser,
            "start-actor",
            &counter_ref,
            "auction",
            &[("constraints", "zone=nowhere")],
        )
        .await;
        browser
            .shows(
                "#start-actor-constraints-error",
                "no host of the lattice bid (constraints: zone=nowhere)",
                WAIT,
            )
            .await;
        // One the other host's labels satisfy starts it there.
        browser.client.goto(&self.page).await.unwrap();
        start(
            browser,
            "start-actor",
            &counter_ref,
            "auction",
            &[("constraints", "zone=b")],
        )
        .await;
        browser
            .shows(&format!("{} td.instances", self.there(&counter)), "1", WAIT)
            .await;
        assert_eq!(instances(&inventory(self.peer.api_port).await, &counter), 1);
        assert!(
            inventory(self.h.api_port).await.actors.is_empty(),
            "not here"
        );
        self.update_there().await;
        (echo, counter)
    }

    /// A module started there at revision 1, live-updated from its row to revision 2.
    async fn update_there(&self) {
        let browser = &self.browser;
        let (v1, v2, tagged) = fixtures::tagged_revisions();
        for (tag, module) in [("1", v1), ("2", v2)] {
            let file = self.h.dir.path().join(format!("tagged-{tag}.wasm"));
            std::fs::write(&file, module).unwrap();
            let reference = self.reference(&format!("tagged-{tag}"));
            self.h.push(&reference, &file, &[]).await;
        }
        start(
            browser,
            "start-actor",
            &self.reference("tagged-1"),
            &self.peer_id,
            &[],
        )
        .await;
        let revision = format!("{} td.rev", self.there(&tagged));
        browser.shows(&revision, "1", WAIT).await;
        browser
            .fill(
                &format!("#update-{tagged}-{}", self.peer_id),
                &self.reference("tagged-2"),
            )
            .await;
        browser
            .click(&format!(
                "{} form[action='/actors/update'] button",
                self.there(&tagged)
            ))
            .await;
        browser.shows(&revision, "2", WAIT).await;
        let there = inventory(self.peer.api_port).await;
        let updated = there.actors.iter().find(|a| a.id == tagged).unwrap();
        assert_eq!(updated.instances[0].revision, 2, "{there:?}");
        // Called over the lattice from this host, the other host answers as revision 2.
        assert_eq!(
            self.h.invoke(&tagged, "Any.Op", b"x".to_vec()).await.msg,
            b"v02"
        );
        browser
            .click(&format!(
                "{} form[action='/actors/stop'] button",
                self.there(&tagged)
            ))
            .await;
        assert!(browser.wait_for(&self.there(&tagged), false, WAIT).await);
    }

    /// The httpserver provider there by choice, with a link name and a configuration
    /// string (it takes link values from it), reaching `echo` there; keyvalue by
    /// auction. Returns their rows.
    async fn providers(&self, echo: &str) -> [String; 2] {
        let (browser, peer_id) = (&self.browser, self.peer_id.as_str());
        let httpserver = fixtures::provider_key(&fixtures::provider_archive("httpserver"));
        let keyvalue = fixtures::provider_key(&fixtures::provider_archive("keyvalue"));
        let port = kiln_integration_tests::process::free_port();
        let configuration = format!(r#"{{"address": "127.0.0.1:{port}"}}"#);
        start(
            browser,
            "start-provider",
            &self.reference("httpserver"),
            peer_id,
            &[("link_name", "web"), ("configuration", &configuration)],
        )
        .await;
        let http_row = format!(
            "tr[data-provider='{httpserver}'][data-link-name='web'][data-on-host='{peer_id}']"
        );
        assert!(
            browser.wait_for(&http_row, true, WAIT).await,
            "{}",
            self.h.logs()
        );
        browser
            .shows(&format!("{http_row} [data-health]"), "healthy", WAIT)
            .await;
        let there = inventory(self.peer.api_port).await.providers;
        assert_eq!(there.len(), 1, "{there:?}");
        assert_eq!(there[0].link_name, "web");
        // A link without values: the address comes from the configuration, and HTTP
        // reaches echo on the other host.
        api_client(self.h.api_port)
            .await
            .put_link(pb::PutLinkRequest {
                actor_id: echo.to_string(),
                provider_id: httpserver.clone(),
                contract_id: "wasmcloud:httpserver".into(),
                link_name: "web".into(),
                values: std::collections::HashMap::new(),
            })
            .await
            .unwrap();
        let answered = eventually(WAIT, || async {
            http(port, "GET", "/across-the-lattice", b"")
                .await
                .is_ok_and(|(status, body)| {
                    status == 200 && String::from_utf8_lossy(&body).contains("/across-the-lattice")
                })
        })
        .await;
        assert!(answered, "{}\n{}", self.h.logs(), self.peer.logs());

        let kv_ref = self.reference("keyvalue");
        start(
            browser,
            "start-provider",
            &kv_ref,
            "auction",
            &[("constraints", "zone=b")],
        )
        .await;
        let kv_row = format!("tr[data-provider='{keyvalue}'][data-on-host='{peer_id}']");
        assert!(
            browser.wait_for(&kv_row, true, WAIT).await,
            "{}",
            self.h.logs()
        );
        assert_eq!(inventory(self.peer.api_port).await.providers.len(), 2);
        assert!(
            inventory(self.h.api_port).await.providers.is_empty(),
            "not here"
        );
        [http_row, kv_row]
    }
}

#[tokio::test]
async fn the_dashboard_starts_scales_and_stops_on_another_host() {
    let walk = Walk::start().await;
    let (echo, counter) = walk.actors().await;
    let rows = walk.providers(&echo).await;
    let browser = &walk.browser;
    browser
        .js("document.getElementById('actors').scrollIntoView(); return null;")
        .await;
    browser.screenshot("dashboard-lattice.png").await;

    // Stopped there from their rows.
    browser
        .click(&format!(
            "{} form[action='/actors/stop'] button",
            walk.there(&echo)
        ))
        .await;
    assert!(browser.wait_for(&walk.there(&echo), false, WAIT).await);
    assert_eq!(instances(&inventory(walk.peer.api_port).await, &echo), 0);
    for row in &rows {
        browser
            .click(&format!("{row} form[action='/providers/stop'] button"))
            .await;
        assert!(browser.wait_for(row, false, WAIT).await, "{row}");
    }
    let stopped = eventually(WAIT, || async {
        inventory(walk.peer.api_port).await.providers.is_empty()
    })
    .await;
    assert!(stopped, "{:?}", inventory(walk.peer.api_port).await);
    // The other actor is still there.
    assert_eq!(instances(&inventory(walk.peer.api_port).await, &counter), 1);
    walk.browser.client.close().await.unwrap();
}
