//! Custom authorizers, with no I/O: the account's authorizers and default ([`book`]), one
//! authorizer's rules ([`record`]), where a connection's credentials are and the event the
//! function receives ([`presented`]), the validation of its answer ([`verdict`]), and the
//! decision for one connection ([`decide`]), which runs the function through the adapter's
//! [`Functions`].

pub mod book;
pub mod decide;
pub mod presented;
pub mod record;
pub mod service;
pub mod verdict;

pub use book::{AuthorizerBook, DomainAuth, EventPrincipal};
pub use decide::{
    Decision, Functions, Invocation, Invoked, Refusal, credentials, prepare, prepare_test,
};
pub use presented::{HttpData, MqttData, Presented};
pub use record::{AuthorizerRecord, Fields, Status};
pub use service::Authorizers;
pub use verdict::{Answer, Verdict, read_answer};
