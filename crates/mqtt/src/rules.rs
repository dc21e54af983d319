//! AWS IoT's session rules: keep-alive clamp, client-id limits, per-packet limits.

/// Topic filters per SUBSCRIBE and subscriptions per connection.
pub const MAX_FILTERS_PER_SUBSCRIBE: usize = 8;
pub const MAX_SUBSCRIPTIONS: usize = 50;
/// Client ids are 1-128 bytes.
pub const MAX_CLIENT_ID: usize = 128;

/// The keep-alive AWS applies: 0 means 1200 s; requests are clamped to 30..=1200 s.
pub fn clamp_keep_alive(requested: u16) -> u16 {
    match requested {
        0 => 1200,
        1..=29 => 30,
        1201.. => 1200,
        n => n,
    }
}

/// Why a client id is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientIdError {
    #[error("the client id is empty")]
    Empty,
    #[error("the client id is {0} bytes; the limit is {MAX_CLIENT_ID}")]
    TooLong(usize),
    #[error("client ids starting with '$' are reserved")]
    Reserved,
}

/// Checks a client id (an empty one is refused here; MQTT 5 callers assign one first).
pub fn validate_client_id(id: &str) -> Result<(), ClientIdError> {
    if id.is_empty() {
        return Err(ClientIdError::Empty);
    }
    if id.len() > MAX_CLIENT_ID {
        return Err(ClientIdError::TooLong(id.len()));
    }
    if id.starts_with('$') {
        return Err(ClientIdError::Reserved);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_is_clamped_as_aws_does() {
        assert_eq!(clamp_keep_alive(0), 1200);
        assert_eq!(clamp_keep_alive(5), 30);
        assert_eq!(clamp_keep_alive(60), 60);
        assert_eq!(clamp_keep_alive(5000), 1200);
    }

    #[test]
    fn client_ids() {
        assert!(validate_client_id("thing-1").is_ok());
        assert_eq!(validate_client_id(""), Err(ClientIdError::Empty));
        assert_eq!(validate_client_id("$x"), Err(ClientIdError::Reserved));
        assert_eq!(
            validate_client_id(&"a".repeat(129)),
            Err(ClientIdError::TooLong(129))
        );
    }
}
