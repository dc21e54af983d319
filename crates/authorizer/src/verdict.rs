//! The function's answer, validated as AWS IoT validates it: `isAuthenticated`, a
//! `principalId` of 1 to 128 letters and digits, at most 10 policy documents of at most 2,048
//! characters each (objects, or JSON text), and refresh and disconnect windows of 300 to
//! 86,400 seconds. Anything else is an invalid response, and the connection is refused.

use iotmock_policy::{NamedPolicy, PolicyDocument};
use serde_json::{Value, json};

pub const MAX_POLICIES: usize = 10;
pub const MAX_POLICY_CHARS: usize = 2048;
pub const MIN_WINDOW_SECS: u64 = 300;
pub const MAX_WINDOW_SECS: u64 = 86_400;

/// An authenticated connection's rights, as the function granted them.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub principal_id: String,
    pub policies: Vec<NamedPolicy>,
    /// The documents as the function sent them (TestInvokeAuthorizer echoes them).
    pub texts: Vec<String>,
    pub refresh_secs: u64,
    pub disconnect_secs: u64,
}

/// What the function answered.
#[derive(Debug, Clone)]
pub enum Answer {
    Authenticated(Verdict),
    /// `isAuthenticated: false`.
    Refused,
}

fn window(answer: &Value, key: &str) -> Result<u64, String> {
    let v = answer
        .get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("{key} is missing or not a whole number"))?;
    if (MIN_WINDOW_SECS..=MAX_WINDOW_SECS).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "{key} is {v}; it must be between {MIN_WINDOW_SECS} and {MAX_WINDOW_SECS} seconds"
        ))
    }
}

fn principal_id(answer: &Value) -> Result<String, String> {
    let id = answer
        .get("principalId")
        .and_then(Value::as_str)
        .ok_or("principalId is missing or not a string")?;
    let ok = (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(id.to_string())
    } else {
        Err(format!(
            "principalId '{id}' must be 1 to 128 letters and digits"
        ))
    }
}

fn policies(answer: &Value) -> Result<(Vec<NamedPolicy>, Vec<String>), String> {
    let docs = answer
        .get("policyDocuments")
        .and_then(Value::as_array)
        .ok_or("policyDocuments is missing or not a list")?;
    if docs.len() > MAX_POLICIES {
        return Err(format!(
            "policyDocuments holds {} documents; at most {MAX_POLICIES} are allowed",
            docs.len()
        ));
    }
    let mut named = Vec::with_capacity(docs.len());
    let mut texts = Vec::with_capacity(docs.len());
    for (i, doc) in docs.iter().enumerate() {
        let text = match doc {
            Value::String(s) => s.clone(),
            Value::Object(_) => doc.to_string(),
            _ => return Err(format!("policyDocuments[{i}] is not a policy document")),
        };
        if text.chars().count() > MAX_POLICY_CHARS {
            return Err(format!(
                "policyDocuments[{i}] is longer than {MAX_POLICY_CHARS} characters"
            ));
        }
        let document = PolicyDocument::parse(&text)
            .map_err(|e| format!("policyDocuments[{i}] is not a valid policy: {e}"))?;
        named.push(NamedPolicy {
            name: format!("policyDocuments[{i}]"),
            version: "1".into(),
            document,
        });
        texts.push(text);
    }
    Ok((named, texts))
}

/// Validates the function's answer (its body).
pub fn read_answer(body: &[u8]) -> Result<Answer, String> {
    let answer: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the function's answer is not JSON: {e}"))?;
    if !answer.is_object() {
        return Err("the function's answer is not a JSON object".into());
    }
    match answer.get("isAuthenticated") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => return Ok(Answer::Refused),
        _ => return Err("isAuthenticated is missing or not a boolean".into()),
    }
    let principal_id = principal_id(&answer)?;
    let (policies, texts) = policies(&answer)?;
    Ok(Answer::Authenticated(Verdict {
        principal_id,
        policies,
        texts,
        refresh_secs: window(&answer, "refreshAfterInSeconds")?,
        disconnect_secs: window(&answer, "disconnectAfterInSeconds")?,
    }))
}

impl Verdict {
    /// TestInvokeAuthorizer's answer.
    pub fn to_test_response(&self) -> Value {
        json!({
            "isAuthenticated": true,
            "principalId": self.principal_id,
            "policyDocuments": self.texts,
            "refreshAfterInSeconds": self.refresh_secs,
            "disconnectAfterInSeconds": self.disconnect_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALLOW: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

    fn answer(extra: Value) -> Vec<u8> {
        let mut a = json!({
            "isAuthenticated": true, "principalId": "device1",
            "policyDocuments": [ALLOW],
            "refreshAfterInSeconds": 300, "disconnectAfterInSeconds": 3600,
        });
        if let (Some(a), Some(e)) = (a.as_object_mut(), extra.as_object()) {
            a.extend(e.clone());
        }
        a.to_string().into_bytes()
    }

    #[test]
    fn a_good_answer_grants_its_policies() {
        let Ok(Answer::Authenticated(v)) = read_answer(&answer(json!({}))) else {
            panic!("refused");
        };
        assert_eq!(
            (v.principal_id.as_str(), v.refresh_secs, v.policies.len()),
            ("device1", 300, 1)
        );
        let object =
            json!({"policyDocuments": [serde_json::from_str::<Value>(ALLOW).unwrap_or_default()]});
        assert!(matches!(
            read_answer(&answer(object)),
            Ok(Answer::Authenticated(_))
        ));
        assert!(matches!(
            read_answer(br#"{"isAuthenticated":false}"#),
            Ok(Answer::Refused)
        ));
    }

    #[test]
    fn out_of_range_answers_are_invalid() {
        for bad in [
            json!({"principalId": "has space"}),
            json!({"principalId": ""}),
            json!({"refreshAfterInSeconds": 299}),
            json!({"disconnectAfterInSeconds": 86_401}),
            json!({"policyDocuments": vec![ALLOW; 11]}),
            json!({"policyDocuments": [format!("{}{}", ALLOW, " ".repeat(2048))]}),
            json!({"policyDocuments": ["{not json"]}),
            json!({"isAuthenticated": "yes"}),
        ] {
            let why = bad.to_string();
            assert!(read_answer(&answer(bad)).is_err(), "{why}");
        }
        assert!(read_answer(b"[]").is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_are_judged_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = read_answer(&body);
        }

        #[test]
        fn windows_outside_the_range_are_refused(secs in 0u64..200_000) {
            let ok = (MIN_WINDOW_SECS..=MAX_WINDOW_SECS).contains(&secs);
            let got = read_answer(&answer(json!({"refreshAfterInSeconds": secs})));
            prop_assert_eq!(got.is_ok(), ok);
        }
    }
}
