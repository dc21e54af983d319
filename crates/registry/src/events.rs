//! Typed registry changes, emitted after every commit so the data plane can re-evaluate only
//! the connections a change concerns.

use crate::records::Op;

/// What a committed change touched.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegistryEvent {
    /// A certificate's record (status, registration, deletion), or what is attached to it
    /// (policies, things): connections presenting it re-check.
    Certificate { region: String, cert_id: String },
    /// A policy's versions or default version, or its deletion.
    Policy { region: String, name: String },
    /// A thing's attributes or type (its policy variables), or its deletion.
    Thing { region: String, name: String },
    /// A CA's record: no live connection changes (AWS keeps device certificates working).
    Ca { region: String, id: String },
    /// A policy attached to or detached from a thing group: connections of its members'
    /// certificates re-check.
    Group { region: String, name: String },
    /// A thing joined (`joined`) or left a thing group, however it happened: the API,
    /// RegisterThing, fleet provisioning or JITP. (The thing's own [`RegistryEvent::Thing`]
    /// event comes with it.)
    Membership {
        region: String,
        group: String,
        group_arn: String,
        thing: String,
        joined: bool,
    },
    /// A registry event AWS publishes on `topic` (`$aws/events/thing/...` and the rest) when
    /// the account enabled its type `kind` (`THING`, `THING_GROUP`, ...); `payload` is its JSON.
    Announced {
        region: String,
        kind: &'static str,
        topic: String,
        payload: String,
    },
}

/// The certificate id of a certificate ARN (`arn:aws:iot:<region>:<account>:cert/<id>`).
fn cert_id_of(arn: &str) -> Option<String> {
    arn.rsplit_once(":cert/").map(|(_, id)| id.to_string())
}

impl Op {
    /// The events this op makes in `account` (registration codes make none).
    pub fn events(&self, account: &str) -> Vec<RegistryEvent> {
        let mut out: Vec<RegistryEvent> = self.event().into_iter().collect();
        if let Op::AddMember(m) | Op::RemoveMember(m) = self {
            out.push(RegistryEvent::Membership {
                region: m.region.clone(),
                group: m.group.clone(),
                group_arn: iotmock_model::Arn::new(&m.region, account)
                    .resource("thinggroup", &m.group),
                thing: m.thing.clone(),
                joined: matches!(self, Op::AddMember(_)),
            });
        }
        out
    }

    /// The event this op makes for live connections, if any.
    fn event(&self) -> Option<RegistryEvent> {
        let cert = |region: &str, arn: &str| {
            cert_id_of(arn).map(|cert_id| RegistryEvent::Certificate {
                region: region.to_string(),
                cert_id,
            })
        };
        let region = |r: &str| r.to_string();
        match self {
            Op::PutCa(r) => Some(RegistryEvent::Ca {
                region: region(&r.region),
                id: r.id.clone(),
            }),
            Op::DelCa { region: r, id } => Some(RegistryEvent::Ca {
                region: region(r),
                id: id.clone(),
            }),
            Op::PutCert(r) => Some(RegistryEvent::Certificate {
                region: region(&r.region),
                cert_id: r.id.clone(),
            }),
            Op::DelCert { region: r, id } => Some(RegistryEvent::Certificate {
                region: region(r),
                cert_id: id.clone(),
            }),
            Op::PutPolicy(r) => Some(RegistryEvent::Policy {
                region: region(&r.region),
                name: r.name.clone(),
            }),
            Op::DelPolicy { region: r, name } => Some(RegistryEvent::Policy {
                region: region(r),
                name: name.clone(),
            }),
            Op::PutThing(r) => Some(RegistryEvent::Thing {
                region: region(&r.region),
                name: r.name.clone(),
            }),
            Op::DelThing { region: r, name } => Some(RegistryEvent::Thing {
                region: region(r),
                name: name.clone(),
            }),
            Op::Attach(a) | Op::Detach(a) => match a.target.split_once(":thinggroup/") {
                Some((_, group)) => Some(RegistryEvent::Group {
                    region: region(&a.region),
                    name: group.to_string(),
                }),
                None => cert(&a.region, &a.target),
            },
            Op::AttachThing(t) | Op::DetachThing(t) => cert(&t.region, &t.principal),
            Op::AddMember(m) | Op::RemoveMember(m) => Some(RegistryEvent::Thing {
                region: region(&m.region),
                name: m.thing.clone(),
            }),
            Op::PutCode(_)
            | Op::DelCode { .. }
            | Op::PutGroup(_)
            | Op::DelGroup { .. }
            | Op::PutType(_)
            | Op::DelType { .. }
            | Op::PutTemplate(_)
            | Op::DelTemplate { .. }
            | Op::PutTags(_)
            | Op::DelTags { .. }
            | Op::PutIam(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::PolicyAttachment;

    #[test]
    fn attachments_name_the_certificate() {
        let a = PolicyAttachment {
            region: "eu-west-1".into(),
            policy: "p".into(),
            target: "arn:aws:iot:eu-west-1:123456789012:cert/abc".into(),
        };
        let want = RegistryEvent::Certificate {
            region: "eu-west-1".into(),
            cert_id: "abc".into(),
        };
        assert_eq!(Op::Attach(a).events("1"), vec![want]);
        assert_eq!(Op::DelCode { region: "x".into() }.events("1"), vec![]);
    }

    #[test]
    fn a_membership_names_the_group_arn_and_the_thing() {
        let m = crate::records::GroupMember {
            region: "eu-west-1".into(),
            group: "g".into(),
            thing: "t".into(),
        };
        let events = Op::RemoveMember(m).events("123456789012");
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1],
            RegistryEvent::Membership {
                region: "eu-west-1".into(),
                group: "g".into(),
                group_arn: "arn:aws:iot:eu-west-1:123456789012:thinggroup/g".into(),
                thing: "t".into(),
                joined: false,
            }
        );
    }
}
