//! The topic rule destination operations on the [`RulesService`]: the confirmation AWS POSTs
//! to the destination's URL is sent by the adapter's runner, and recorded in the action log
//! under the destination's ARN with how it went (`delivered`, `failed`, or `captured` when no
//! runner sends it), so a test reads its token there as an endpoint's owner reads the request.

use crate::book::BookError;
use crate::destination::{self, Destination, ENABLED, IN_PROGRESS};
use crate::log::{Entry, Outcome};
use crate::service::{Post, RulesService, lock};
use serde_json::Value;
use std::sync::atomic::Ordering;

impl RulesService {
    /// Creates HTTP destinations ENABLED at once (no confirmation) when set.
    pub fn set_auto_confirm(&self, on: bool) {
        self.auto_confirm.store(on, Ordering::Relaxed);
    }

    /// CreateTopicRuleDestination.
    pub fn create_destination(
        &self,
        region: &str,
        config: &Value,
        now_ms: i64,
    ) -> Result<Destination, BookError> {
        let (uuid, token) = (self.outside.new_uuid(), self.new_token());
        let auto = self.auto_confirm.load(Ordering::Relaxed);
        let ids = (uuid.as_str(), token.as_str());
        let made =
            destination::from_configuration(config, (region, self.account()), ids, now_ms, auto)?;
        let stored = self.change(|book| book.put_destination(made).cloned())?;
        if stored.status == IN_PROGRESS {
            self.send_confirmation(&stored, now_ms);
        }
        Ok(stored)
    }

    /// UpdateTopicRuleDestination: ENABLED <-> DISABLED, or IN_PROGRESS to confirm again.
    pub fn update_destination(
        &self,
        arn: &str,
        status: &str,
        now_ms: i64,
    ) -> Result<(), BookError> {
        let mut d = self.read(|book| book.destination(arn).cloned())?;
        destination::check_transition(&d.status, status)?;
        if status == IN_PROGRESS && d.confirmation_url.is_some() {
            d.token = self.new_token();
            self.send_confirmation(&d, now_ms);
        }
        d.status = status.to_string();
        d.last_updated_at_ms = now_ms;
        self.change(|book| book.put_destination(d).map(|_| ()))
    }

    /// What AWS does for a rule's static http URL: a destination for each URL the rule needs
    /// that no destination covers yet, created as CreateTopicRuleDestination would (its
    /// confirmation sent; ENABLED at once with confirmations skipped).
    pub fn imply_destinations(
        &self,
        region: &str,
        urls: &[String],
        now_ms: i64,
    ) -> Result<(), BookError> {
        for url in urls {
            let known = self.read(|book| {
                book.destinations(region).any(|d| {
                    d.confirmation_url
                        .as_deref()
                        .is_some_and(|c| url.starts_with(c))
                })
            });
            if !known {
                let config =
                    serde_json::json!({ "httpUrlConfiguration": { "confirmationUrl": url } });
                self.create_destination(region, &config, now_ms)?;
            }
        }
        Ok(())
    }

    /// The ENABLED destinations' URLs of every region, as the http actions check them.
    pub(crate) fn refresh_enabled(&self, book: &crate::RuleBook) {
        let urls = book
            .all_destinations()
            .filter(|d| d.status == ENABLED)
            .filter_map(|d| Some((d.region.clone(), d.confirmation_url.clone()?)))
            .collect();
        *lock(&self.enabled) = urls;
    }

    /// Whether an http action may send to `url` in `region`: it falls under an ENABLED
    /// destination.
    pub(crate) fn may_send(&self, region: &str, url: &str) -> bool {
        lock(&self.enabled)
            .iter()
            .any(|(r, c)| r == region && url.starts_with(c.as_str()))
    }

    /// ConfirmTopicRuleDestination: the destination the token was sent for is ENABLED.
    pub fn confirm_destination(&self, token: &str, now_ms: i64) -> Result<(), BookError> {
        let mut d = self.read(|book| book.destination_by_token(token).cloned())?;
        if d.status == IN_PROGRESS {
            d.status = ENABLED.to_string();
            d.last_updated_at_ms = now_ms;
            self.change(|book| book.put_destination(d).map(|_| ()))?;
        }
        Ok(())
    }

    /// A confirmation token, as long as AWS's (hex).
    fn new_token(&self) -> String {
        let a = self.outside.new_uuid().replace('-', "");
        let b = self.outside.new_uuid().replace('-', "");
        format!("{a}{b}")
    }

    /// What AWS POSTs to `{confirmationUrl}/?confirmationToken={token}`: sent by the runner,
    /// and into the action log with its outcome.
    fn send_confirmation(&self, d: &Destination, now_ms: i64) {
        let base = d.confirmation_url.clone().unwrap_or_default();
        let url = format!(
            "{}/?confirmationToken={}",
            base.trim_end_matches('/'),
            d.token
        );
        let headers = vec![
            (
                "x-amz-rules-engine-message-type".to_string(),
                "DestinationConfirmation".to_string(),
            ),
            (
                "x-amz-rules-engine-destination-arn".to_string(),
                d.arn.clone(),
            ),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        let mut params = serde_json::Map::new();
        params.insert("url".into(), Value::String(url.clone()));
        let shown: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        params.insert("headers".into(), Value::Object(shown));
        let entry = Entry {
            time_ms: now_ms,
            rule: d.arn.clone(),
            action: "destinationConfirmation".into(),
            params,
            payload: d.confirmation().to_string().into_bytes(),
            outcome: Outcome::Captured,
        };
        let Some(runner) = &self.runner else {
            lock(&self.log).push(entry);
            return;
        };
        let post = Post {
            url,
            headers,
            body: entry.payload.clone(),
        };
        let me = self.me.clone();
        runner.confirm(
            post,
            Box::new(move |result| {
                if let Some(service) = me.upgrade() {
                    let outcome = Outcome::of(&result.map(|()| true));
                    lock(&service.log).push(Entry { outcome, ..entry });
                }
            }),
        );
    }
}
