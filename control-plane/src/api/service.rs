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
use crate::control::remote::Remote;
use crate::host::Shared;
use kiln_types::ctl as body;
use kiln_wasmbus::subjects;
use kiln_wasmbus::subjects::CtlSubject;

/// The API over one host.
pub struct Api {
    host: Shared,
    remote: Remote,
}

impl Api {
    /// The API of `host`; `remote` reaches the other hosts.
    #[must_use]
    pub fn new(host: Shared, remote: Remote) -> Api {
        Api { host, remote }
    }
}

fn labels(map: std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    map.into_iter().collect()
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
            .remote
            .ctl()
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
        let json = self.remote.inventory(&host_id).await?;
        Ok(Response::new(convert::inventory(&json)))
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
        let started = self
            .remote
            .start_actor(
                &r.host_id,
                &r.reference,
                r.count.max(1),
                labels(r.annotations),
            )
            .await?;
        Ok(Response::new(pb::StartActorResponse {
            actor_id: started.actor_id,
            instances: started.instances,
        }))
    }

    async fn stop_actor(
        &self,
        request: Request<pb::StopActorRequest>,
    ) -> Result<Response<pb::StopActorResponse>, Status> {
        let r = request.into_inner();
        required("actor_id", &r.actor_id)?;
        let remaining = self
            .remote
            .stop_actor(&r.host_id, &r.actor_id, r.count, labels(r.annotations))
            .await?;
        Ok(Response::new(pb::StopActorResponse { remaining }))
    }

    async fn scale_actor(
        &self,
        request: Request<pb::ScaleActorRequest>,
    ) -> Result<Response<pb::ScaleActorResponse>, Status> {
        let r = request.into_inner();
        required("actor_id", &r.actor_id)?;
        let instances = self
            .remote
            .scale_actor(&r.host_id, &r.actor_id, &r.reference, r.count)
            .await?;
        Ok(Response::new(pb::ScaleActorResponse { instances }))
    }

    async fn update_actor(
        &self,
        request: Request<pb::UpdateActorRequest>,
    ) -> Result<Response<pb::UpdateActorResponse>, Status> {
        let r = request.into_inner();
        required("reference", &r.reference)?;
        let revision = self
            .remote
            .update_actor(&r.host_id, &r.actor_id, &r.reference)
            .await?;
        Ok(Response::new(pb::UpdateActorResponse { revision }))
    }

    async fn start_provider(
        &self,
        request: Request<pb::StartProviderRequest>,
    ) -> Result<Response<pb::StartProviderResponse>, Status> {
        let r = request.into_inner();
        required("reference", &r.reference)?;
        let started = self
            .remote
            .start_provider(
                &r.host_id,
                &r.reference,
                &r.link_name,
                Some(r.configuration).filter(|c| !c.is_empty()),
                labels(r.annotations),
            )
            .await?;
        Ok(Response::new(pb::StartProviderResponse {
            provider_id: started.provider_id,
            contract_id: started.contract_id,
        }))
    }

    async fn stop_provider(
        &self,
        request: Request<pb::StopProviderRequest>,
    ) -> Result<Response<pb::StopProviderResponse>, Status> {
        let r = request.into_inner();
        required("provider_id", &r.provider_id)?;
        self.remote
            .stop_provider(&r.host_id, &r.provider_id, &r.link_name)
            .await?;
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
            .remote
            .ctl()
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
        self.remote.stop_host(&r.host_id, grace).await?;
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
        let subscription = self.remote.ctl().events().await.map_err(|e| {
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
        request: &T,
    ) -> Result<Response<pb::AuctionResponse>, Status> {
        let mut host_ids = self.remote.auction(which, request).await?;
        host_ids.sort();
        Ok(Response::new(pb::AuctionResponse { host_ids }))
    }
}
