//! AWS IoT's topic rules: names and filters within AWS's limits, `$` topics reserved, and
//! matching with AWS's own quirk (`a/#` does not match `a`). mqttbytes' helpers get `$aws/...`
//! topics wrong, so matching is written here and checked against a plain reference.

/// AWS limits: 256 bytes per topic or filter, at most 7 slashes (8 levels).
pub const MAX_TOPIC_BYTES: usize = 256;
pub const MAX_SLASHES: usize = 7;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("the topic is empty")]
    Empty,
    #[error("the topic is {0} bytes; the limit is {MAX_TOPIC_BYTES}")]
    TooLong(usize),
    #[error("the topic has {0} slashes; the limit is {MAX_SLASHES}")]
    TooDeep(usize),
    #[error("a topic name cannot contain the wildcards + or #")]
    Wildcard,
    #[error("misplaced wildcard: + and # must fill a whole level and # must come last")]
    BadWildcard,
    #[error("'{0}' is a reserved topic")]
    Reserved(String),
}

/// Basic Ingest topics (`$aws/rules/<rule>/...`) do not count their prefix against the limits.
fn without_ingest_prefix(topic: &str) -> &str {
    topic
        .strip_prefix("$aws/rules/")
        .and_then(|rest| rest.split_once('/'))
        .map_or(topic, |(_, t)| t)
}

fn check_size(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    if topic.len() > MAX_TOPIC_BYTES {
        return Err(TopicError::TooLong(topic.len()));
    }
    let slashes = topic.matches('/').count();
    if slashes > MAX_SLASHES {
        return Err(TopicError::TooDeep(slashes));
    }
    Ok(())
}

/// A PUBLISH topic: no wildcards, within limits, not reserved for AWS.
pub fn validate_topic(topic: &str) -> Result<(), TopicError> {
    check_size(without_ingest_prefix(topic))?;
    if topic.contains(['+', '#']) {
        return Err(TopicError::Wildcard);
    }
    if topic.starts_with('$') && !publishable_reserved(topic) {
        return Err(TopicError::Reserved(topic.to_string()));
    }
    Ok(())
}

fn publishable_reserved(topic: &str) -> bool {
    [
        "$aws/things/",
        "$aws/rules/",
        "$aws/certificates/",
        "$aws/provisioning-templates/",
    ]
    .iter()
    .any(|p| topic.starts_with(p))
}

fn subscribable_reserved(filter: &str) -> bool {
    [
        "$aws/things/",
        "$aws/events/",
        "$aws/certificates/",
        "$aws/provisioning-templates/",
    ]
    .iter()
    .any(|p| filter.starts_with(p))
}

/// Splits `$share/<group>/<filter>` into its group and filter.
pub fn shared(filter: &str) -> Option<(&str, &str)> {
    let rest = filter.strip_prefix("$share/")?;
    let (group, inner) = rest.split_once('/')?;
    (!group.is_empty() && !group.contains(['+', '#'])).then_some((group, inner))
}

/// A SUBSCRIBE filter: wildcards in whole levels, `#` last, within limits, not reserved.
pub fn validate_filter(filter: &str) -> Result<(), TopicError> {
    let filter = shared(filter).map_or(filter, |(_, f)| f);
    check_size(filter)?;
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        let bad_hash = level.contains('#') && (*level != "#" || i != levels.len() - 1);
        let bad_plus = level.contains('+') && *level != "+";
        if bad_hash || bad_plus {
            return Err(TopicError::BadWildcard);
        }
    }
    if filter.starts_with('$') && !subscribable_reserved(filter) {
        return Err(TopicError::Reserved(filter.to_string()));
    }
    Ok(())
}

/// Whether `filter` (already validated, `$share/` stripped) matches `topic`.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), Some(_)) => return true,
            (Some("#"), None) => return false,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: expand the filter level by level with recursion.
    fn reference(f: &[&str], t: &[&str]) -> bool {
        match (f.first(), t.first()) {
            (Some(&"#"), Some(_)) => true,
            (Some(&"+"), Some(_)) => reference(&f[1..], &t[1..]),
            (Some(a), Some(b)) => a == b && reference(&f[1..], &t[1..]),
            (None, None) => true,
            _ => false,
        }
    }

    #[test]
    fn aws_quirks() {
        assert!(
            !matches("sensor/#", "sensor"),
            "AWS: # does not match the parent level"
        );
        assert!(matches("sensor/#", "sensor/"));
        assert!(matches("sensor/#", "sensor/a/b"));
        assert!(matches(
            "$aws/things/+/shadow/update",
            "$aws/things/t1/shadow/update"
        ));
        assert!(!matches("#", "$aws/things/t1/shadow/update"));
        assert!(!matches("+/things/t1", "$aws/things/t1"));
        assert!(matches("a/+/c", "a//c"));
        assert!(!matches("a/+", "a/b/c"));
    }

    #[test]
    fn validation_follows_aws_limits() {
        assert!(validate_topic("a/b/c").is_ok());
        assert_eq!(validate_topic("a/+"), Err(TopicError::Wildcard));
        assert_eq!(validate_topic(""), Err(TopicError::Empty));
        assert_eq!(
            validate_topic(&"x".repeat(257)),
            Err(TopicError::TooLong(257))
        );
        assert_eq!(
            validate_topic("1/2/3/4/5/6/7/8/9"),
            Err(TopicError::TooDeep(8))
        );
        assert!(validate_topic("1/2/3/4/5/6/7/8").is_ok());
        assert!(validate_topic("$aws/rules/myrule/1/2/3/4/5/6/7/8").is_ok());
        assert!(matches!(
            validate_topic("$SYS/x"),
            Err(TopicError::Reserved(_))
        ));
        assert!(matches!(
            validate_topic("$aws/events/presence/connected/x"),
            Err(TopicError::Reserved(_))
        ));
        assert!(validate_topic("$aws/things/t/shadow/update").is_ok());
        assert!(validate_filter("a/+/#").is_ok());
        assert_eq!(validate_filter("a/b+"), Err(TopicError::BadWildcard));
        assert_eq!(validate_filter("a/#/b"), Err(TopicError::BadWildcard));
        assert!(matches!(
            validate_filter("$SYS/#"),
            Err(TopicError::Reserved(_))
        ));
        assert!(validate_filter("$aws/events/presence/connected/+").is_ok());
        assert!(validate_filter("$share/group/a/+").is_ok());
        assert_eq!(shared("$share/g/a/b"), Some(("g", "a/b")));
    }

    proptest::proptest! {
        #[test]
        fn matching_agrees_with_the_reference(f in "([ab+]|#)(/([ab+]|#)){0,4}", t in "[ab$]{0,2}(/[ab]{0,2}){0,5}") {
            if validate_filter(&f).is_ok() {
                let reference_says = !(t.starts_with('$') && f.starts_with(['+', '#']))
                    && reference(&f.split('/').collect::<Vec<_>>(), &t.split('/').collect::<Vec<_>>());
                proptest::prop_assert_eq!(matches(&f, &t), reference_says);
            }
        }
    }
}
