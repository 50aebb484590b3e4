//! Turns a vendor's successful HTTP answer into the adapter's output JSON.
//! Part of the aip-builder adapter runtime, shared by every target
//! (templates/shared); copied verbatim into every adapter.

use serde_json::Value;

/// The output JSON for a successful body: JSON bodies as they are, empty
/// bodies as `null`, anything else as a JSON string.
pub fn output_json(content_type: Option<&str>, body: &[u8]) -> String {
    if body.is_empty() {
        return "null".into();
    }
    let json_like = content_type
        .map(|ct| {
            let ct = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            ct == "application/json" || ct.ends_with("+json")
        })
        .unwrap_or(false);
    if json_like && let Ok(value) = serde_json::from_slice::<Value>(body) {
        return value.to_string();
    }
    Value::String(String::from_utf8_lossy(body).into_owned()).to_string()
}
