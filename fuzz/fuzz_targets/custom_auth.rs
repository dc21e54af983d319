//! What a custom-auth connection sends and what its function answers: the CONNECT username's
//! query string (split at the first NUL into username and password), and the answer the
//! authorizer validates.
#![no_main]
use iotmock_authorizer::{MqttData, Presented, read_answer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read_answer(data);
    let (user, password) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], Some(data[i + 1..].to_vec())),
        None => (data, None),
    };
    let presented = Presented {
        mqtt: Some(MqttData {
            username: Some(String::from_utf8_lossy(user).into_owned()),
            password,
            client_id: None,
        }),
        ..Presented::default()
    };
    let token = presented.value("token");
    let _ = presented.authorizer_name();
    let _ = presented.event(token.as_deref(), false);
});
