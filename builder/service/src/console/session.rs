//! Console sessions: an API key, presented once at sign-in, becomes a
//! random session token in an HttpOnly, SameSite=Strict cookie. Only the
//! token's SHA-256 is kept, with the caller it stands for, a CSRF token and
//! an expiry; sign-out revokes it. The key itself is never stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::store::now_ms;

/// The cookie's name.
pub const COOKIE: &str = "aip_session";
/// How long a session lasts after sign-in.
pub const LIFETIME_SECS: i64 = 12 * 60 * 60;
/// The most sessions kept at once; past it, the oldest are dropped.
const MAX_SESSIONS: usize = 10_000;

/// One signed-in operator.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who the key belonged to.
    pub caller: Caller,
    /// Forms and state-changing API calls must carry this.
    pub csrf: String,
    /// When it ends (ms since the epoch).
    pub expires_ms: i64,
}

/// The live sessions of this process, by token digest.
#[derive(Clone, Default)]
pub struct Sessions {
    inner: Arc<Mutex<HashMap<[u8; 32], Session>>>,
}

impl Sessions {
    /// Starts a session for `caller`; returns the token for the cookie.
    pub fn create(&self, caller: Caller) -> (String, Session) {
        let token = random_hex();
        let session = Session {
            caller,
            csrf: random_hex(),
            expires_ms: now_ms() + LIFETIME_SECS * 1000,
        };
        let mut sessions = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let now = now_ms();
        sessions.retain(|_, s| s.expires_ms > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires_ms)
                .map(|(k, _)| *k)
        {
            sessions.remove(&oldest);
        }
        sessions.insert(digest(&token), session.clone());
        (token, session)
    }

    /// The live session of the request's cookie, if any.
    pub fn of_request(&self, headers: &HeaderMap) -> Option<Session> {
        let token = cookie(headers, COOKIE)?;
        let sessions = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        sessions
            .get(&digest(token))
            .filter(|s| s.expires_ms > now_ms())
            .cloned()
    }

    /// Ends the session of the request's cookie.
    pub fn revoke(&self, headers: &HeaderMap) {
        if let Some(token) = cookie(headers, COOKIE) {
            let mut sessions = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            sessions.remove(&digest(token));
        }
    }
}

/// Whether `presented` is the session's CSRF token (in constant time).
pub fn csrf_matches(session: &Session, presented: &str) -> bool {
    let expected = Sha256::digest(session.csrf.as_bytes());
    let got = Sha256::digest(presented.as_bytes());
    let difference = expected
        .iter()
        .zip(got.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

/// The `Set-Cookie` value that starts a session: HttpOnly (no script reads
/// it), SameSite=Strict (no other site's request carries it), Secure when
/// the request reached us over TLS (a proxy says so in
/// `X-Forwarded-Proto`).
pub fn set_cookie(token: &str, headers: &HeaderMap) -> String {
    let secure = if over_tls(headers) { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={LIFETIME_SECS}{secure}")
}

/// The `Set-Cookie` value that ends a session.
pub fn clear_cookie(headers: &HeaderMap) -> String {
    let secure = if over_tls(headers) { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn caller() -> Caller {
        Caller {
            roles: vec![Role::Viewer],
            tenant: "acme".into(),
            key_id: "k".into(),
        }
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            value.parse().expect("a header value"),
        );
        headers
    }

    #[test]
    fn a_session_is_found_by_its_cookie_and_ends_at_sign_out() {
        let sessions = Sessions::default();
        let (token, session) = sessions.create(caller());
        let headers = with_cookie(&format!("theme=dark; {COOKIE}={token}"));
        let found = sessions.of_request(&headers).expect("the session");
        assert_eq!(found.csrf, session.csrf);
        assert!(csrf_matches(&found, &session.csrf));
        assert!(!csrf_matches(&found, "guess"));
        assert!(
            sessions
                .of_request(&with_cookie(&format!("{COOKIE}=other")))
                .is_none()
        );
        sessions.revoke(&headers);
        assert!(sessions.of_request(&headers).is_none());
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_behind_tls() {
        let plain = set_cookie("t", &HeaderMap::new());
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"));
        let mut tls = HeaderMap::new();
        tls.insert("x-forwarded-proto", "https".parse().expect("value"));
        assert!(set_cookie("t", &tls).ends_with("; Secure"));
        assert!(clear_cookie(&tls).contains("Max-Age=0"));
    }
}
