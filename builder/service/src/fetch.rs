//! Fetching a spec from a `source` URL without letting a caller reach the
//! service's own network: every address a host resolves to is checked
//! (loopback, private, link-local, metadata, CGNAT, multicast and unspecified
//! addresses are refused unless the host is in `allow_hosts`), each redirect
//! is checked again, and the body is bounded in size and time.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::problem::Problem;

/// Limits and exceptions for `source` fetches.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Host names or IP addresses that may resolve anywhere (e.g. an
    /// internal spec server).
    pub allow_hosts: Vec<String>,
    /// Largest spec.
    pub max_bytes: usize,
    /// Limit on the whole fetch.
    pub timeout: Duration,
}

/// Why an address is refused, if it is.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local (cloud metadata)")
            } else if v4.is_unspecified() || a == 0 {
                Some("unspecified")
            } else if v4.is_broadcast() || v4.is_multicast() {
                Some("broadcast or multicast")
            } else if a == 100 && (64..128).contains(&b) {
                Some("carrier-grade NAT")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xfe00 == 0xfc00 {
                Some("unique local (private)")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
    }
}

/// The refusal, carried through reqwest's error chain.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn allowed(policy_hosts: &[String], host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    policy_hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
}

/// Checks a URL's own host when it is an IP literal (those skip DNS).
fn check_literal(url: &reqwest::Url, allow: &[String]) -> Result<(), Refused> {
    let host = url.host_str().unwrap_or_default();
    if allowed(allow, host) {
        return Ok(());
    }
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>()
        && let Some(why) = forbidden(ip)
    {
        return Err(Refused(format!("{url} points at {ip}, a {why} address")));
    }
    Ok(())
}

/// Resolves names, refusing any that resolves to a forbidden address.
struct GuardedResolver {
    allow: Arc<Vec<String>>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let lookup = host.clone();
            let addrs: Vec<SocketAddr> = tokio::task::spawn_blocking(move || {
                (lookup.as_str(), 0)
                    .to_socket_addrs()
                    .map(Iterator::collect)
            })
            .await
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)??;
            if !allowed(&allow, &host)
                && let Some((addr, why)) = addrs
                    .iter()
                    .find_map(|a| forbidden(a.ip()).map(|why| (a, why)))
            {
                return Err(Box::new(Refused(format!(
                    "{host} resolves to {}, a {why} address",
                    addr.ip()
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Fetches `url` under `policy`.
pub async fn fetch_source(url: &str, policy: &FetchPolicy) -> Result<Vec<u8>, Problem> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Problem::invalid(format!("source {url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Problem::invalid(format!(
            "source {url:?}: only http and https sources are fetched"
        )));
    }
    let allow = Arc::new(policy.allow_hosts.clone());
    check_literal(&parsed, &allow).map_err(|e| Problem::ssrf(e.0))?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let redirect_allow = allow.clone();
    let client = reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver {
            allow: allow.clone(),
        }))
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            // `previous()` holds the first URL and every redirect so far:
            // the 5th redirect has 5 before it and is followed, the 6th not.
            if attempt.previous().len() > 5 {
                return attempt.error(Refused("more than 5 redirects".into()));
            }
            match check_literal(attempt.url(), &redirect_allow) {
                Ok(()) => attempt.follow(),
                Err(refused) => {
                    attempt.error(Refused(format!("a redirect was refused: {refused}")))
                }
            }
        }))
        .timeout(policy.timeout)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Problem::internal(format!("cannot set up the fetch client: {e}")))?;
    let mut response = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| fetch_problem(url, &e))?;
    if !response.status().is_success() {
        return Err(Problem::invalid(format!(
            "source {url}: the server answered {}",
            response.status()
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| fetch_problem(url, &e))? {
        if body.len() + chunk.len() > policy.max_bytes {
            return Err(Problem::too_large(format!(
                "source {url} is larger than {} bytes",
                policy.max_bytes
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An SSRF refusal anywhere in the chain is an `ssrf-refused` problem;
/// anything else a plain fetch failure.
fn fetch_problem(url: &str, e: &reqwest::Error) -> Problem {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return Problem::ssrf(format!("source {url}: {refused}"));
        }
        source = err.source();
    }
    if e.is_timeout() {
        return Problem::invalid(format!("source {url}: timed out"));
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    Problem::invalid(format!("cannot fetch source {url}: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_metadata_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(forbidden(ip.parse().expect("ip")).is_some(), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "100.128.0.1"] {
            assert!(forbidden(ip.parse().expect("ip")).is_none(), "{ip}");
        }
    }
}
