//! The outbound allow-list: which authorities an adapter may call.

use wasmtime_wasi_http::{WasiBody, WasiHttpHooks};

/// Authorities (`host` or `host:port`) an adapter may reach. A bare `host`
/// allows that host on the scheme's default port (80 for http, 443 for
/// https); `host:port` allows exactly that port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    entries: Vec<String>,
}

impl AllowList {
    /// An allow-list of these entries (case-insensitive).
    pub fn new(entries: impl IntoIterator<Item = String>) -> AllowList {
        let mut entries: Vec<String> = entries
            .into_iter()
            .map(|e| e.to_ascii_lowercase())
            .collect();
        entries.sort();
        entries.dedup();
        AllowList { entries }
    }

    /// Adds one entry.
    pub fn push(&mut self, entry: &str) {
        self.entries.push(entry.to_ascii_lowercase());
    }

    /// Whether `host` on `port` may be reached.
    pub fn permits(&self, host: &str, port: u16, default_port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.entries.iter().any(|entry| {
            let (entry_host, entry_port) = split_authority(entry);
            entry_host == host
                && match entry_port {
                    Some(p) => p == port,
                    None => port == default_port,
                }
        })
    }
}

fn split_authority(authority: &str) -> (&str, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[') {
        // [v6]:port
        let end = rest.find(']').unwrap_or(rest.len());
        let port = rest[end..].strip_prefix("]:").and_then(|p| p.parse().ok());
        return (&rest[..end], port);
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p.parse().ok()),
        _ => (authority, None),
    }
}

/// wasi:http hooks that refuse requests outside the allow-list.
pub(crate) struct AllowHooks {
    allow: AllowList,
}

impl AllowHooks {
    pub(crate) fn new(allow: AllowList) -> AllowHooks {
        AllowHooks { allow }
    }
}

impl WasiHttpHooks for AllowHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        _ = fut;
        let uri = request.uri();
        let default_port = if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        };
        let permitted = uri
            .host()
            .map(|host| {
                self.allow
                    .permits(host, uri.port_u16().unwrap_or(default_port), default_port)
            })
            .unwrap_or(false);
        if !permitted {
            tracing::warn!(uri = %uri, "outgoing request refused: destination not in the module's permissions");
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io)
                    as Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        let list = AllowList::new(["api.example.com".to_string(), "127.0.0.1:8080".to_string()]);
        assert!(list.permits("api.example.com", 443, 443));
        assert!(list.permits("API.example.com", 443, 443));
        assert!(!list.permits("api.example.com", 8443, 443));
        assert!(list.permits("127.0.0.1", 8080, 80));
        assert!(!list.permits("127.0.0.1", 8081, 80));
        assert!(!list.permits("evil.example.com", 443, 443));
        assert!(!AllowList::default().permits("api.example.com", 443, 443));
    }
}
