//! End-to-end tests: the whole mock in-process on ephemeral loopback ports, driven over real
//! sockets exactly as the AWS CLI and SDKs drive it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod advisor;
mod advisor_lib;
mod api_authz;
mod api_certificates;
mod api_errors;
mod api_held;
mod api_keys;
mod api_policies;
mod api_tags;
mod api_things;
mod api_transfer;
mod crash;
mod doors;
mod durable;
mod hostile;
mod jobs;
mod load;
mod mqtt;
mod mqtt_admission;
mod mqtt_aws;
mod mqtt_core;
mod mqtt_pubsub;
mod provisioning;
mod reliability;
mod restart;
mod rules;
mod rules_actions;
mod services;
mod shadow;
mod soak;
mod soak_report;
mod soak_traffic;
mod support;
mod testing_helpers;
