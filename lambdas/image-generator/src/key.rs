//! Content-addressed S3 keys: the same normalised request always maps to the same object, so a
//! redelivered SQS message or a repeated POST rewrites identical bytes instead of piling up
//! copies, and a client can compute where its image will appear without asking the function.
//!
//! The key is `images/<hex sha-256 of the canonical request>.png`, where the canonical request
//! is this UTF-8 text (lines separated by `\n`, no trailing newline):
//!
//! ```text
//! lsk-image-request/v1
//! model=<model name, e.g. stub-v1>
//! width=<resolved width>
//! height=<resolved height>
//! seed=<resolved seed>
//! prompt=<prompt with leading/trailing whitespace trimmed>
//! ```
//!
//! The prompt comes last so that newlines inside it cannot be confused with the other fields.
//! Defaults are resolved first, so `{"prompt": "fox"}` and
//! `{"prompt": " fox ", "width": 512, "height": 512, "seed": 0}` share a key.

use sha2::{Digest, Sha256};

use crate::request::ImageSpec;

/// Folder (key prefix) every generated image is stored under.
pub const IMAGE_PREFIX: &str = "images/";
/// First line of the canonical request; bump it if the format ever changes.
pub const KEY_FORMAT_VERSION: &str = "lsk-image-request/v1";

/// The canonical text of a request, as hashed by [`image_key`].
pub fn canonical_request(spec: &ImageSpec, model: &str) -> String {
    format!(
        "{KEY_FORMAT_VERSION}\nmodel={model}\nwidth={}\nheight={}\nseed={}\nprompt={}",
        spec.width, spec.height, spec.seed, spec.prompt
    )
}

/// The hex SHA-256 of the canonical request (64 lowercase hex digits).
pub fn request_digest(spec: &ImageSpec, model: &str) -> String {
    hex::encode(Sha256::digest(canonical_request(spec, model).as_bytes()))
}

/// The S3 key the image for `spec` made by `model` is stored under: `images/<digest>.png`.
pub fn image_key(spec: &ImageSpec, model: &str) -> String {
    format!("{IMAGE_PREFIX}{}.png", request_digest(spec, model))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::GenerateRequest;

    fn spec(json: &str) -> ImageSpec {
        GenerateRequest::from_json(json)
            .unwrap()
            .validate()
            .unwrap()
    }

    #[test]
    fn key_is_the_documented_hash() {
        let fox = spec(r#"{"prompt": "a red fox"}"#);
        assert_eq!(
            canonical_request(&fox, "stub-v1"),
            "lsk-image-request/v1\nmodel=stub-v1\nwidth=512\nheight=512\nseed=0\nprompt=a red fox"
        );
        // Pinned so that a change to the derivation (which would orphan every stored image and
        // break clients computing keys themselves) cannot happen by accident.
        assert_eq!(
            image_key(&fox, "stub-v1"),
            "images/1c9c7df25a7786efea880a0fb6d5ce2045cd490361ddb23c6ee3a7a3092306a7.png"
        );
    }

    #[test]
    fn equivalent_requests_share_a_key() {
        let a = spec(r#"{"prompt": "a red fox"}"#);
        let b = spec(r#"{"prompt": "  a red fox\n", "width": 512, "height": 512, "seed": 0}"#);
        assert_eq!(image_key(&a, "stub-v1"), image_key(&b, "stub-v1"));
    }

    #[test]
    fn every_field_changes_the_key() {
        let base = spec(r#"{"prompt": "a red fox"}"#);
        let key = image_key(&base, "stub-v1");
        let variants = [
            spec(r#"{"prompt": "a red fox!"}"#),
            spec(r#"{"prompt": "a red fox", "width": 256}"#),
            spec(r#"{"prompt": "a red fox", "height": 256}"#),
            spec(r#"{"prompt": "a red fox", "seed": 1}"#),
        ];
        for variant in &variants {
            assert_ne!(image_key(variant, "stub-v1"), key, "{variant:?}");
        }
        assert_ne!(image_key(&base, "other-model"), key);
    }

    #[test]
    fn key_shape() {
        let key = image_key(&spec(r#"{"prompt": "ünïcødé 🦊"}"#), "stub-v1");
        let digest = key
            .strip_prefix("images/")
            .and_then(|rest| rest.strip_suffix(".png"))
            .unwrap();
        assert_eq!(digest.len(), 64);
        assert!(
            digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }
}
