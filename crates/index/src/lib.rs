//! Fleet indexing, the rules AWS IoT applies, with no I/O: the indexing configuration
//! ([`config`]), the documents ([`doc`]), the query syntax ([`query`]) and its evaluation
//! ([`eval`]), paging and aggregations ([`search`]), and the connectivity heard from the
//! broker's lifecycle events ([`service`]).

pub mod book;
pub mod config;
pub mod doc;
pub mod eval;
pub mod live;
pub mod query;
pub mod search;
pub mod service;
pub mod sources;
#[cfg(test)]
mod tests;

pub use config::Config;
pub use doc::{Connectivity, GroupDoc, Leaf, ShadowDoc, ThingDoc};
pub use service::IndexService;

/// The thing index's name.
pub const THINGS: &str = "AWS_Things";
/// The thing-group index's name.
pub const GROUPS: &str = "AWS_ThingGroups";
