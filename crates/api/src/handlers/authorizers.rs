//! Custom authorizers (restJson1): CreateAuthorizer, DescribeAuthorizer, UpdateAuthorizer,
//! DeleteAuthorizer (`/authorizer/{name}`), ListAuthorizers (`GET /authorizers/`),
//! SetDefaultAuthorizer and DescribeDefaultAuthorizer (`/default-authorizer`),
//! TestInvokeAuthorizer (`POST /authorizer/{name}/test`), and the default domain
//! configuration's `authorizerConfig` (`/domainConfigurations[/{name}]`).

use super::common::{tag_created, tags_from_body};
use super::rules::now_ms;
use super::{read, write};
use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::wire::Reply;
use iotmock_authorizer::{Authorizers, Fields, HttpData, MqttData, Presented, Refusal};
use iotmock_model::{ErrorCode, IotError, IotResult};
use serde_json::{Value, json};

/// The one domain configuration: AWS's default data endpoint.
pub const DOMAIN: &str = "iot:Data-ATS";

fn service(state: &ApiState) -> IotResult<&Authorizers> {
    state.authorizers.as_deref().ok_or_else(|| {
        IotError::new(
            ErrorCode::ServiceUnavailable,
            "Custom authorizers are not available for this account",
        )
    })
}

fn arn(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<String> {
    let account = read(state)?.account().to_string();
    Ok(format!(
        "arn:aws:iot:{}:{account}:authorizer/{name}",
        req.region
    ))
}

pub fn create(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let body = req.json()?;
    let tags = tags_from_body(&body)?;
    let fields = Fields::from_json(&Value::Object(body))?;
    let (arn, now) = (arn(state, req, name)?, now_ms(state)?);
    let made = service(state)?.change(|b| {
        b.create(&req.region, name, arn, fields, now)
            .map(|r| r.summary())
    })?;
    if let Some(arn) = made.get("authorizerArn").and_then(Value::as_str) {
        let mut registry = write(state)?;
        tag_created(&mut registry, &req.region, arn, &tags)?;
    }
    Ok(Reply::Json(made))
}

pub fn describe(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let d = service(state)?.read(|b| b.get(&req.region, name).map(|r| r.description()))?;
    Ok(Reply::Json(json!({ "authorizerDescription": d })))
}

pub fn update(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let fields = Fields::from_json(&Value::Object(req.json()?))?;
    let now = now_ms(state)?;
    let made = service(state)?.change(|b| {
        b.update(&req.region, name, fields, now)
            .map(|r| r.summary())
    })?;
    Ok(Reply::Json(made))
}

pub fn delete(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    service(state)?.change(|b| b.delete(&req.region, name))?;
    Ok(Reply::Json(json!({})))
}

pub fn list(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let status = req
        .qs("status")
        .map(iotmock_authorizer::Status::parse)
        .transpose()?;
    let items: Vec<(String, Value)> = service(state)?.read(|b| {
        b.list(&req.region)
            .filter(|a| status.is_none_or(|s| a.status == s))
            .map(|a| (a.name.clone(), a.summary()))
            .collect()
    });
    let page = req.page("marker", "pageSize")?;
    let page = iotmock_registry::paginate(items, &page, true, "pageSize")?;
    Ok(Reply::Json(crate::views::page(
        page,
        "authorizers",
        "nextMarker",
        |v| v,
    )))
}

pub fn set_default(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let name = body
        .get("authorizerName")
        .and_then(Value::as_str)
        .ok_or_else(|| IotError::invalid("authorizerName is required"))?;
    let made = service(state)?.change(|b| b.set_default(&req.region, name).map(|r| r.summary()))?;
    Ok(Reply::Json(made))
}

pub fn describe_default(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let d = service(state)?.read(|b| {
        let name = b
            .default_name(&req.region)
            .ok_or_else(|| IotError::not_found("No default authorizer is set"))?;
        b.get(&req.region, name).map(|r| r.description())
    })?;
    Ok(Reply::Json(json!({ "authorizerDescription": d })))
}

/// TestInvokeAuthorizer: the token and signature (and the contexts given) as a connection
/// would present them to `name`; the function's validated answer.
pub fn test_invoke(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let body = Value::Object(req.json()?);
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    let (token, signature) = (text("token"), text("tokenSignature"));
    if token
        .as_ref()
        .is_some_and(|t| t.is_empty() || t.len() > 6144)
    {
        return Err(IotError::invalid("token must be 1 to 6144 characters"));
    }
    let presented = test_presented(&body)?;
    let service = service(state)?;
    let invocation = service
        .read(|b| {
            let creds = (token, signature);
            iotmock_authorizer::prepare_test(b, &req.region, name, creds, &presented)
        })
        .map_err(refusal_error)?;
    let functions = service.functions().clone();
    let decided = tokio::runtime::Handle::current().block_on(invocation.run(&*functions));
    match decided {
        Ok(d) => Ok(Reply::Json(d.verdict.to_test_response())),
        Err(Refusal::NotAuthenticated { .. }) => Ok(Reply::Json(json!({
            "isAuthenticated": false, "policyDocuments": [],
        }))),
        Err(e) => Err(refusal_error(e)),
    }
}

/// The connection TestInvokeAuthorizer describes: its HTTP, MQTT and TLS contexts.
fn test_presented(body: &Value) -> IotResult<Presented> {
    use base64::Engine;
    let mut presented = Presented {
        connection_id: iotmock_registry::random_uuid(),
        ..Presented::default()
    };
    if let Some(http) = body.get("httpContext") {
        let headers = http
            .get("headers")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let query = http
            .get("queryString")
            .and_then(Value::as_str)
            .unwrap_or("");
        presented.http = Some(HttpData {
            headers,
            query: query.trim_start_matches('?').to_string(),
        });
    }
    if let Some(mqtt) = body.get("mqttContext") {
        let text = |k: &str| mqtt.get(k).and_then(Value::as_str).map(str::to_string);
        let password = match text("password") {
            Some(p) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(p.as_bytes())
                    .map_err(|_| IotError::invalid("mqttContext.password must be base64"))?,
            ),
            None => None,
        };
        presented.mqtt = Some(MqttData {
            username: text("username"),
            password,
            client_id: text("clientId"),
        });
    }
    presented.server_name = body
        .get("tlsContext")
        .and_then(|t| t.get("serverName"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(presented)
}

fn refusal_error(e: Refusal) -> IotError {
    match e {
        Refusal::NoAuthorizer(why) => IotError::not_found(why),
        Refusal::BadSignature { .. } => IotError::invalid(e.to_string()),
        Refusal::Failed { .. } | Refusal::NotAuthenticated { .. } => {
            IotError::new(ErrorCode::InvalidResponse, e.to_string())
        }
    }
}

fn domain_view(state: &ApiState, req: &ApiRequest) -> IotResult<Value> {
    let registry = read(state)?;
    let arn = format!(
        "arn:aws:iot:{}:{}:domainconfiguration/{DOMAIN}",
        req.region,
        registry.account()
    );
    let domain_name = registry.describe_endpoint(&req.region, Some(DOMAIN))?;
    drop(registry);
    let auth = service(state)?.read(|b| b.domain(&req.region));
    let mut config = json!({ "allowAuthorizerOverride": auth.allow_override });
    if let (Some(name), Some(map)) = (&auth.default_authorizer, config.as_object_mut()) {
        map.insert("defaultAuthorizerName".into(), json!(name));
    }
    Ok(json!({
        "domainConfigurationName": DOMAIN,
        "domainConfigurationArn": arn,
        "domainName": domain_name,
        "serverCertificates": [],
        "authorizerConfig": config,
        "domainConfigurationStatus": "ENABLED",
        "serviceType": "DATA",
        "domainType": "AWS_MANAGED",
    }))
}

fn check_domain(name: &str) -> IotResult<()> {
    if name == DOMAIN {
        Ok(())
    } else {
        Err(IotError::not_found(format!(
            "Domain configuration {name} does not exist (the mock has one: {DOMAIN})"
        )))
    }
}

/// DescribeDomainConfiguration (the default one only).
pub fn describe_domain(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    check_domain(name)?;
    Ok(Reply::Json(domain_view(state, req)?))
}

/// ListDomainConfigurations.
pub fn list_domains(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let d = domain_view(state, req)?;
    Ok(Reply::Json(json!({ "domainConfigurations": [{
        "domainConfigurationName": d["domainConfigurationName"],
        "domainConfigurationArn": d["domainConfigurationArn"],
        "serviceType": "DATA",
    }]})))
}

/// UpdateDomainConfiguration: its `authorizerConfig` (and `removeAuthorizerConfig`).
pub fn update_domain(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    check_domain(name)?;
    let body = req.json()?;
    let remove = body.get("removeAuthorizerConfig").and_then(Value::as_bool) == Some(true);
    let config = body.get("authorizerConfig");
    let default = match (remove, config.and_then(|c| c.get("defaultAuthorizerName"))) {
        (true, _) => Some(None),
        (false, Some(Value::String(n))) => Some(Some(n.clone())),
        (false, Some(_)) => {
            return Err(IotError::invalid("defaultAuthorizerName must be a string"));
        }
        (false, None) => None,
    };
    let allow = match remove {
        true => Some(true),
        false => config
            .and_then(|c| c.get("allowAuthorizerOverride"))
            .and_then(Value::as_bool),
    };
    service(state)?.change(|b| b.set_domain_auth(&req.region, default, allow))?;
    let d = domain_view(state, req)?;
    Ok(Reply::Json(json!({
        "domainConfigurationName": DOMAIN,
        "domainConfigurationArn": d["domainConfigurationArn"],
    })))
}
