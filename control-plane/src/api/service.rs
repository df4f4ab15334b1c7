//! `kiln.control.v1.ControlApi`: this host's commands go to the control service, other
//! hosts' over the NATS control interface; answers come back as typed messages.

use std::collections::BTreeMap;
use std::pin::Pin;

use futures::{Stream, StreamExt as _};
use kiln_proto::control::v1 as pb;
use kiln_types::invocation::Entity;
use tonic::{Request, Response, Status};

use super::{convert, status};
use crate::control;
use crate::host::Shared;
use kiln_types::ctl as body;
use kiln_wasmbus::ctl::{Client as Ctl, CtlError};
use kiln_wasmbus::subjects;
use kiln_wasmbus::subjects::{Command, CtlSubject};

/// The API over one host.
pub struct Api {
    host: Shared,
    ctl: Ctl,
}

impl Api {
    /// The API of `host`; `ctl` reaches the other hosts.
    #[must_use]
    pub fn new(host: Shared, ctl: Ctl) -> Api {
        Api { host, ctl }
    }

    fn local(&self, host_id: &str) -> bool {
        host_id.is_empty() || host_id == self.host.config.host_id()
    }

    /// A command to another host; its refusal as a status.
    async fn remote<T: serde::Serialize>(
        &self,
        host_id: &str,
        command: Command,
        body: &T,
    ) -> Result<(), Status> {
        self.ctl
            .command(host_id, command, body)
            .await
            .map(drop)
            .map_err(|e| status::remote(&e))
    }

    async fn remote_inventory(&self, host_id: &str) -> Result<pb::Inventory, Status> {
        let json = self.ctl.inventory(host_id).await.map_err(|e| match e {
            CtlError::Invalid(_) => status::remote(&e),
            _ => Status::not_found(format!("host {host_id} did not answer")),
        })?;
        Ok(convert::inventory(&json))
    }
}

fn labels(map: std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    map.into_iter().collect()
}

/// A count as the control interface carries it.
fn count16(count: u32) -> Result<u16, Status> {
    u16::try_from(count).map_err(|_| {
        Status::invalid_argument(format!(
            "count {count} is above {} (the control interface's limit)",
            u16::MAX
        ))
    })
}

