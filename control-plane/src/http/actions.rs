//! What the dashboard's forms do. Each goes through the control service, as the gRPC
//! API and the NATS control interface do; success redirects to the page with a notice,
//! a problem sends the page back with the form as typed and the problem by its field.

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

/// Back to the page, at `anchor`, saying `done` happened to `key`.
fn done(done: &str, key: &str, count: Option<u32>, anchor: &str) -> Response {
    let count = count.map(|n| format!("&n={n}")).unwrap_or_default();
    Redirect::to(&format!("/?done={done}&key={key}{count}#{anchor}")).into_response()
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

/// `POST /actors/start` (multipart: reference or file, count).
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
    let (Some(reference), Some(instances)) = (reference, instances) else {
        return rejected(&web, form);
    };
    match control::start_actor(&web.host, &reference, instances, BTreeMap::new()).await {
        Ok(started) => done(
            "actor-started",
            started.key.as_str(),
            Some(instances),
            "actors",
        ),
        Err(error) => {
            form.error(source_field(&submitted), error.to_string());
            rejected(&web, form)
        }
    }
}

/// `POST /actors/scale` (actor, count).
pub async fn scale_actor(State(web): State<Web>, Form(fields): Fields) -> Response {
    let fields: BTreeMap<String, String> = fields.into_iter().collect();
    let mut form = state("scale", &fields);
    let key = field(&fields, "actor");
    let wanted = match count(field(&fields, "count"), 0, 1) {
        Ok(n) => n,
        Err(problem) => {
            form.error("count", problem);
            return rejected(&web, form);
        }
    };
    match control::scale_actor(&web.host, key, "", wanted).await {
        Ok(now) => done("actor-scaled", key, Some(now), "actors"),
        Err(error) => {
            form.error("count", error.to_string());
            rejected(&web, form)
        }
    }
}

/// `POST /actors/stop` (actor).
pub async fn stop_actor(State(web): State<Web>, Form(fields): Fields) -> Response {
    let fields: BTreeMap<String, String> = fields.into_iter().collect();
    let key = field(&fields, "actor");
    match control::stop_actor(&web.host, key, 0, &BTreeMap::new()).await {
        Ok(_) => done("actor-stopped", key, None, "actors"),
        Err(error) => {
            let mut form = state("stop-actor", &fields);
            form.error("actor", error.to_string());
            rejected(&web, form)
        }
    }
}

/// `POST /actors/update` (actor, reference).
pub async fn update_actor(State(web): State<Web>, Form(fields): Fields) -> Response {
    let fields: BTreeMap<String, String> = fields.into_iter().collect();
    let mut form = state("update", &fields);
    let key = field(&fields, "actor");
    let reference = field(&fields, "reference");
    if reference.is_empty() {
        form.error("reference", "Give the reference of the new revision.");
        return rejected(&web, form);
    }
    match control::update_actor(&web.host, Some(key), reference).await {
        Ok(revision) => done(
            "actor-updated",
            key,
            Some(u32::try_from(revision).unwrap_or_default()),
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

/// `POST /providers/start` (multipart: reference or file, link_name).
pub async fn start_provider(State(web): State<Web>, multipart: Multipart) -> Response {
    let submitted = match read(&web, multipart, "start-provider", "par.gz").await {
        Ok(submitted) => submitted,
        Err(page) => return page,
    };
    let mut form = state("start-provider", &submitted.fields);
    let reference = source(&submitted, &mut form);
    let link_name = match field(&submitted.fields, "link_name") {
        "" => "default",
        name => name,
    };
    if !valid_link_name(link_name) {
        form.error("link_name", "Use letters, digits, - and _ only.");
    }
    let Some(reference) = reference.filter(|_| !form.has_errors()) else {
        return rejected(&web, form);
    };
    match crate::control::start_provider(&web.host, &reference, link_name, None, BTreeMap::new())
        .await
    {
        Ok(entry) => done("provider-started", &entry.key, None, "providers"),
        Err(error) => {
            form.error(source_field(&submitted), error.to_string());
            rejected(&web, form)
        }
    }
}

/// `POST /providers/stop` (provider, link_name).
pub async fn stop_provider(State(web): State<Web>, Form(fields): Fields) -> Response {
    let fields: BTreeMap<String, String> = fields.into_iter().collect();
    let key = field(&fields, "provider");
    match crate::control::stop_provider(&web.host, key, field(&fields, "link_name")).await {
        Ok(()) => done("provider-stopped", key, None, "providers"),
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
        Ok(()) => done("link-defined", actor, None, "links"),
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
        Ok(true) => return done("link-deleted", actor, None, "links"),
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
        assert!(!valid_link_name("a.b"));
        assert!(!valid_link_name("a b"));
    }
}
