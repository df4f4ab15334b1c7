//! What the dashboard's forms do. Each goes through the control service, as the gRPC
//! API and the NATS control interface do, and an action on another host through the
//! control service over the lattice ([`crate::control::remote`]), which forwards it;
//! success redirects to the page with a notice, a problem sends the page back with the
//! form as typed and the problem by its field.

use std::collections::{BTreeMap, HashMap};

use axum::Form;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use kiln_types::keys::KeyKind;
use kiln_web::view::FormState;

use super::upload::{self, Submitted};
use super::view;
use super::web::Web;
use crate::control;
use crate::control::remote::{Placement, RemoteError};

/// Most instances one form may ask for.
const MAX_INSTANCES: u32 = 1000;

type Fields = Form<HashMap<String, String>>;

/// The page again, with `form` and its problems.
fn rejected(web: &Web, form: FormState) -> Response {
    let mut page = view::dashboard(web);
    page.form = Some(form);
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Html(kiln_web::pages::dashboard(&page).into_string()),
    )
        .into_response()
}

/// Back to the page, at `anchor`, saying `done` happened to `key` (on `host`, when it
/// is another host).
fn done(
    web: &Web,
    done: &str,
    key: &str,
    count: Option<u32>,
    host: &str,
    anchor: &str,
) -> Response {
    let count = count.map(|n| format!("&n={n}")).unwrap_or_default();
    let on = if web.remote.is_local(host) {
        String::new()
    } else {
        format!("&on={host}")
    };
    Redirect::to(&format!("/?done={done}&key={key}{count}{on}#{anchor}")).into_response()
}

fn state(name: &str, fields: &BTreeMap<String, String>) -> FormState {
    let mut form = FormState::new(name);
    form.values = fields.clone();
    form
}

fn field<'a>(fields: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    fields.get(name).map_or("", |v| v.trim())
}

/// An instance count in `min..=MAX_INSTANCES`, or the problem with it.
fn count(text: &str, min: u32, default: u32) -> Result<u32, String> {
    if text.is_empty() {
        return Ok(default);
    }
    match text.parse::<u32>() {
        Ok(n) if (min..=MAX_INSTANCES).contains(&n) => Ok(n),
        _ => Err(format!(
            "Enter a whole number from {min} to {MAX_INSTANCES}."
        )),
    }
}

/// Auction constraints from `key=value` pairs split by commas or lines.
fn constraints(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut wanted = BTreeMap::new();
    for pair in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() && !value.trim().is_empty() => {
                wanted.insert(key.trim().to_string(), value.trim().to_string());
            }
            _ => return Err(format!("{pair:?} is not key=value.")),
        }
    }
    Ok(wanted)
}

/// Where a start goes, from the form's `host` and `constraints`; `None` when the
/// problem was recorded on the form. An upload is a file on this host, so it starts
/// only here.
fn placement(submitted: &Submitted, form: &mut FormState) -> Option<Placement> {
    let host = field(&submitted.fields, "host");
    let placement = if host == kiln_web::pages::AUCTION {
        match constraints(field(&submitted.fields, "constraints")) {
            Ok(wanted) => Placement::Auction(wanted),
            Err(problem) => {
                form.error("constraints", problem);
                return None;
            }
        }
    } else {
        Placement::Host(host.to_string())
    };
    let here = matches!(&placement, Placement::Host(id) if id.is_empty());
    if submitted.file.is_some() && !here {
        form.error(
            "host",
            "An uploaded file starts on this host only; push it to a registry to start it elsewhere.",
        );
        return None;
    }
    Some(placement)
}

/// The field a remote problem belongs under: the placement's when no host could be
/// chosen, the source's otherwise.
fn problem_field(error: &RemoteError, submitted: &Submitted) -> &'static str {
    match error {
        RemoteError::NoBids(_) => "constraints",
        RemoteError::Unanswered(_) => "host",
        _ => source_field(submitted),
    }
}

/// The reference to start from: the one typed or the file uploaded, exactly one.
fn source(submitted: &Submitted, form: &mut FormState) -> Option<String> {
    let typed = field(&submitted.fields, "reference");
    match (typed.is_empty(), &submitted.file) {
        (true, None) => {
            form.error("reference", "Give a reference, or choose a file to upload.");
            None
        }
        (false, Some(_)) => {
            form.error("file", "Give a reference or a file, not both.");
            None
        }
        (false, None) => Some(typed.to_string()),
        (true, Some(file)) => Some(file.clone()),
    }
}

/// Where a start's problem belongs: under the file when one was uploaded.
fn source_field(submitted: &Submitted) -> &'static str {
    if submitted.file.is_some() {
        "file"
    } else {
        "reference"
    }
}

async fn read(
    web: &Web,
    multipart: Multipart,
    name: &str,
    extension: &str,
) -> Result<Submitted, Response> {
    let uploads = web.host.fetcher.uploads.clone();
    upload::read(multipart, &uploads, extension, web.host.config.upload_limit)
        .await
        .map_err(|error| {
            let mut form = FormState::new(name);
            let field = if matches!(error, upload::UploadError::TooLarge(_)) {
                "file"
            } else {
                "_form"
            };
            form.error(field, error.to_string());
            rejected(web, form)
        })
}

