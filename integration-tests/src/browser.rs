//! Headless Chromium driven over WebDriver: `chromedriver` started on a free port,
//! one browser session per [`Browser`], screenshots saved as test artefacts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use crate::process::{Process, free_port};

/// Where the Debian packages put the browser and its driver.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A browser session and the driver behind it.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    _driver: Process,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium `width`×`height` pixels large.
    pub async fn start(dir: &Path, width: u32, height: u32) -> Browser {
        let port = free_port();
        let driver = Process::spawn(
            "chromedriver",
            dir,
            PathBuf::from(CHROMEDRIVER),
            "info",
            vec![format!("--port={port}")],
        );
        let profile = dir.join(format!("chromium-profile-{port}"));
        let capabilities = serde_json::json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        client,
                        _driver: driver,
                    };
                }
                Err(error) => last_error = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no browser session from chromedriver: {last_error}\n{}",
            driver.log()
        );
    }

    /// Text of the first element matching `css`, if there is one.
    pub async fn text(&self, css: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    /// Waits up to `within` until `css` matches an element whose text is `wanted`;
    /// returns the last text seen.
    pub async fn wait_for_text(&self, css: &str, wanted: &str, within: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let seen = self.text(css).await;
            if seen.as_deref() == Some(wanted) || tokio::time::Instant::now() > deadline {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits up to `within` until `css` matches something (or, with `present` false,
    /// nothing); returns whether it did.
    pub async fn wait_for(&self, css: &str, present: bool, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let found = !self
                .client
                .find_all(Locator::Css(css))
                .await
                .unwrap_or_default()
                .is_empty();
            if found == present {
                return true;
            }
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types `text` into the field `css`. A live update may replace a field in a table
    /// between finding it and typing (the page holds its swaps only while the field has
    /// focus): then it is found again.
    pub async fn fill(&self, css: &str, text: &str) {
        let mut last = String::new();
        for _ in 0..10 {
            let field = self.client.find(Locator::Css(css)).await.expect(css);
            let typed = match field.clear().await {
                Ok(()) => field.send_keys(text).await,
                Err(error) => Err(error),
            };
            match typed {
                Ok(()) => return,
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("could not type into {css}: {last}");
    }

    /// Clicks the element `css`, first scrolled to the middle of the window (not under
    /// the sticky header). A live update may replace the element between finding and
    /// clicking it, as it may under a person's mouse: then it is found again.
    pub async fn click(&self, css: &str) {
        let mut last = String::new();
        for _ in 0..10 {
            let element = self
                .client
                .find(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("{css}: {e}"));
            let centred = self
                .client
                .execute(
                    "arguments[0].scrollIntoView({block: 'center'});",
                    vec![serde_json::to_value(&element).expect("an element as JSON")],
                )
                .await;
            match centred {
                Ok(_) => match element.click().await {
                    Ok(()) => return,
                    Err(error) => last = error.to_string(),
                },
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("could not click {css}: {last}");
    }

    /// Chooses the file at `path` in the file input `css`.
    pub async fn choose_file(&self, css: &str, path: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .expect(css)
            .send_keys(path)
            .await
            .expect("a file chosen");
    }

    /// Runs `script` in the page and returns its result.
    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, Vec::new())
            .await
            .expect("a script run")
    }

    /// Waits until `css` shows `wanted`; fails with what it showed instead.
    pub async fn shows(&self, css: &str, wanted: &str, within: Duration) {
        let seen = self.wait_for_text(css, wanted, within).await;
        assert_eq!(seen.as_deref(), Some(wanted), "{css}");
    }

    /// Saves a PNG of the viewport as `name` in the artefacts folder; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let folder = artefacts();
        std::fs::create_dir_all(&folder).expect("artefacts folder");
        let path = folder.join(name);
        std::fs::write(&path, png).expect("write screenshot");
        path
    }
}

/// Where tests leave files for people to look at: `KILN_ARTEFACTS`, or
/// `target/artefacts` in the workspace.
#[must_use]
pub fn artefacts() -> PathBuf {
    std::env::var_os("KILN_ARTEFACTS").map_or_else(
        || crate::workspace_root().join("target").join("artefacts"),
        PathBuf::from,
    )
}
