//! Configuration from environment variables. Part of the aip-builder
//! gRPC service runtime; copied verbatim into every generated service.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `AIP_LISTEN` | `0.0.0.0:50051` | address to serve on (port 0 picks a free port) |
//! | `AIP_VENDOR_URL` | the spec's server | vendor endpoint: a base URL for REST vendors, `http(s)://host:port` for gRPC vendors |
//! | `AIP_CREDENTIALS` | none | JSON object of credentials by scheme name, used when a call carries none of its own |
//! | `AIP_VENDOR_TIMEOUT_SECS` | `60` | limit on one vendor call |
//! | `AIP_LOG` | `info` | log level: `error`, `warn`, `info`, `debug` or `trace`; logs are JSON lines on stderr |

use std::net::SocketAddr;
use std::time::Duration;

/// The service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Vendor endpoint override.
    pub vendor_url: Option<String>,
    /// Default credentials by scheme name.
    pub credentials: Vec<(String, String)>,
    /// Limit on one vendor call.
    pub vendor_timeout: Duration,
    /// Log level.
    pub log_level: tracing::Level,
}

impl Config {
    /// Reads the configuration from the environment; the error names the
    /// variable at fault.
    pub fn from_env() -> Result<Config, String> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from `lookup` (variable name to value); a
    /// blank value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let listen = match var("AIP_LISTEN") {
            Some(v) => v.trim().parse().map_err(|e| {
                format!("AIP_LISTEN={v:?} is not an address like 0.0.0.0:50051: {e}")
            })?,
            None => SocketAddr::from(([0, 0, 0, 0], 50051)),
        };
        let vendor_url = var("AIP_VENDOR_URL").map(|v| v.trim().trim_end_matches('/').to_string());
        if let Some(url) = &vendor_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!(
                "AIP_VENDOR_URL={url:?} must start with http:// or https://"
            ));
        }
        let credentials = match var("AIP_CREDENTIALS") {
            Some(v) => parse_credentials(&v)?,
            None => Vec::new(),
        };
        let vendor_timeout = match var("AIP_VENDOR_TIMEOUT_SECS") {
            Some(v) => match v.trim().parse::<u64>() {
                Ok(secs) if secs > 0 => Duration::from_secs(secs),
                _ => {
                    return Err(format!(
                        "AIP_VENDOR_TIMEOUT_SECS={v:?} is not a positive number of seconds"
                    ));
                }
            },
            None => Duration::from_secs(60),
        };
        let log_level = match var("AIP_LOG") {
            Some(v) => v.trim().parse().map_err(|_| {
                format!("AIP_LOG={v:?} is not one of error, warn, info, debug, trace")
            })?,
            None => tracing::Level::INFO,
        };
        Ok(Config {
            listen,
            vendor_url,
            credentials,
            vendor_timeout,
            log_level,
        })
    }
}

fn parse_credentials(text: &str) -> Result<Vec<(String, String)>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("AIP_CREDENTIALS is not JSON: {e}"))?;
    let serde_json::Value::Object(map) = value else {
        return Err("AIP_CREDENTIALS must be a JSON object of scheme name -> credential".into());
    };
    map.into_iter()
        .map(|(scheme, value)| match value {
            serde_json::Value::String(value) => Ok((scheme, value)),
            _ => Err(format!(
                "AIP_CREDENTIALS: the credential for {scheme:?} must be a string"
            )),
        })
        .collect()
}

/// JSON lines on stderr, one object per event.
pub fn init_logging(config: &Config) {
    tracing_subscriber::fmt()
        .json()
        .with_max_level(config.log_level)
        .with_current_span(false)
        .with_writer(std::io::stderr)
        .init();
}