/// `POST /actors/start` (multipart: reference or file, count, host or auction
/// constraints).
pub async fn start_actor(State(web): State<Web>, multipart: Multipart) -> Response {
    let submitted = match read(&web, multipart, "start-actor", "wasm").await {
        Ok(submitted) => submitted,
        Err(page) => return page,
    };
    let mut form = state("start-actor", &submitted.fields);
    let reference = source(&submitted, &mut form);
    let instances = count(field(&submitted.fields, "count"), 1, 1)
        .map_err(|problem| form.error("count", problem))
        .ok();
    let placement = placement(&submitted, &mut form);
    let (Some(reference), Some(instances), Some(placement)) = (reference, instances, placement)
    else {
        return rejected(&web, form);
    };
    let started = async {
        let host = web.remote.place_actor(placement, &reference).await?;
        web.remote
            .start_actor(&host, &reference, instances, BTreeMap::new())
            .await
    };
    match started.await {
        Ok(started) => done(
            &web,
            "actor-started",
            &started.actor_id,
            Some(instances),
            &started.host_id,
            "actors",
        ),
        Err(error) => {
            form.error(problem_field(&error, &submitted), error.to_string());
            rejected(&web, form)
        }
    }
}

/// `POST /actors/scale` (actor, host, count).
pub async fn scale_actor(State(web): State<Web>, Form(fields): Fields) -> Response {
    let fields: BTreeMap<String, String> = fields.into_iter().collect();
    let mut form = state("scale", &fields);
    let (key, host) = (field(&fields, "actor"), field(&fields, "host"));
    let wanted = match count(field(&fields, "count"), 0, 1) {
        Ok(n) => n,
        Err(problem) => {
            form.error("count", problem);
            return rejected(&web, form);
        }
    };
    match web.remote.scale_actor(host, key, "", wanted).await {
        Ok(now) => done(&web, "actor-scaled", key, Some(now), host, "actors"),
        Err(error) => {
            form.error("count", error.to_string());
            rejected(&web, form)
        }
    }
}

/// `POST /actors/stop` (actor, host).
pub async fn stop_actor(State(web): State<Web>, Form(fields): Fields) -> Response {
    let fields: BTreeMap<String, String> = fields.into_iter().collect();
    let (key, host) = (field(&fields, "actor"), field(&fields, "host"));
    match web.remote.stop_actor(host, key, 0, BTreeMap::new()).await {
        Ok(_) => done(&web, "actor-stopped", key, None, host, "actors"),
        Err(error) => {
            let mut form = state("stop-actor", &fields);
            form.error("actor", error.to_string());
            rejected(&web, form)
        }
    }
}

/// `POST /actors/update` (actor, host, reference).
pub async fn update_actor(State(web): State<Web>, Form(fields): Fields) -> Response {
    let fields: BTreeMap<String, String> = fields.into_iter().collect();
    let mut form = state("update", &fields);
    let (key, host) = (field(&fields, "actor"), field(&fields, "host"));
    let reference = field(&fields, "reference");
    if reference.is_empty() {
        form.error("reference", "Give the reference of the new revision.");
        return rejected(&web, form);
    }
    match web.remote.update_actor(host, key, reference).await {
        Ok(revision) => done(
            &web,
            "actor-updated",
            key,
            Some(u32::try_from(revision).unwrap_or_default()),
            host,
            "actors",
        ),
        Err(error) => {
            form.error("reference", error.to_string());
            rejected(&web, form)
        }
    }
}

/// Whether `name` can be a link name (a NATS subject token).
fn valid_link_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// `POST /providers/start` (multipart: reference or file, link_name, configuration,
/// host or auction constraints).
pub async fn start_provider(State(web): State<Web>, multipart: Multipart) -> Response {
    let submitted = match read(&web, multipart, "start-provider", "par.gz").await {
        Ok(submitted) => submitted,
        Err(page) => return page,
    };
    let mut form = state("start-provider", &submitted.fields);
    let reference = source(&submitted, &mut form);
    let link_name = kiln_types::link::name_or_default(field(&submitted.fields, "link_name"));
    if !valid_link_name(link_name) {
        form.error("link_name", "Use letters, digits, - and _ only.");
    }
    let configuration = Some(field(&submitted.fields, "configuration"))
        .filter(|c| !c.is_empty())
        .map(ToString::to_string);
    let placement = placement(&submitted, &mut form);
    let (Some(reference), Some(placement)) = (reference, placement) else {
        return rejected(&web, form);
    };
    if form.has_errors() {
        return rejected(&web, form);
    }
    let started = async {
        let host = web
            .remote
            .place_provider(placement, &reference, link_name)
            .await?;
        web.remote
            .start_provider(&host, &reference, link_name, configuration, BTreeMap::new())
            .await
    };
    match started.await {
        Ok(started) => done(
            &web,
            "provider-started",
            &started.provider_id,
            None,
            &started.host_id,
            "providers",
        ),
        Err(error) => {
            form.error(problem_field(&error, &submitted), error.to_string());
            rejected(&web, form)
        }
    }
}

