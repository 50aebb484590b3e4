//! Where a spec comes from, and reading it under a size limit.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::IngestError;

/// A spec's origin.
#[derive(Debug, Clone)]
pub enum SpecSource {
    /// A file on disk; external `$ref`s resolve inside its folder.
    File(PathBuf),
    /// Bytes read from standard input; external `$ref`s are not available.
    Stdin,
    /// An `http://` or `https://` URL; external `$ref`s are not available.
    Url(String),
}

impl SpecSource {
    /// Interprets a command-line argument: `-` is stdin, `http(s)://` a URL,
    /// anything else a path.
    pub fn from_arg(arg: &str) -> SpecSource {
        if arg == "-" {
            SpecSource::Stdin
        } else if ["http://", "https://", "grpc://", "grpcs://"]
            .iter()
            .any(|p| arg.starts_with(p))
        {
            SpecSource::Url(arg.to_string())
        } else {
            SpecSource::File(PathBuf::from(arg))
        }
    }

    /// How the source is named in messages.
    pub fn location(&self) -> String {
        match self {
            SpecSource::File(p) => p.display().to_string(),
            SpecSource::Stdin => "<stdin>".to_string(),
            SpecSource::Url(u) => u.clone(),
        }
    }
}

/// Reads a whole file, refusing more than `limit` bytes. Only regular
/// files are read: a FIFO or device would block or never end.
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, IngestError> {
    let location = path.display().to_string();
    let read_error = |source| IngestError::Read {
        location: location.clone(),
        source,
    };
    if !std::fs::metadata(path).map_err(read_error)?.is_file() {
        return Err(read_error(not_regular()));
    }
    let file = std::fs::File::open(path).map_err(|source| IngestError::Read {
        location: location.clone(),
        source,
    })?;
    read_limited(file, &location, limit)
}

/// The error for a path that is not a regular file.
pub fn not_regular() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        "not a regular file (a folder, FIFO or device)",
    )
}

/// Reads a stream to its end, refusing more than `limit` bytes.
pub fn read_limited(reader: impl Read, location: &str, limit: u64) -> Result<Vec<u8>, IngestError> {
    let mut buf = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|source| IngestError::Read {
            location: location.to_string(),
            source,
        })?;
    if buf.len() as u64 > limit {
        return Err(IngestError::TooLarge {
            location: location.to_string(),
            limit,
        });
    }
    Ok(buf)
}

/// Fetches a URL with a timeout, refusing more than `limit` bytes.
pub fn fetch_url(url: &str, limit: u64, timeout: Duration) -> Result<Vec<u8>, IngestError> {
    let fail = |reason: String| IngestError::Fetch {
        url: url.to_string(),
        reason,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(5)
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| fail(e.to_string()))?;
    let reader = response.into_body().into_reader();
    read_limited(reader, url, limit)
}
