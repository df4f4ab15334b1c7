//! Commands to one host (`cmd.{host}.*`) and its inventory (`get.{host}.inv`).
//!
//! As on the wasmbus host, launches are acknowledged once the request is valid and run
//! in the background; their outcome is the `actors_started` / `actor_start_failed`
//! (`provider_started` / `provider_start_failed`) event. Stops, scaling of a running
//! actor and live updates answer when done, with the reason when they fail.

use std::sync::Arc;

use kiln_types::ctl::{
    LaunchActor, LaunchProvider, ScaleActor, StopActor, StopHost, StopProvider, UpdateActor,
};
use kiln_types::keys::KeyKind;

use super::bounds::CTL_IN_FLIGHT;
use super::reply::parse;
use crate::control;
use crate::host::Shared;
use crate::lattice::events::data as eventdata;
use crate::lattice::events::kind;
use kiln_types::ctl::Ack;

/// Runs one host command.
pub async fn command(host: &Shared, command: &str, payload: &[u8]) -> Ack {
    use kiln_wasmbus::subjects::Command as C;
    let result = match C::parse(command) {
        Some(C::LaunchActor) => launch_actor(host, payload),
        Some(C::StopActor) => stop_actor(host, payload).await,
        Some(C::ScaleActor) => scale_actor(host, payload).await,
        Some(C::UpdateActor) => update_actor(host, payload).await,
        Some(C::StopHost) => stop_host(host, payload),
        Some(C::LaunchProvider) => launch_provider(host, payload).await,
        Some(C::StopProvider) => stop_provider(host, payload).await,
        None => Err(Ack::failed(format!("unknown host command {command:?}"))),
    };
    result.unwrap_or_else(|ack| ack)
}

/// A place for a launch that goes on after its acknowledgement, counted with the
/// requests in progress.
fn background_slot(
    slots: &Arc<tokio::sync::Semaphore>,
) -> Result<tokio::sync::OwnedSemaphorePermit, Ack> {
    slots.clone().try_acquire_owned().map_err(|_| {
        Ack::failed(format!(
            "control interface busy: {} requests already in progress on this host; try again later",
            CTL_IN_FLIGHT
        ))
    })
}

fn actor_key(field: &str, value: &str) -> Result<(), Ack> {
    if KeyKind::of_public_key(value) == Some(KeyKind::Module) {
        Ok(())
    } else {
        Err(Ack::failed(format!(
            "{field} {value:?} is not an actor's public key (56 characters starting with M)"
        )))
    }
}

fn launch_actor(host: &Shared, payload: &[u8]) -> Result<Ack, Ack> {
    let request: LaunchActor = parse(payload)?;
    if request.actor_ref.trim().is_empty() {
        return Err(Ack::failed("actor_ref is empty"));
    }
    let slot = background_slot(&host.ctl_slots)?;
    let host = host.clone();
    host.tasks.clone().spawn(async move {
        let _slot = slot;
        // The outcome is reported by events.
        let _ = control::start_actor(
            &host,
            &request.actor_ref,
            u32::from(request.count.unwrap_or(1)),
            request.annotations.unwrap_or_default(),
        )
        .await;
    });
    Ok(Ack::ok())
}

async fn stop_actor(host: &Shared, payload: &[u8]) -> Result<Ack, Ack> {
    let request: StopActor = parse(payload)?;
    actor_key("actor_ref", &request.actor_ref)?;
    Ok(Ack::of(
        control::stop_actor(
            host,
            &request.actor_ref,
            u32::from(request.count),
            &request.annotations.unwrap_or_default(),
        )
        .await,
    ))
}

async fn scale_actor(host: &Shared, payload: &[u8]) -> Result<Ack, Ack> {
    let request: ScaleActor = parse(payload)?;
    actor_key("actor_id", &request.actor_id)?;
    let count = u32::from(request.count);
    if host.actors.get(&request.actor_id).is_some() || count == 0 {
        return Ok(Ack::of(
            control::scale_actor(host, &request.actor_id, &request.actor_ref, count).await,
        ));
    }
    if request.actor_ref.is_empty() {
        return Err(Ack::failed(format!(
            "actor {} is not running on this host; give actor_ref to start it",
            request.actor_id
        )));
    }
    // A start: acknowledged now, reported by events.
    let slot = background_slot(&host.ctl_slots)?;
    let host = host.clone();
    host.tasks.clone().spawn(async move {
        let _slot = slot;
        let _ = control::scale_actor(&host, &request.actor_id, &request.actor_ref, count).await;
    });
    Ok(Ack::ok())
}

async fn update_actor(host: &Shared, payload: &[u8]) -> Result<Ack, Ack> {
    let request: UpdateActor = parse(payload)?;
    if request.new_actor_ref.trim().is_empty() {
        return Err(Ack::failed("new_actor_ref is empty"));
    }
    Ok(Ack::of(
        control::update_actor(host, request.actor_id.as_deref(), &request.new_actor_ref).await,
    ))
}

fn stop_host(host: &Shared, payload: &[u8]) -> Result<Ack, Ack> {
    let request: StopHost = if payload.is_empty() {
        StopHost::default()
    } else {
        parse(payload)?
    };
    control::stop_host(host, request.timeout);
    Ok(Ack::ok())
}

async fn launch_provider(host: &Shared, payload: &[u8]) -> Result<Ack, Ack> {
    let request: LaunchProvider = parse(payload)?;
    if request.provider_ref.trim().is_empty() {
        return Err(Ack::failed("provider_ref is empty"));
    }
    let link_name = if request.link_name.is_empty() {
        "default".to_string()
    } else {
        request.link_name.clone()
    };
    if crate::control::providers::running_here(host, &request.provider_ref, &link_name) {
        let error = "Provider with that link name is already running on this host";
        host.events
            .publish(
                kind::PROVIDER_START_FAILED,
                eventdata::provider_start_failed(&request.provider_ref, &link_name, error),
            )
            .await;
        return Err(Ack::failed(error));
    }
    if let Err(reason) = kiln_types::link::check_link_name(&link_name) {
        return Err(Ack::failed(reason));
    }
    let slot = background_slot(&host.ctl_slots)?;
    let host = host.clone();
    host.tasks.clone().spawn(async move {
        let _slot = slot;
        let _ = crate::control::start_provider(
            &host,
            &request.provider_ref,
            &link_name,
            request.configuration.filter(|c| !c.is_empty()),
            request.annotations.unwrap_or_default(),
        )
        .await;
    });
    Ok(Ack::ok())
}

async fn stop_provider(host: &Shared, payload: &[u8]) -> Result<Ack, Ack> {
    let request: StopProvider = parse(payload)?;
    if request.provider_ref.len() != kiln_types::keys::PUBLIC_KEY_LEN {
        return Err(Ack::failed(format!(
            "provider_ref {:?} must be the provider's 56-character public key",
            request.provider_ref
        )));
    }
    // The OTP host sends the shutdown and acknowledges whether or not the provider ran
    // here; so does this host (without the shutdown, which would reach the same
    // provider on other hosts), so scripts that stop "everywhere" succeed.
    match crate::control::stop_provider(host, &request.provider_ref, &request.link_name).await {
        Ok(()) => Ok(Ack::ok()),
        Err(crate::control::ProviderError::NotRunning { key, link_name }) => {
            tracing::info!(provider = %key, link = %link_name, "stop of a provider not running here: acknowledged");
            Ok(Ack::ok())
        }
        Err(error) => Err(Ack::failed(error)),
    }
}
