//! Certificate and CSR input as the API receives it: PEM text of any shape.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = iotmock_pki::parse_certificate_chain_pem(text, "certificatePem");
    let _ = iotmock_pki::parse_csr_pem(text);
});
