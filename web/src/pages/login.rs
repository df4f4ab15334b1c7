//! The token page, shown when the host has an API token and the browser has not
//! given it yet.

use maud::{Markup, html};

use crate::layout::{self, Nav};

/// The login page; `problem` is shown under the field.
#[must_use]
pub fn login(problem: Option<&str>) -> Markup {
    let body = html! {
        form.card.narrow method="post" action="/login" {
            h2 { "This host needs its API token" }
            p.muted { "The dashboard is guarded by the same token as the control API (KILN_CP_API_TOKEN)." }
            label for="login-token" { "Token" }
            input id="login-token" name="token" type="password" autocomplete="current-password"
                aria-invalid=[problem.is_some().then_some("true")]
                aria-describedby=[problem.is_some().then_some("login-token-error")];
            @if let Some(problem) = problem {
                p.field-error id="login-token-error" role="alert" { (problem) }
            }
            button type="submit" { "Open the dashboard" }
        }
    };
    layout::page("Sign in", Nav::None, &body, false)
}
