//! Percent-decoding, shared by the readers of spec text (ingest's `$ref`
//! fragments and file names) and of requests (the contract test's mock
//! vendor).

/// Decodes `%XX` escapes (in a URI fragment, path or query); invalid
/// escapes are kept as they are.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_and_invalid_ones_stay() {
        assert_eq!(percent_decode("/a%7Bb%7D"), "/a{b}");
        assert_eq!(percent_decode("/a%zz%4"), "/a%zz%4");
        assert_eq!(percent_decode("%+1x"), "%+1x", "a sign is not a hex digit");
        assert_eq!(percent_decode("a%20b%C3%A9"), "a bé");
    }
}
