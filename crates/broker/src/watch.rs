//! Which live connections a registry change concerns: each connection watches its
//! certificate, its policies and its things, and a change re-checks only the connections
//! watching what it names. An unrelated write touches no connection.

use crate::mailbox::Control;
use crate::sharded::Sharded;
use iotmock_registry::{Principal, RegistryEvent};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Something a connection's right to stay connected depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Interest {
    Cert(String, String),
    Policy(String, String),
    Thing(String, String),
    Group(String, String),
}

impl Interest {
    fn of(event: &RegistryEvent) -> Option<Self> {
        match event {
            RegistryEvent::Certificate { region, cert_id } => {
                Some(Interest::Cert(region.clone(), cert_id.clone()))
            }
            RegistryEvent::Policy { region, name } => {
                Some(Interest::Policy(region.clone(), name.clone()))
            }
            RegistryEvent::Thing { region, name } => {
                Some(Interest::Thing(region.clone(), name.clone()))
            }
            RegistryEvent::Group { region, name } => {
                Some(Interest::Group(region.clone(), name.clone()))
            }
            RegistryEvent::Ca { .. }
            | RegistryEvent::Membership { .. }
            | RegistryEvent::Announced { .. } => None,
        }
    }

    fn of_principal(p: &Principal) -> Vec<Self> {
        let region = || p.region.clone();
        let mut out = vec![Interest::Cert(region(), p.cert_id.clone())];
        out.extend(
            p.policies
                .iter()
                .map(|x| Interest::Policy(region(), x.name.clone())),
        );
        out.extend(
            p.things
                .iter()
                .map(|t| Interest::Thing(region(), t.name.clone())),
        );
        out.extend(
            p.things
                .iter()
                .flat_map(|t| &t.groups)
                .map(|g| Interest::Group(region(), g.clone())),
        );
        out
    }
}

/// The connections watching one thing, with their queues.
type Watching = HashMap<u64, Arc<Control>>;

/// Connections by what they depend on. A connection's interests are computed from its
/// principal when it starts or stops watching, so nothing is stored per connection but one
/// entry per interest.
#[derive(Default)]
pub(crate) struct Watchers {
    by_interest: Sharded<Interest, Watching>,
}

impl Watchers {
    /// Watches what `principal` depends on for connection `conn_id`.
    pub fn watch(&self, conn_id: u64, principal: &Principal, tx: &Arc<Control>) {
        for i in Interest::of_principal(principal) {
            let mut shard = self.by_interest.lock(&i);
            shard.entry(i).or_default().insert(conn_id, tx.clone());
        }
    }

    /// Stops watching what `principal` (as it was watched) depends on.
    pub fn unwatch(&self, conn_id: u64, principal: &Principal) {
        for i in Interest::of_principal(principal) {
            let mut shard = self.by_interest.lock(&i);
            if let Some(set) = shard.get_mut(&i) {
                set.remove(&conn_id);
                if set.is_empty() {
                    shard.remove(&i);
                }
            }
        }
    }

    /// Asks every connection a change concerns to re-check its principal (once each).
    pub fn notify(&self, events: &[RegistryEvent]) {
        let mut told = HashSet::new();
        for i in events.iter().filter_map(Interest::of) {
            let shard = self.by_interest.lock(&i);
            let Some(watching) = shard.get(&i) else {
                continue;
            };
            for (conn, tx) in watching {
                if told.insert(*conn) {
                    tx.recheck();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotmock_model::{CertStatus, CertificateMode};

    fn principal() -> Principal {
        let ca = iotmock_testkit::TestCa::new("watch");
        let pem = ca.leaf("d").cert_pem;
        let cert = iotmock_pki::parse_certificate_pem(&pem, "cert").expect("parses");
        let doc = r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
        Principal {
            region: "r".into(),
            account: "1".into(),
            cert_id: cert.id.clone(),
            cert_arn: String::new(),
            status: CertStatus::Active,
            ca_id: None,
            mode: CertificateMode::Default,
            cert,
            policies: vec![iotmock_policy::NamedPolicy {
                name: "pol".into(),
                version: "1".into(),
                document: iotmock_policy::PolicyDocument::parse(doc).expect("policy"),
            }],
            things: vec![],
            identity_policies: None,
            event_id: None,
        }
    }

    #[test]
    fn only_changes_naming_what_a_connection_depends_on_reach_it() {
        let w = Watchers::default();
        let control = Arc::new(Control::default());
        let p = principal();
        w.watch(7, &p, &control);
        let thing = RegistryEvent::Thing {
            region: "r".into(),
            name: "other".into(),
        };
        let elsewhere = RegistryEvent::Policy {
            region: "x".into(),
            name: "pol".into(),
        };
        w.notify(&[thing, elsewhere]);
        assert!(
            !control.take().recheck,
            "unrelated changes touch no connection"
        );
        w.notify(&[RegistryEvent::Policy {
            region: "r".into(),
            name: "pol".into(),
        }]);
        assert!(control.take().recheck);
        let cert = RegistryEvent::Certificate {
            region: "r".into(),
            cert_id: p.cert_id.clone(),
        };
        w.notify(std::slice::from_ref(&cert));
        assert!(control.take().recheck);
        w.unwatch(7, &p);
        w.notify(&[cert]);
        assert!(!control.take().recheck);
        assert_eq!(w.by_interest.fold(0, |n, _, _| n + 1), 0);
    }
}
