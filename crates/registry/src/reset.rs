//! Emptying the registry of an account (iotmock's own reset, never an AWS operation): every
//! record goes from the store and from memory, and the change hooks hear of every certificate,
//! thing and membership that went, so live connections re-check (and close) and the services
//! that follow the registry forget what they derived from it. No registry event is announced.

use crate::Registry;
use crate::events::RegistryEvent;
use iotmock_model::{IotError, IotResult};

impl Registry {
    /// Deletes every CA, certificate, policy, thing, group, type, template, tag and IAM record.
    pub fn reset(&mut self) -> IotResult<()> {
        let mut store = self
            .store
            .lock()
            .map_err(|_| IotError::internal("registry store lock poisoned"))?;
        store.clear().map_err(|e| {
            tracing::error!(error = %e, "the registry was not reset");
            crate::stored_error(&e)
        })?;
        drop(store);
        let mut events = Vec::new();
        for (region, state) in &self.regions {
            let region = region.to_string();
            events.extend(state.certs.keys().map(|id| RegistryEvent::Certificate {
                region: region.clone(),
                cert_id: id.clone(),
            }));
            events.extend(
                state
                    .members
                    .iter()
                    .map(|(group, thing)| RegistryEvent::Membership {
                        region: region.clone(),
                        group: group.clone(),
                        group_arn: self.arn(&region).resource("thinggroup", group),
                        thing: thing.clone(),
                        joined: false,
                    }),
            );
            events.extend(state.things.keys().map(|name| RegistryEvent::Thing {
                region: region.clone(),
                name: name.clone(),
            }));
        }
        self.regions.clear();
        self.generation += 1;
        for hook in &self.hooks {
            hook(self.generation, &events);
        }
        Ok(())
    }
}