fn required(field: &str, value: &str) -> Result<(), Status> {
    if value.trim().is_empty() {
        Err(Status::invalid_argument(format!("{field} is required")))
    } else {
        Ok(())
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

#[tonic::async_trait]
impl pb::control_api_server::ControlApi for Api {
    async fn list_hosts(
        &self,
        _request: Request<pb::ListHostsRequest>,
    ) -> Result<Response<pb::ListHostsResponse>, Status> {
        let answers = self
            .ctl
            .gather(CtlSubject::PingHosts, &serde_json::json!({}))
            .await
            .map_err(|e| Status::unavailable(format!("could not ping the lattice: {e:#}")))?;
        let mut hosts: Vec<pb::Host> = answers.iter().map(convert::host).collect();
        hosts.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Response::new(pb::ListHostsResponse { hosts }))
    }

    async fn get_inventory(
        &self,
        request: Request<pb::GetInventoryRequest>,
    ) -> Result<Response<pb::Inventory>, Status> {
        let host_id = request.into_inner().host_id;
        let inventory = if self.local(&host_id) {
            let json = serde_json::to_value(crate::lattice::ctl::inventory(&self.host))
                .map_err(|e| Status::internal(e.to_string()))?;
            convert::inventory(&json)
        } else {
            self.remote_inventory(&host_id).await?
        };
        Ok(Response::new(inventory))
    }

    async fn list_claims(
        &self,
        _request: Request<pb::ListClaimsRequest>,
    ) -> Result<Response<pb::ListClaimsResponse>, Status> {
        let claims = self.host.claims.all().iter().map(convert::claims).collect();
        Ok(Response::new(pb::ListClaimsResponse { claims }))
    }

    async fn list_links(
        &self,
        _request: Request<pb::ListLinksRequest>,
    ) -> Result<Response<pb::ListLinksResponse>, Status> {
        let links = self
            .host
            .links
            .all()
            .iter()
            .map(|l| convert::link(l))
            .collect();
        Ok(Response::new(pb::ListLinksResponse { links }))
    }

    async fn put_link(
        &self,
        request: Request<pb::PutLinkRequest>,
    ) -> Result<Response<pb::PutLinkResponse>, Status> {
        let r = request.into_inner();
        let link = kiln_types::link::LinkDefinition::new(
            r.actor_id,
            r.provider_id,
            if r.link_name.is_empty() {
                "default".to_string()
            } else {
                r.link_name
            },
            r.contract_id,
            r.values,
        );
        control::put_link(&self.host, link.clone()).await?;
        Ok(Response::new(pb::PutLinkResponse {
            link: Some(convert::link(&link)),
        }))
    }

    async fn delete_link(
        &self,
        request: Request<pb::DeleteLinkRequest>,
    ) -> Result<Response<pb::DeleteLinkResponse>, Status> {
        let r = request.into_inner();
        required("actor_id", &r.actor_id)?;
        required("contract_id", &r.contract_id)?;
        if control::delete_link(&self.host, &r.actor_id, &r.contract_id, &r.link_name).await? {
            Ok(Response::new(pb::DeleteLinkResponse {}))
        } else {
            Err(Status::not_found(format!(
                "no link for actor {} and contract {} (link {})",
                r.actor_id,
                r.contract_id,
                if r.link_name.is_empty() {
                    "default"
                } else {
                    &r.link_name
                }
            )))
        }
    }

    async fn start_actor(
        &self,
        request: Request<pb::StartActorRequest>,
    ) -> Result<Response<pb::StartActorResponse>, Status> {
        let r = request.into_inner();
        required("reference", &r.reference)?;
        let count = r.count.max(1);
        if self.local(&r.host_id) {
            let started =
                control::start_actor(&self.host, &r.reference, count, labels(r.annotations))
                    .await?;
            return Ok(Response::new(pb::StartActorResponse {
                actor_id: started.key.to_string(),
                instances: started.total,
            }));
        }
        let body = body::LaunchActor {
            actor_ref: r.reference,
            count: Some(count16(count)?),
            annotations: Some(labels(r.annotations)),
        };
        let data = self
            .ctl
            .start_actor(&r.host_id, &body, true)
            .await
            .map_err(|e| status::remote(&e))?;
        let actor_id = data["public_key"].as_str().unwrap_or_default().to_string();
        let inventory = self.remote_inventory(&r.host_id).await?;
        let instances = inventory
            .actors
            .iter()
            .find(|a| a.id == actor_id)
            .map_or(count, |a| {
                u32::try_from(a.instances.len()).unwrap_or(u32::MAX)
            });
        Ok(Response::new(pb::StartActorResponse {
            actor_id,
            instances,
        }))
    }

    async fn stop_actor(
        &self,
        request: Request<pb::StopActorRequest>,
    ) -> Result<Response<pb::StopActorResponse>, Status> {
        let r = request.into_inner();
        required("actor_id", &r.actor_id)?;
        let remaining = if self.local(&r.host_id) {
            control::stop_actor(&self.host, &r.actor_id, r.count, &labels(r.annotations)).await?
        } else {
            let body = body::StopActor {
                actor_ref: r.actor_id.clone(),
                count: count16(r.count)?,
                annotations: Some(labels(r.annotations)),
            };
            self.remote(&r.host_id, Command::StopActor, &body).await?;
            let inventory = self.remote_inventory(&r.host_id).await?;
            inventory
                .actors
                .iter()
                .find(|a| a.id == r.actor_id)
                .map_or(0, |a| u32::try_from(a.instances.len()).unwrap_or(u32::MAX))
        };
        Ok(Response::new(pb::StopActorResponse { remaining }))
    }

    async fn scale_actor(
        &self,
        request: Request<pb::ScaleActorRequest>,
    ) -> Result<Response<pb::ScaleActorResponse>, Status> {
        let r = request.into_inner();
        required("actor_id", &r.actor_id)?;
        let instances = if self.local(&r.host_id) {
            control::scale_actor(&self.host, &r.actor_id, &r.reference, r.count).await?
        } else {
            let body = body::ScaleActor {
                actor_id: r.actor_id,
                actor_ref: r.reference,
                count: count16(r.count)?,
            };
            self.remote(&r.host_id, Command::ScaleActor, &body).await?;
            r.count
        };
        Ok(Response::new(pb::ScaleActorResponse { instances }))
    }

    async fn update_actor(
        &self,
        request: Request<pb::UpdateActorRequest>,
    ) -> Result<Response<pb::UpdateActorResponse>, Status> {
        let r = request.into_inner();
        required("reference", &r.reference)?;
        let revision = if self.local(&r.host_id) {
            control::update_actor(&self.host, Some(&r.actor_id), &r.reference).await?
        } else {
            let body = body::UpdateActor {
                actor_id: Some(r.actor_id.clone()),
                new_actor_ref: r.reference,
            };
            self.remote(&r.host_id, Command::UpdateActor, &body).await?;
            let inventory = self.remote_inventory(&r.host_id).await?;
            inventory
                .actors
                .iter()
                .find(|a| a.id == r.actor_id)
                .and_then(|a| a.instances.first())
                .map_or(0, |i| i.revision)
        };
        Ok(Response::new(pb::UpdateActorResponse { revision }))
    }

    async fn start_provider(
        &self,
        request: Request<pb::StartProviderRequest>,
    ) -> Result<Response<pb::StartProviderResponse>, Status> {
        let r = request.into_inner();
        required("reference", &r.reference)?;
        let link_name = if r.link_name.is_empty() {
            "default".to_string()
        } else {
            r.link_name
        };
        if self.local(&r.host_id) {
            let configuration = Some(r.configuration).filter(|c| !c.is_empty());
            let entry = crate::control::start_provider(
                &self.host,
                &r.reference,
                &link_name,
                configuration,
                labels(r.annotations),
            )
            .await?;
            return Ok(Response::new(pb::StartProviderResponse {
                provider_id: entry.key.clone(),
                contract_id: entry.contract_id().to_string(),
            }));
        }
        let body = body::LaunchProvider {
            provider_ref: r.reference,
            link_name,
            configuration: Some(r.configuration),
            annotations: Some(labels(r.annotations)),
        };
        let data = self
            .ctl
            .start_provider(&r.host_id, &body, true)
            .await
            .map_err(|e| status::remote(&e))?;
        Ok(Response::new(pb::StartProviderResponse {
            provider_id: data["public_key"].as_str().unwrap_or_default().to_string(),
            contract_id: data["contract_id"].as_str().unwrap_or_default().to_string(),
        }))
    }

    async fn stop_provider(
        &self,
        request: Request<pb::StopProviderRequest>,
    ) -> Result<Response<pb::StopProviderResponse>, Status> {
        let r = request.into_inner();
        required("provider_id", &r.provider_id)?;
        if self.local(&r.host_id) {
            crate::control::stop_provider(&self.host, &r.provider_id, &r.link_name).await?;
        } else {
            let body = body::StopProvider {
                provider_ref: r.provider_id,
                link_name: r.link_name,
            };
            self.remote(&r.host_id, Command::StopProvider, &body)
                .await?;
        }
        Ok(Response::new(pb::StopProviderResponse {}))
    }

    async fn put_registry_credentials(
        &self,
        request: Request<pb::PutRegistryCredentialsRequest>,
    ) -> Result<Response<pb::PutRegistryCredentialsResponse>, Status> {
        let credentials: serde_json::Map<String, serde_json::Value> = request
            .into_inner()
            .credentials
            .into_iter()
            .map(|(server, c)| {
                let kind = if c.registry_type.is_empty() {
                    "oci".to_string()
                } else {
                    c.registry_type
                };
                let mut entry = serde_json::json!({ "registryType": kind });
                for (field, value) in [
                    ("username", c.username),
                    ("password", c.password),
                    ("token", c.token),
                ] {
                    if !value.is_empty() {
                        entry[field] = value.into();
                    }
                }
                (server, entry)
            })
            .collect();
        // Every host of the lattice takes them, this one included.
        let answers = self
            .ctl
            .gather(
                CtlSubject::RegistriesPut,
                &serde_json::Value::Object(credentials),
            )
            .await
            .map_err(|e| Status::unavailable(format!("could not reach the lattice: {e:#}")))?;
        if let Some(refusal) = answers.iter().find(|a| a["accepted"] != true) {
            return Err(Status::invalid_argument(
                refusal["error"].as_str().unwrap_or("refused").to_string(),
            ));
        }
        Ok(Response::new(pb::PutRegistryCredentialsResponse {}))
    }

    async fn stop_host(
        &self,
        request: Request<pb::StopHostRequest>,
    ) -> Result<Response<pb::StopHostResponse>, Status> {
        let r = request.into_inner();
        let grace = Some(r.grace_ms).filter(|g| *g > 0);
        if self.local(&r.host_id) {
            control::stop_host(&self.host, grace);
        } else {
            let body = body::StopHost { timeout: grace };
            self.remote(&r.host_id, Command::StopHost, &body).await?;
        }
        Ok(Response::new(pb::StopHostResponse {}))
    }

    async fn auction_actor(
        &self,
        request: Request<pb::AuctionActorRequest>,
    ) -> Result<Response<pb::AuctionResponse>, Status> {
        let r = request.into_inner();
        required("reference", &r.reference)?;
        let body = body::ActorAuction {
            actor_ref: r.reference,
            constraints: labels(r.constraints),
            host_id: String::new(),
        };
        self.auction(CtlSubject::ActorAuction, &body).await
    }

    async fn auction_provider(
        &self,
        request: Request<pb::AuctionProviderRequest>,
    ) -> Result<Response<pb::AuctionResponse>, Status> {
        let r = request.into_inner();
        required("reference", &r.reference)?;
        let body = body::ProviderAuction {
            provider_ref: r.reference,
            link_name: r.link_name,
            constraints: labels(r.constraints),
            host_id: String::new(),
        };
        self.auction(CtlSubject::ProviderAuction, &body).await
    }

    type WatchEventsStream = EventStream;

    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let wanted: Vec<String> = request
            .into_inner()
            .types
            .into_iter()
            .map(|t| {
                t.trim_start_matches(crate::lattice::events::TYPE_PREFIX)
                    .to_string()
            })
            .collect();
        let subscription = self.ctl.events().await.map_err(|e| {
            Status::unavailable(format!("could not follow the lattice's events: {e:#}"))
        })?;
        let stream = subscription.filter_map(move |message| {
            let event = kiln_types::decode::json::<serde_json::Value>(
                "an event",
                &message.payload,
                kiln_types::limits::JSON_BODY,
            )
            .ok()
            .as_ref()
            .and_then(convert::event)
            .filter(|e| wanted.is_empty() || wanted.contains(&e.r#type));
            std::future::ready(event.map(Ok))
        });
        // The stream ends with the host, so a watcher never holds up its exit.
        let stream = stream.take_until(self.host.drained.clone().cancelled_owned());
        Ok(Response::new(Box::pin(stream)))
    }

    async fn invoke(
        &self,
        request: Request<pb::InvokeRequest>,
    ) -> Result<Response<pb::InvokeResponse>, Status> {
        let r = request.into_inner();
        required("actor", &r.actor)?;
        required("operation", &r.operation)?;
        let key = if kiln_types::keys::KeyKind::of_public_key(&r.actor)
            == Some(kiln_types::keys::KeyKind::Module)
        {
            r.actor.clone()
        } else {
            self.host.claims.resolve_alias(&r.actor).ok_or_else(|| {
                Status::not_found(format!(
                    "{:?} is neither an actor key nor a call alias known to the lattice",
                    r.actor
                ))
            })?
        };
        // The caller is this host, as the wasmbus host signs its own calls.
        let origin = Entity::actor(self.host.config.host_id());
        let payload = self
            .host
            .caller
            .call(
                origin,
                Entity::actor(&key),
                subjects::actor_rpc(&self.host.config.lattice, &key),
                &format!("actor {key}"),
                r.operation,
                r.payload,
            )
            .await
            .map_err(|e| status::call(&e))?;
        Ok(Response::new(pb::InvokeResponse { payload }))
    }
}

impl Api {
    async fn auction<T: serde::Serialize>(
        &self,
        which: CtlSubject<'_>,
        body: &T,
    ) -> Result<Response<pb::AuctionResponse>, Status> {
        let bids = self
            .ctl
            .gather(which, body)
            .await
            .map_err(|e| Status::unavailable(format!("could not reach the lattice: {e:#}")))?;
        let mut host_ids: Vec<String> = bids
            .iter()
            .filter_map(|b| b["host_id"].as_str().map(ToString::to_string))
            .collect();
        host_ids.sort();
        Ok(Response::new(pb::AuctionResponse { host_ids }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_beyond_the_control_interface_are_refused_not_clamped() {
        assert_eq!(count16(65_535).unwrap(), u16::MAX);
        let status = count16(65_536).unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("65536"), "{}", status.message());
    }
}
