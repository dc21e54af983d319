//! The index kept up to date: a region's index is built from the registry and the shadow
//! service the first time it is asked for (and again after its configuration changes), then
//! each change is applied as it is heard: registry events, shadow `update/documents` and
//! `delete/accepted` messages, lifecycle events.

use crate::book::{Indexed, RegionIndex};
use crate::config::{Config, ThingMode};
use crate::service::{IndexService, lock};
use crate::sources::{Shadows, registered, shadow_from_documents, shadow_of, thing_doc};
use iotmock_registry::{Registry, RegistryEvent};
use iotmock_shadow::ShadowService;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

/// What documents are read from.
pub struct Sources {
    pub registry: Arc<RwLock<Registry>>,
    pub shadows: Arc<ShadowService>,
}

/// One region's live index.
#[derive(Default)]
pub struct RegionLive {
    pub index: RegionIndex,
    /// Every thing's shadows, registered or not (a thing created later brings them along).
    pub shadows: HashMap<String, Shadows>,
}

impl IndexService {
    /// Where documents are read from; until this is called every index is empty.
    pub fn attach_sources(&self, sources: Sources) {
        let _ = self.sources.set(sources);
    }

    /// Runs `f` over `region`'s index, built first if it must be.
    pub fn with_index<T>(&self, region: &str, f: impl FnOnce(&Config, &RegionIndex) -> T) -> T {
        let config = self.config(region);
        let mut live = lock(&self.live);
        if !live.contains_key(region) {
            let built = self.build(region, &config);
            live.insert(region.to_string(), built);
        }
        let empty = RegionIndex::default();
        let index = live.get(region).map_or(&empty, |r| &r.index);
        f(&config, index)
    }

    /// The documents `q` selects in `region`, as `f` sees them.
    pub fn search<T>(
        &self,
        region: &str,
        q: &crate::query::Query,
        f: impl FnOnce(&Config, Vec<&Indexed>) -> T,
    ) -> T {
        self.with_index(region, |config, index| f(config, index.select(q)))
    }

    fn build(&self, region: &str, config: &Config) -> RegionLive {
        let Some(sources) = self.sources.get() else {
            return RegionLive::default();
        };
        if config.thing_mode == ThingMode::Off {
            return RegionLive::default();
        }
        let mut shadows: HashMap<String, Shadows> = HashMap::new();
        for (key, doc, delta) in sources.shadows.live(Some(region)) {
            let slot = shadows.entry(key.thing).or_default();
            slot.set(key.name, Some(shadow_of(&doc, delta)));
        }
        let connectivity = self.connectivity(region);
        let registry = sources.registry.read().unwrap_or_else(|p| p.into_inner());
        let docs = registry
            .things_with_groups(region)
            .into_iter()
            .map(|(t, groups)| {
                thing_doc(t, groups, shadows.get(&t.name), connectivity.get(&t.name))
            });
        let index = RegionIndex::build(docs, config);
        RegionLive { index, shadows }
    }

    /// Drops `region`'s index (its configuration changed): the next query builds it again.
    pub(crate) fn forget(&self, region: &str) {
        lock(&self.live).remove(region);
    }

    /// Re-reads `thing` from the registry into `region`'s index, when that index is built.
    fn refresh(&self, region: &str, thing: &str) {
        let Some(sources) = self.sources.get() else {
            return;
        };
        let config = self.config(region);
        let mut live = lock(&self.live);
        let Some(r) = live.get_mut(region) else {
            return;
        };
        let found = {
            let registry = sources.registry.read().unwrap_or_else(|p| p.into_inner());
            registered(&registry, region, thing)
        };
        match found {
            Some((record, groups)) => {
                let conn = self.connectivity_of(region, thing);
                let doc = thing_doc(&record, groups, r.shadows.get(thing), conn.as_ref());
                r.index.put(doc, &config);
            }
            None => {
                r.index.remove(thing);
            }
        }
    }

    /// The registry changed: the things it touched are read again.
    pub(crate) fn registry_events(&self, events: &[RegistryEvent]) {
        for e in events {
            match e {
                RegistryEvent::Thing { region, name } => self.refresh(region, name),
                RegistryEvent::Membership { region, thing, .. } => self.refresh(region, thing),
                _ => {}
            }
        }
    }

    /// A shadow message: `thing`'s shadow `name` is now the message's `current` (or gone).
    pub(crate) fn shadow_changed(
        &self,
        region: &str,
        (thing, name, deleted): (&str, Option<&str>, bool),
        payload: &[u8],
    ) {
        let config = self.config(region);
        let mut live = lock(&self.live);
        let Some(r) = live.get_mut(region) else {
            return;
        };
        let doc = if deleted {
            None
        } else {
            match shadow_from_documents(payload) {
                Some(doc) => Some(doc),
                None => return,
            }
        };
        let slot = r.shadows.entry(thing.to_string()).or_default();
        slot.set(name.map(str::to_string), doc);
        let shadows = slot.clone();
        if shadows.is_empty() {
            r.shadows.remove(thing);
        }
        if let Some(mut current) = r.index.get(thing).cloned() {
            current.shadow = shadows.classic;
            current.named = shadows.named;
            r.index.put(current, &config);
        }
    }

    /// A lifecycle event changed `thing`'s connectivity.
    pub(crate) fn connectivity_changed(&self, region: &str, thing: &str) {
        let config = self.config(region);
        let conn = self.connectivity_of(region, thing);
        let mut live = lock(&self.live);
        let Some(r) = live.get_mut(region) else {
            return;
        };
        if let Some(mut current) = r.index.get(thing).cloned() {
            current.connectivity = conn;
            r.index.put(current, &config);
        }
    }
}

/// The regions' live indexes.
pub type Regions = BTreeMap<String, RegionLive>;