/// `POST /providers/stop` (provider, link_name, host).
pub async fn stop_provider(State(web): State<Web>, Form(fields): Fields) -> Response {
    let fields: BTreeMap<String, String> = fields.into_iter().collect();
    let (key, host) = (field(&fields, "provider"), field(&fields, "host"));
    match web
        .remote
        .stop_provider(host, key, field(&fields, "link_name"))
        .await
    {
        Ok(()) => done(&web, "provider-stopped", key, None, host, "providers"),
        Err(error) => {
            let mut form = state("stop-provider", &fields);
            form.error("provider", error.to_string());
            rejected(&web, form)
        }
    }
}

/// Link values from `key=value` lines; the problem names the first bad line.
fn link_values(text: &str) -> Result<HashMap<String, String>, String> {
    let mut values = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                values.insert(key.trim().to_string(), value.trim().to_string());
            }
            _ => {
                return Err(format!("Line {} ({line:?}) is not key=value.", number + 1));
            }
        }
    }
    Ok(values)
}

/// `POST /links` (actor, provider, link_name, values).
pub async fn put_link(State(web): State<Web>, Form(fields): Fields) -> Response {
    let fields: BTreeMap<String, String> = fields.into_iter().collect();
    let mut form = state("link", &fields);
    let actor = field(&fields, "actor");
    let provider = field(&fields, "provider");
    if actor.is_empty() {
        form.error("actor", "Choose the actor.");
    } else if KeyKind::of_public_key(actor) != Some(KeyKind::Module) {
        form.error("actor", "Not an actor key.");
    }
    let contract = if provider.is_empty() {
        form.error("provider", "Choose the provider.");
        None
    } else {
        let contract = web
            .host
            .claims
            .get(provider)
            .map(|c| c.contract_id)
            .filter(|c| !c.is_empty());
        if contract.is_none() {
            form.error(
                "provider",
                "The lattice does not know this provider's claims; start it first.",
            );
        }
        contract
    };
    let link_name = match field(&fields, "link_name") {
        "" => "default",
        name => name,
    };
    if !valid_link_name(link_name) {
        form.error("link_name", "Use letters, digits, - and _ only.");
    }
    let values = link_values(fields.get("values").map_or("", String::as_str))
        .map_err(|problem| form.error("values", problem))
        .ok();
    let (Some(contract), Some(values)) = (contract, values) else {
        return rejected(&web, form);
    };
    if form.has_errors() {
        return rejected(&web, form);
    }
    let link = kiln_types::link::LinkDefinition::new(
        actor.to_string(),
        provider.to_string(),
        link_name.to_string(),
        contract,
        values,
    );
    match control::put_link(&web.host, link).await {
        Ok(()) => done(&web, "link-defined", actor, None, "", "links"),
        Err(error) => {
            form.error("_form", error.to_string());
            rejected(&web, form)
        }
    }
}

/// `POST /links/delete` (actor, contract, link_name).
pub async fn delete_link(State(web): State<Web>, Form(fields): Fields) -> Response {
    let fields: BTreeMap<String, String> = fields.into_iter().collect();
    let actor = field(&fields, "actor");
    let outcome = control::delete_link(
        &web.host,
        actor,
        field(&fields, "contract"),
        field(&fields, "link_name"),
    )
    .await;
    let problem = match outcome {
        Ok(true) => return done(&web, "link-deleted", actor, None, "", "links"),
        Ok(false) => "There is no such link (any more).".to_string(),
        Err(error) => error.to_string(),
    };
    let mut form = state("delete-link", &fields);
    form.error("_form", problem);
    rejected(&web, form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_values_are_key_value_lines() {
        let values = link_values("PORT=8080\n\n# comment\n URL = redis://x:1/?a=b \n").unwrap();
        assert_eq!(values["PORT"], "8080");
        assert_eq!(values["URL"], "redis://x:1/?a=b");
        assert_eq!(
            link_values("PORT=1\nnonsense").unwrap_err(),
            "Line 2 (\"nonsense\") is not key=value."
        );
        assert!(link_values("=x").is_err());
        assert!(link_values("").unwrap().is_empty());
    }

    #[test]
    fn counts_and_link_names_are_checked() {
        assert_eq!(count("", 1, 1), Ok(1));
        assert_eq!(count("3", 1, 1), Ok(3));
        assert!(count("0", 1, 1).is_err());
        assert_eq!(count("0", 0, 1), Ok(0));
        assert!(count("-1", 0, 1).is_err());
        assert!(count("1001", 0, 1).is_err());
        assert!(count("two", 0, 1).is_err());
        assert!(valid_link_name("default"));
        let wanted = constraints(" zone = b,arch=x86_64\nos=linux ").unwrap();
        assert_eq!(wanted.len(), 3);
        assert_eq!(wanted["zone"], "b");
        assert!(constraints("").unwrap().is_empty());
        assert_eq!(
            constraints("zone").unwrap_err(),
            "\"zone\" is not key=value."
        );
        assert!(constraints("zone=").is_err());
        assert!(!valid_link_name("a.b"));
        assert!(!valid_link_name("a b"));
    }
}
