//! Where a connection's custom-auth credentials are on each door, and the event AWS IoT sends
//! the authorizer's function. MQTT (ALPN `mqtt`): the CONNECT username's query string
//! (`name?x-amz-customauthorizer-name=A&x-amz-customauthorizer-signature=S&TOKENKEY=T`), the
//! password passed on base64-encoded. WebSocket and HTTPS: the same three as request headers
//! or query parameters.

use base64::Engine;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The header or parameter naming the authorizer.
pub const NAME_KEY: &str = "x-amz-customauthorizer-name";
/// The header or parameter carrying the token's signature.
pub const SIGNATURE_KEY: &str = "x-amz-customauthorizer-signature";

/// The HTTP part of a connection (WebSocket upgrade or HTTPS publish).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpData {
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The query string as sent, without the `?`.
    pub query: String,
}

/// The MQTT part of a connection: its CONNECT's credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MqttData {
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    pub client_id: Option<String>,
}

/// Everything a connection presented to be authorized.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presented {
    /// TLS SNI.
    pub server_name: Option<String>,
    pub http: Option<HttpData>,
    pub mqtt: Option<MqttData>,
    /// `connectionMetadata.id`.
    pub connection_id: String,
}

/// `a=b&c=d` split and percent-decoded (a `+` stays a `+`: base64 signatures carry them).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

impl Presented {
    /// The value of `key` (case-insensitive) among the credentials this connection carries:
    /// HTTP headers, then the HTTP query, then the MQTT username's query string.
    pub fn value(&self, key: &str) -> Option<String> {
        let key = key.to_ascii_lowercase();
        if let Some(http) = &self.http {
            if let Some(v) = http.headers.get(&key) {
                return Some(v.clone());
            }
            if let Some((_, v)) = query_pairs(&http.query)
                .into_iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&key))
            {
                return Some(v);
            }
        }
        let username = self.mqtt.as_ref()?.username.as_deref()?;
        let (_, query) = username.split_once('?')?;
        query_pairs(query)
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&key))
            .map(|(_, v)| v)
    }

    /// The authorizer the connection names, if any.
    pub fn authorizer_name(&self) -> Option<String> {
        self.value(NAME_KEY).filter(|n| !n.is_empty())
    }

    /// Whether the connection carries anything custom auth reads (a named authorizer, a
    /// signature, or MQTT credentials).
    pub fn has_credentials(&self) -> bool {
        self.authorizer_name().is_some()
            || self.value(SIGNATURE_KEY).is_some()
            || self
                .mqtt
                .as_ref()
                .is_some_and(|m| m.username.is_some() || m.password.is_some())
    }

    /// The protocols the connection speaks, as the event lists them.
    pub fn protocols(&self) -> Vec<&'static str> {
        let mut out = vec!["tls"];
        if self.http.is_some() {
            out.push("http");
        }
        if self.mqtt.is_some() {
            out.push("mqtt");
        }
        out
    }

    /// The event AWS IoT sends the function (fields that do not apply left out).
    pub fn event(&self, token: Option<&str>, signature_verified: bool) -> Value {
        let mut data = Map::new();
        if let Some(name) = &self.server_name {
            data.insert("tls".into(), json!({ "serverName": name }));
        }
        if let Some(http) = &self.http {
            let query = if http.query.is_empty() {
                String::new()
            } else {
                format!("?{}", http.query)
            };
            data.insert(
                "http".into(),
                json!({ "headers": http.headers, "queryString": query }),
            );
        }
        if let Some(mqtt) = &self.mqtt {
            let mut m = Map::new();
            if let Some(u) = &mqtt.username {
                m.insert("username".into(), json!(u));
            }
            if let Some(p) = &mqtt.password {
                let encoded = base64::engine::general_purpose::STANDARD.encode(p);
                m.insert("password".into(), json!(encoded));
            }
            if let Some(c) = &mqtt.client_id {
                m.insert("clientId".into(), json!(c));
            }
            data.insert("mqtt".into(), Value::Object(m));
        }
        let mut event = Map::new();
        if let Some(t) = token {
            event.insert("token".into(), json!(t));
        }
        event.insert("signatureVerified".into(), json!(signature_verified));
        event.insert("protocols".into(), json!(self.protocols()));
        event.insert("protocolData".into(), Value::Object(data));
        event.insert(
            "connectionMetadata".into(),
            json!({ "id": self.connection_id }),
        );
        Value::Object(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mqtt(username: &str) -> Presented {
        Presented {
            mqtt: Some(MqttData {
                username: Some(username.into()),
                password: Some(b"secret".to_vec()),
                client_id: Some("dev-1".into()),
            }),
            ..Presented::default()
        }
    }

    #[test]
    fn the_username_query_string_names_authorizer_signature_and_token() {
        let p = mqtt(
            "alice?x-amz-customauthorizer-name=Auth&x-amz-customauthorizer-signature=ab%2Bc%3D&tok=T1",
        );
        assert_eq!(p.authorizer_name().as_deref(), Some("Auth"));
        assert_eq!(p.value(SIGNATURE_KEY).as_deref(), Some("ab+c="));
        assert_eq!(p.value("tok").as_deref(), Some("T1"));
        let event = p.event(Some("T1"), true);
        assert_eq!(event["protocolData"]["mqtt"]["password"], "c2VjcmV0");
        assert_eq!(event["protocols"], json!(["tls", "mqtt"]));
        assert_eq!(event["protocolData"]["mqtt"]["clientId"], "dev-1");
    }

    #[test]
    fn headers_come_before_the_query() {
        let mut headers = BTreeMap::new();
        headers.insert(NAME_KEY.to_string(), "FromHeader".to_string());
        let p = Presented {
            http: Some(HttpData {
                headers,
                query: "x-amz-customauthorizer-name=FromQuery&t=1".into(),
            }),
            ..Presented::default()
        };
        assert_eq!(p.authorizer_name().as_deref(), Some("FromHeader"));
        assert_eq!(p.value("T").as_deref(), Some("1"));
        assert_eq!(
            p.event(None, false)["protocolData"]["http"]["queryString"],
            "?x-amz-customauthorizer-name=FromQuery&t=1"
        );
    }

    proptest! {
        #[test]
        fn any_username_is_read_without_panicking(u in ".{0,200}") {
            let p = mqtt(&u);
            let _ = p.authorizer_name();
            let _ = p.event(p.value("token").as_deref(), false);
        }

        #[test]
        fn encoded_values_come_back_as_sent(v in "[ -~]{0,64}") {
            let enc: String = percent_encoding::utf8_percent_encode(&v, percent_encoding::NON_ALPHANUMERIC).to_string();
            let p = mqtt(&format!("u?k={enc}"));
            prop_assert_eq!(p.value("k"), Some(v));
        }
    }
}
