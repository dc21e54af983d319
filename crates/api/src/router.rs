//! The one routing table: method and decoded path segments to an operation handler.

use crate::handlers::{
    authorizers, authz, cas, certs, data, defender, destinations, events, groups, iam, indexing,
    jobs, jobs_data, policies, reset, rules, shadow, tags, templates, things, transfer, types,
};
use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::wire::Reply;
use iotmock_model::{IotError, IotResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Other,
}

impl Method {
    pub fn parse(m: &str) -> Self {
        match m {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => Method::Other,
        }
    }
}

/// Runs the operation `req` names, or refuses a route no operation has.
pub fn dispatch(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    use Method::*;
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    match (req.method, segs.as_slice()) {
        (Get, ["iotmock", "AmazonRootCA1.pem"]) => Ok(Reply::Pem(state.root_ca_pem.to_string())),
        // The API serves only once every listener is bound, so an answer means ready.
        (Get, ["iotmock", "health"]) => Ok(Reply::Json(serde_json::json!({ "status": "ready" }))),
        (Get, ["registrationcode"]) => cas::get_registration_code(state, req),
        (Delete, ["registrationcode"]) => cas::delete_registration_code(state, req),
        (Post, ["cacertificate"]) => cas::register_ca(state, req),
        (Get, ["cacertificates"]) => cas::list_cas(state, req),
        (Get, ["cacertificate", id]) => cas::describe_ca(state, req, id),
        (Put, ["cacertificate", id]) => cas::update_ca(state, req, id),
        (Delete, ["cacertificate", id]) => cas::delete_ca(state, req, id),
        (Post, ["certificate", "register"]) => certs::register(state, req),
        (Post, ["certificate", "register-no-ca"]) => certs::register_without_ca(state, req),
        (Post, ["keys-and-certificate"]) => certs::create_keys(state, req),
        (Post, ["certificates"]) => certs::create_from_csr(state, req),
        (Get, ["certificates"]) => certs::list(state, req, None),
        (Get, ["certificates-by-ca", ca]) => certs::list(state, req, Some(ca)),
        (Get, ["certificates", id]) => certs::describe(state, req, id),
        (Put, ["certificates", id]) => certs::update(state, req, id),
        (Delete, ["certificates", id]) => certs::delete(state, req, id),
        (Get, ["policies"]) => policies::list(state, req),
        (Post, ["policies", name]) => policies::create(state, req, name),
        (Get, ["policies", name]) => policies::get(state, req, name),
        (Delete, ["policies", name]) => policies::delete(state, req, name),
        (Post, ["policies", name, "version"]) => policies::create_version(state, req, name),
        (Get, ["policies", name, "version"]) => policies::list_versions(state, req, name),
        (Get, ["policies", name, "version", v]) => policies::get_version(state, req, name, v),
        (Patch, ["transfer-certificate", id]) => transfer::transfer(state, req, id),
        (Patch, ["accept-certificate-transfer", id]) => transfer::accept(state, req, id),
        (Patch, ["reject-certificate-transfer", id]) => transfer::reject(state, req, id),
        (Patch, ["cancel-certificate-transfer", id]) => transfer::cancel(state, req, id),
        (Patch, ["policies", name, "version", v]) => policies::set_default(state, req, name, v),
        (Delete, ["policies", name, "version", v]) => policies::delete_version(state, req, name, v),
        (Put, ["target-policies", name]) => policies::attach(state, req, name),
        (Post, ["target-policies", name]) => policies::detach(state, req, name),
        (Put, ["principal-policies", name]) => policies::attach_principal(state, req, name),
        (Delete, ["principal-policies", name]) => policies::detach_principal(state, req, name),
        (Get, ["principal-policies"]) => policies::list_principal_policies(state, req),
        (Post, ["attached-policies", target]) => policies::list_attached(state, req, target),
        (Post, ["policy-targets", name]) => policies::list_targets(state, req, name),
        (Get, ["policy-principals"]) => policies::list_policy_principals(state, req),
        (Post, ["test-authorization"]) => authz::test_authorization(state, req),
        (Post, ["tags"]) => tags::tag(state, req),
        (Post, ["untag"]) => tags::untag(state, req),
        (Get, ["tags"]) => tags::list(state, req),
        (Post, ["effective-policies"]) => authz::effective_policies(state, req),
        (Get, ["things"]) => things::list(state, req),
        (Post, ["things"]) => templates::register_thing(state, req),
        (Post, ["provisioning-templates"]) => templates::create(state, req),
        (Get, ["provisioning-templates"]) => templates::list(state, req),
        (Get, ["provisioning-templates", name]) => templates::describe(state, req, name),
        (Patch, ["provisioning-templates", name]) => templates::update(state, req, name),
        (Delete, ["provisioning-templates", name]) => templates::delete(state, req, name),
        (Post, ["provisioning-templates", name, "provisioning-claim"]) => {
            templates::create_claim(state, req, name)
        }
        (Post, ["provisioning-templates", name, "versions"]) => {
            templates::create_version(state, req, name)
        }
        (Get, ["provisioning-templates", name, "versions"]) => {
            templates::list_versions(state, req, name)
        }
        (Get, ["provisioning-templates", name, "versions", v]) => {
            templates::describe_version(state, req, name, v)
        }
        (Delete, ["provisioning-templates", name, "versions", v]) => {
            templates::delete_version(state, req, name, v)
        }
        (Post, ["things", name]) => things::create(state, req, name),
        (Get, ["things", name]) => things::describe(state, req, name),
        (Patch, ["things", name]) => things::update(state, req, name),
        (Delete, ["things", name]) => things::delete(state, req, name),
        (Put, ["things", name, "principals"]) => things::attach_principal(state, req, name),
        (Delete, ["things", name, "principals"]) => things::detach_principal(state, req, name),
        (Get, ["things", name, "principals"]) => things::list_principals(state, req, name),
        (Get, ["principals", "things"]) => things::list_principal_things(state, req),
        (Get, ["things", name, "principals-v2"]) => things::list_principals_v2(state, req, name),
        (Get, ["principals", "things-v2"]) => things::list_principal_things_v2(state, req),
        (Get, ["endpoint"]) => things::describe_endpoint(state, req),
        (Post, ["topics", topic]) => data::publish(state, req, topic),
        (Delete, ["connections", client]) => data::delete_connection(state, req, client),
        (Put, ["thing-groups", "addThingToThingGroup"]) => groups::membership(state, req, true),
        (Put, ["thing-groups", "removeThingFromThingGroup"]) => {
            groups::membership(state, req, false)
        }
        (Post, ["thing-types", name]) => types::create(state, req, name),
        (Get, ["thing-types"]) => types::list(state, req),
        (Get, ["thing-types", name]) => types::describe(state, req, name),
        (Post, ["thing-types", name, "deprecate"]) => types::deprecate(state, req, name),
        (Delete, ["thing-types", name]) => types::delete(state, req, name),
        (Post, ["thing-groups", name]) => groups::create(state, req, name),
        (Get, ["thing-groups"]) => groups::list(state, req),
        (Get, ["thing-groups", name]) => groups::describe(state, req, name),
        (Delete, ["thing-groups", name]) => groups::delete(state, req, name),
        (Get, ["thing-groups", name, "things"]) => groups::things_in(state, req, name),
        (Get, ["things", thing, "thing-groups"]) => groups::of_thing(state, req, thing),
        (Put, ["jobs", id]) => jobs::create_job(state, req, id),
        (Get, ["jobs"]) => jobs::list_jobs(state, req),
        (Get, ["jobs", id]) => jobs::describe_job(state, req, id),
        (Delete, ["jobs", id]) => jobs::delete_job(state, req, id),
        (Patch, ["jobs", id]) => jobs::update_job(state, req, id),
        (Delete, ["things", thing, "jobs", id, "executionNumber", n]) => {
            jobs::delete_execution(state, req, thing, id, n)
        }
        (Put, ["jobs", id, "cancel"]) => jobs::cancel_job(state, req, id),
        (Get, ["jobs", id, "job-document"]) => jobs::job_document(state, req, id),
        (Get, ["jobs", id, "things"]) => jobs::executions_for_job(state, req, id),
        // Two AWS services share these paths: GET /things/{thing}/jobs[/{id}] is
        // GetPendingJobExecutions / DescribeJobExecution on iot-jobs-data and
        // ListJobExecutionsForThing / DescribeJobExecution on iot. Only the SigV4 credential
        // scope's service tells them apart, so the data plane's arms come first and ask for it;
        // unsigned or iot-signed requests fall through to the control plane's arms below.
        (Get, ["things", thing, "jobs"]) if jobs_data::is_jobs_data(req) => {
            jobs_data::pending(state, req, thing)
        }
        (Put, ["things", thing, "jobs", "$next"]) => jobs_data::start_next(state, req, thing),
        (Get, ["things", thing, "jobs", id]) if jobs_data::is_jobs_data(req) => {
            jobs_data::describe(state, req, thing, id)
        }
        (Post, ["things", thing, "jobs", id]) => jobs_data::update(state, req, thing, id),
        (Get, ["things", thing, "jobs"]) => jobs::executions_for_thing(state, req, thing),
        (Get, ["things", thing, "jobs", id]) => jobs::describe_execution(state, req, thing, id),
        (Put, ["things", thing, "jobs", id, "cancel"]) => {
            jobs::cancel_execution(state, req, thing, id)
        }
        (Get, ["things", thing, "shadow"]) => shadow::get(state, req, thing),
        (Post, ["things", thing, "shadow"]) => shadow::update(state, req, thing),
        (Delete, ["things", thing, "shadow"]) => shadow::delete(state, req, thing),
        (Get, ["api", "things", "shadow", "ListNamedShadowsForThing", thing]) => {
            shadow::list_named(state, req, thing)
        }
        (Post, ["rules", name]) => rules::create(state, req, name),
        (Get, ["rules"]) => rules::list(state, req),
        (Get, ["rules", name]) => rules::get(state, req, name),
        (Patch, ["rules", name]) => rules::replace(state, req, name),
        (Delete, ["rules", name]) => rules::delete(state, req, name),
        (Post, ["rules", name, "enable"]) => rules::set_disabled(state, req, name, false),
        (Post, ["rules", name, "disable"]) => rules::set_disabled(state, req, name, true),
        (Get, ["iotmock", "iam", "access-keys", key]) => iam::get(state, key),
        (Put, ["iotmock", "iam", "access-keys", key, "policies", name]) => {
            iam::put_policy(state, req, key, name)
        }
        (Delete, ["iotmock", "iam", "access-keys", key, "policies", name]) => {
            iam::delete_policy(state, key, name)
        }
        (Put, ["iotmock", "iam", "access-keys", key, "identity"]) => {
            iam::put_identity(state, req, key)
        }
        (Delete, ["iotmock", "iam", "access-keys", key, "identity"]) => {
            iam::delete_identity(state, key)
        }
        (Post, ["destinations"]) => destinations::create(state, req),
        (Get, ["destinations"]) => destinations::list(state, req),
        (Patch, ["destinations"]) => destinations::update(state, req),
        (Get, ["destinations", arn @ ..]) => destinations::get(state, req, &arn.join("/")),
        (Delete, ["destinations", arn @ ..]) => destinations::delete(state, req, &arn.join("/")),
        (Get, ["confirmdestination", token @ ..]) => {
            destinations::confirm(state, req, &token.join("/"))
        }
        (Get, ["metric-values"]) => defender::list_metric_values(state, req),
        (Patch, ["event-configurations"]) => events::update(state, req),
        (Get, ["event-configurations"]) => events::describe(state, req),
        (Post, ["indexing", "config"]) => indexing::update_config(state, req),
        (Get, ["indexing", "config"]) => indexing::get_config(state, req),
        (Get, ["indices"]) => indexing::list(state, req),
        (Get, ["indices", name]) => indexing::describe(state, req, name),
        (Post, ["indices", "search"]) => indexing::search_index(state, req),
        (Post, ["indices", "statistics"]) => indexing::statistics(state, req),
        (Post, ["indices", "cardinality"]) => indexing::cardinality(state, req),
        (Post, ["indices", "percentiles"]) => indexing::percentiles(state, req),
        (Post, ["indices", "buckets"]) => indexing::buckets(state, req),
        (Post, ["authorizer", name]) => authorizers::create(state, req, name),
        (Get, ["authorizer", name]) => authorizers::describe(state, req, name),
        (Put, ["authorizer", name]) => authorizers::update(state, req, name),
        (Delete, ["authorizer", name]) => authorizers::delete(state, req, name),
        (Post, ["authorizer", name, "test"]) => authorizers::test_invoke(state, req, name),
        (Get, ["authorizers"]) => authorizers::list(state, req),
        (Post, ["default-authorizer"]) => authorizers::set_default(state, req),
        (Get, ["default-authorizer"]) => authorizers::describe_default(state, req),
        (Get, ["domainConfigurations"]) => authorizers::list_domains(state, req),
        (Get, ["domainConfigurations", name]) => authorizers::describe_domain(state, req, name),
        (Put, ["domainConfigurations", name]) => authorizers::update_domain(state, req, name),
        (Post, ["iotmock", "reset"]) => reset::reset(state),
        (Get, ["iotmock", "actions"]) => rules::actions(state, req),
        (Delete, ["iotmock", "actions"]) => rules::clear_actions(state, req),
        (Post, ["iotmock", "rules", "evaluate"]) => rules::evaluate(state, req),
        (Get, ["retainedMessage"]) => data::list_retained(state, req),
        (Get, ["retainedMessage", topic]) => data::get_retained(state, req, topic),
        _ => Err(unknown_route(req)),
    }
}

fn unknown_route(req: &ApiRequest) -> IotError {
    let method = format!("{:?}", req.method).to_uppercase();
    IotError::new(
        iotmock_model::ErrorCode::UnknownOperation,
        format!(
            "No AWS IoT operation is served at {method} {} (Not Found: unknown operation)",
            req.path
        ),
    )
}
