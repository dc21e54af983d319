//! Registry records as AWS's JSON shapes, member names exactly as on the wire.

use iotmock_model::{Arn, EpochMillis};
use iotmock_registry::{CaRecord, CertRecord, Page, PolicyRecord, ThingRecord};
use serde_json::{Map, Value, json};

/// Epoch seconds with a millisecond fraction, as AWS sends timestamps.
pub fn ts(ms: EpochMillis) -> Value {
    json!(ms as f64 / 1000.0)
}

fn validity(not_before: i64, not_after: i64) -> Value {
    json!({ "notBefore": not_before as f64, "notAfter": not_after as f64 })
}

pub fn ca_description(c: &CaRecord, account: &str) -> Value {
    json!({
        "certificateArn": Arn::new(&c.region, account).cacert(&c.id),
        "certificateId": c.id,
        "status": c.status.as_str(),
        "certificatePem": c.pem,
        "ownedBy": account,
        "creationDate": ts(c.created),
        "autoRegistrationStatus": c.auto_registration.as_str(),
        "lastModifiedDate": ts(c.modified),
        "customerVersion": c.customer_version,
        "generationId": c.generation_id,
        "validity": validity(c.not_before, c.not_after),
        "certificateMode": c.mode.as_str(),
    })
}

pub fn ca_summary(c: &CaRecord, account: &str) -> Value {
    json!({
        "certificateArn": Arn::new(&c.region, account).cacert(&c.id),
        "certificateId": c.id,
        "status": c.status.as_str(),
        "creationDate": ts(c.created),
    })
}

pub fn cert_description(c: &CertRecord, account: &str) -> Value {
    let mut v = json!({
        "certificateArn": Arn::new(&c.region, account).cert(&c.id),
        "certificateId": c.id,
        "status": c.status.as_str(),
        "certificatePem": c.pem,
        "ownedBy": account,
        "creationDate": ts(c.created),
        "lastModifiedDate": ts(c.modified),
        "customerVersion": c.customer_version,
        "transferData": transfer_data(c),
        "generationId": c.generation_id,
        "validity": validity(c.not_before, c.not_after),
        "certificateMode": c.mode.as_str(),
    });
    if let Some(ca) = &c.ca_id {
        v["caCertificateId"] = json!(ca);
    }
    if let Some(previous) = &c.previous_owner {
        v["previousOwnedBy"] = json!(previous);
    }
    v
}

/// `transferData`: `{}` for a certificate never offered to another account.
fn transfer_data(c: &CertRecord) -> Value {
    let mut out = Map::new();
    let Some(t) = &c.transfer else {
        return Value::Object(out);
    };
    let texts = [
        ("transferMessage", &t.message),
        ("rejectReason", &t.reject_reason),
    ];
    for (name, text) in texts {
        if let Some(text) = text {
            out.insert(name.into(), json!(text));
        }
    }
    let dates = [
        ("transferDate", t.transfer_date),
        ("acceptDate", t.accept_date),
        ("rejectDate", t.reject_date),
    ];
    for (name, date) in dates {
        if let Some(ms) = date {
            out.insert(name.into(), ts(ms));
        }
    }
    Value::Object(out)
}

pub fn cert_summary(c: &CertRecord, account: &str) -> Value {
    json!({
        "certificateArn": Arn::new(&c.region, account).cert(&c.id),
        "certificateId": c.id,
        "status": c.status.as_str(),
        "certificateMode": c.mode.as_str(),
        "creationDate": ts(c.created),
    })
}

pub fn policy(p: &PolicyRecord, account: &str) -> Value {
    json!({
        "policyName": p.name,
        "policyArn": Arn::new(&p.region, account).policy(&p.name),
        "policyDocument": p.default_document(),
        "defaultVersionId": p.default_version.to_string(),
        "creationDate": ts(p.created),
        "lastModifiedDate": ts(p.modified),
        "generationId": p.generation_id,
    })
}

pub fn policy_summary(name: &str, arn: &str) -> Value {
    json!({ "policyName": name, "policyArn": arn })
}

fn thing_common(t: &ThingRecord, account: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("thingName".into(), json!(t.name));
    m.insert(
        "thingArn".into(),
        json!(Arn::new(&t.region, account).thing(&t.name)),
    );
    m.insert("attributes".into(), json!(t.attributes));
    m.insert("version".into(), json!(t.version));
    if let Some(ty) = &t.type_name {
        m.insert("thingTypeName".into(), json!(ty));
    }
    m
}

pub fn thing_description(t: &ThingRecord, account: &str) -> Value {
    let mut m = thing_common(t, account);
    m.insert("defaultClientId".into(), json!(t.name));
    m.insert("thingId".into(), json!(t.id));
    if let Some(b) = &t.billing_group {
        m.insert("billingGroupName".into(), json!(b));
    }
    Value::Object(m)
}

pub fn thing_summary(t: &ThingRecord, account: &str) -> Value {
    Value::Object(thing_common(t, account))
}

/// `{member: [...], marker_name: next?}` for a page of already-rendered items.
pub fn page<T>(
    page: Page<T>,
    member: &str,
    marker_name: &str,
    render: impl Fn(T) -> Value,
) -> Value {
    let mut m = Map::new();
    m.insert(
        member.into(),
        Value::Array(page.items.into_iter().map(render).collect()),
    );
    if let Some(next) = page.next {
        m.insert(marker_name.into(), json!(next));
    }
    Value::Object(m)
}
