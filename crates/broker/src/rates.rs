//! AWS's rate quotas as the hub counts them: CONNECTs per second per client id and per
//! account, and the account's inbound and outbound publishes per second (under the
//! throttles; `BrokerSettings::throttle`, `account_publishes_per_second`).

use crate::hub::{Hub, Outbound, SHARD_LIMIT, lock};
use crate::mailbox::Mailbox;
use crate::sharded::Sharded;
use std::sync::Mutex;

/// AWS's CONNECT requests per second per account (under the throttles).
pub const ACCOUNT_CONNECTS_PER_SECOND: u32 = 500;
/// AWS's inbound (and, each, outbound) publish requests per second per account (under the
/// throttles): the default of `BrokerSettings::account_publishes_per_second`.
pub const ACCOUNT_PUBLISHES_PER_SECOND: u32 = 20_000;

/// What the hub counts for the quotas.
pub(crate) struct Rates {
    /// The account's inbound and (each) outbound publishes per second, when throttled.
    account_rate: Option<u32>,
    /// Per client id: when it last sent CONNECT.
    last_connect: Sharded<String, i64>,
    /// CONNECTs in the account's current second: (the second, how many).
    account_connects: Mutex<(i64, u32)>,
    /// Inbound PUBLISHes in the account's current second.
    account_publishes: Mutex<(i64, u32)>,
    /// Deliveries in the account's current second.
    account_deliveries: Mutex<(i64, u32)>,
}

impl Rates {
    pub(crate) fn new(account_rate: Option<u32>) -> Self {
        Self {
            account_rate,
            last_connect: Sharded::default(),
            account_connects: Mutex::new((0, 0)),
            account_publishes: Mutex::new((0, 0)),
            account_deliveries: Mutex::new((0, 0)),
        }
    }
}

/// Counts one request in the current second's `window`; false past `limit` in that second.
fn counted(window: &Mutex<(i64, u32)>, now_ms: i64, limit: u32) -> bool {
    count(window, now_ms) <= limit
}

/// Counts one in `window`'s second (starting a new second when `now_ms` is past it): how many
/// the second holds now.
fn count(window: &Mutex<(i64, u32)>, now_ms: i64) -> u32 {
    let second = now_ms.div_euclid(1000);
    let mut window = lock(window);
    if window.0 != second {
        *window = (second, 0);
    }
    window.1 = window.1.saturating_add(1);
    window.1
}

/// Takes back one count of `now_ms`'s second (a counted item that was not sent after all).
fn uncount(window: &Mutex<(i64, u32)>, now_ms: i64) {
    let mut window = lock(window);
    if window.0 == now_ms.div_euclid(1000) {
        window.1 = window.1.saturating_sub(1);
    }
}

impl Hub {
    /// Counts an inbound PUBLISH in the account; false past the account's publishes per
    /// second (under the throttles).
    pub fn account_publish_allowed(&self) -> bool {
        let rates = &self.rates;
        rates
            .account_rate
            .is_none_or(|limit| counted(&rates.account_publishes, self.now_ms(), limit))
    }

    /// Offers a delivery to a live client's mailbox, counted against the account's outbound
    /// publishes per second under the throttles: false when the quota (logged once per
    /// second) or the mailbox refused it. Only a delivery the mailbox took stays counted.
    pub(crate) fn offer_counted(
        &self,
        tx: &Mailbox,
        item: Outbound,
        now_ms: i64,
        client_id: &str,
    ) -> bool {
        let Some(limit) = self.rates.account_rate else {
            return tx.offer(item, self.bound, now_ms, client_id);
        };
        let deliveries = &self.rates.account_deliveries;
        let n = count(deliveries, now_ms);
        if n > limit {
            if n == limit.saturating_add(1) {
                tracing::info!(
                    limit,
                    client_id,
                    "delivery discarded: over the account's outbound publishes per second (logged once per second)"
                );
            }
            return false;
        }
        let offered = tx.offer(item, self.bound, now_ms, client_id);
        if !offered {
            uncount(deliveries, now_ms);
        }
        offered
    }

    /// Counts a CONNECT in the account; false past [`ACCOUNT_CONNECTS_PER_SECOND`] in one second.
    pub fn account_connect_allowed(&self) -> bool {
        counted(
            &self.rates.account_connects,
            self.now_ms(),
            ACCOUNT_CONNECTS_PER_SECOND,
        )
    }

    /// Records a CONNECT for `client_id`; false when the previous one was under a second ago.
    pub fn connect_allowed(&self, client_id: &str) -> bool {
        let now = self.now_ms();
        let mut last = self.rates.last_connect.lock(client_id);
        if last.len() > SHARD_LIMIT {
            last.retain(|_, t| now - *t < 1000);
        }
        let previous = last.insert(client_id.to_string(), now);
        previous.is_none_or(|t| now - t >= 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_counts_up_to_its_limit_and_gives_back_what_was_not_sent() {
        let w = Mutex::new((0, 0));
        assert!(counted(&w, 1_000, 2) && counted(&w, 1_500, 2));
        assert!(!counted(&w, 1_999, 2), "the third of the second");
        uncount(&w, 1_999);
        uncount(&w, 1_999);
        assert!(counted(&w, 1_999, 2), "a count given back frees room");
        uncount(&w, 5_000);
        assert_eq!(lock(&w).1, 2, "another second's give-back changes nothing");
        assert!(counted(&w, 2_000, 2), "a new second starts over");
    }
}
