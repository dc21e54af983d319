//! The message digests behind `md2`, `md5`, `sha1`, `sha224`, `sha256`, `sha384` and `sha512`,
//! from the RustCrypto crates.

use sha2::Digest;

fn digest<D: Digest>(data: &[u8]) -> Vec<u8> {
    D::digest(data).to_vec()
}

/// Lowercase hex of the digest `name` of `data` (empty for an unknown name).
pub fn hex(name: &str, data: &[u8]) -> String {
    let digest = match name {
        "md2" => digest::<md2::Md2>(data),
        "md5" => digest::<md5::Md5>(data),
        "sha1" => digest::<sha1::Sha1>(data),
        "sha224" => digest::<sha2::Sha224>(data),
        "sha256" => digest::<sha2::Sha256>(data),
        "sha384" => digest::<sha2::Sha384>(data),
        "sha512" => digest::<sha2::Sha512>(data),
        _ => Vec::new(),
    };
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::hex;

    #[test]
    fn known_digests_of_abc() {
        let cases = [
            ("md2", "da853b0d3f88d99b30283a69e6ded6bb"),
            ("md5", "900150983cd24fb0d6963f7d28e17f72"),
            ("sha1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                "sha224",
                "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
            ),
            (
                "sha256",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                "sha384",
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
            ),
            (
                "sha512",
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
        ];
        for (name, want) in cases {
            assert_eq!(hex(name, b"abc"), want, "{name}");
        }
    }

    #[test]
    fn empty_and_multi_block_inputs() {
        assert_eq!(hex("md5", b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex("md2", b""), "8350e5a3e24c153df2275c9f80692773");
        assert_eq!(
            hex("sha256", b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let long = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(
            hex("sha1", long.as_bytes()),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(
            hex("sha256", long.as_bytes()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            hex("md5", b"The quick brown fox jumps over the lazy dog"),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
    }
}
