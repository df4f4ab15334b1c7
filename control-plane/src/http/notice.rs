//! The line the dashboard shows after an action redirected back to it.

/// The notice for a `?done=` redirect.
pub fn notice(done: &str, key: &str, count: Option<u32>) -> Option<String> {
    let key = key.get(..10).unwrap_or(key);
    let n = count.unwrap_or_default();
    Some(match done {
        "actor-started" => format!("Started {n} instance(s) of actor {key}…"),
        "actor-scaled" => format!("Actor {key}… now runs {n} instance(s) here."),
        "actor-stopped" => format!("Stopped actor {key}…"),
        "actor-updated" => format!("Actor {key}… now runs revision {n}."),
        "provider-started" => format!("Started provider {key}…; its health shows below."),
        "provider-stopped" => format!("Stopped provider {key}…"),
        "link-defined" => format!("Defined a link for actor {key}…"),
        "link-deleted" => format!("Deleted a link of actor {key}…"),
        _ => return None,
    })
}
