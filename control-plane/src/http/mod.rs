//! The control plane's HTTP server: the dashboard, health endpoints and `/metrics`.
//!
//! `/api/livez`, `/api/readyz`, `/api/hosts` and `/metrics` are open (probes and
//! scrapers); everything else is the dashboard, behind the API token when one is set.
//! `server` holds the routes; `view` builds the page from the host's state, `actions`
//! runs its forms through the control service, `live` streams its changes.

mod actions;
mod auth;
mod feed;
mod live;
mod metrics_page;
mod notice;
mod probes;
mod server;
mod upload;
mod view;
mod web;

pub use server::serve;
