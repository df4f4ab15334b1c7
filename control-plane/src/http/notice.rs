//! The line the dashboard shows after an action redirected back to it.

/// The notice for a `?done=` redirect; `on` names the other host it was done on.
pub fn notice(done: &str, key: &str, count: Option<u32>, on: Option<&str>) -> Option<String> {
    let key = key.get(..10).unwrap_or(key);
    let n = count.unwrap_or_default();
    let on = on.map_or_else(String::new, |host| format!(" on {host}"));
    let here = if on.is_empty() { " here" } else { &on };
    Some(match done {
        "actor-started" => format!("Started {n} instance(s) of actor {key}…{on}"),
        "actor-scaled" => format!("Actor {key}… now runs {n} instance(s){here}."),
        "actor-stopped" => format!("Stopped actor {key}…{on}"),
        "actor-updated" => format!("Actor {key}… now runs revision {n}{on}."),
        "provider-started" => format!("Started provider {key}…{on}; its health shows below."),
        "provider-stopped" => format!("Stopped provider {key}…{on}"),
        "link-defined" => format!("Defined a link for actor {key}…"),
        "link-deleted" => format!("Deleted a link of actor {key}…"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_names_the_other_host() {
        assert_eq!(
            notice("actor-scaled", "MABCDEFGHIJKL", Some(2), None).unwrap(),
            "Actor MABCDEFGHI… now runs 2 instance(s) here."
        );
        assert_eq!(
            notice(
                "actor-scaled",
                "MABCDEFGHIJKL",
                Some(2),
                Some("misty-brook")
            )
            .unwrap(),
            "Actor MABCDEFGHI… now runs 2 instance(s) on misty-brook."
        );
        assert_eq!(
            notice("provider-stopped", "VABC", None, Some("b")).unwrap(),
            "Stopped provider VABC… on b"
        );
        assert!(notice("nonsense", "M", None, None).is_none());
    }
}
