//! The rules engine, with no I/O: AWS IoT SQL ([`sql`]), topic rules and their actions
//! ([`rule`], [`actions`]), the account's rules ([`book`]), what each message makes each rule
//! do ([`engine`]), and the service on the broker's seam that runs them ([`service`]). The
//! adapter gives it a [`service::Runner`] for actions that leave the mock.

pub mod actions;
pub mod book;
pub mod destination;
mod destinations;
pub mod engine;
pub mod later;
pub mod log;
pub mod republish;
pub mod rule;
pub mod service;
pub mod sql;

pub use book::{BookError, RuleBook};
pub use rule::{CompiledRule, RuleError, RuleRecord};
pub use service::{Outside, Post, RulesService, Runner};
