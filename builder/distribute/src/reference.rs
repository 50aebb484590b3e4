//! `REGISTRY/REPO[@VERSION|:TAG|@sha256:…]`: which module, in which
//! registry, and which of its versions.

use std::fmt;

use crate::DistributeError;

/// A module in a registry, and which version of it is wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRef {
    /// `host[:port]`.
    pub registry: String,
    /// The repository path (`acme/weather`).
    pub repository: String,
    /// Which version.
    pub selector: Selector,
}

/// Which version of a module is wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// No selector, or `@latest`: the newest stable version.
    Latest,
    /// `@1` (newest 1.x.x), `@1.2` (newest 1.2.x) or `@1.2.3` (exactly).
    Version(VersionReq),
    /// `:TAG`: whatever the tag points at.
    Tag(String),
    /// `@sha256:…`: exactly this artifact.
    Digest(String),
}

/// A semver prefix: major, major.minor, or a full version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionReq {
    /// `1`: newest stable 1.x.x.
    Major(u64),
    /// `1.2`: newest stable 1.2.x.
    Minor(u64, u64),
    /// `1.2.3` or `1.2.3-rc.1`: exactly this one.
    Exact(semver::Version),
}

impl ModuleRef {
    /// Parses `REGISTRY/REPO`, optionally followed by `@VERSION`,
    /// `@latest`, `:TAG` or `@sha256:HEX`.
    pub fn parse(text: &str) -> Result<ModuleRef, DistributeError> {
        let bad = |why: &str| DistributeError::Reference {
            reference: text.to_string(),
            reason: why.to_string(),
        };
        let (registry, rest) = text.split_once('/').ok_or_else(|| {
            bad("name the registry and the repository: REGISTRY/REPO, e.g. ghcr.io/acme/weather")
        })?;
        check_registry(registry).map_err(|why| bad(&why))?;
        let (path, selector) = if let Some((path, sel)) = rest.split_once('@') {
            (path, parse_at_selector(sel).map_err(|why| bad(&why))?)
        } else {
            match rest.rsplit_once(':') {
                Some((path, tag)) if !tag.contains('/') => {
                    check_tag(tag).map_err(|why| bad(&why))?;
                    (path, Selector::Tag(tag.to_string()))
                }
                _ => (rest, Selector::Latest),
            }
        };
        check_repository(path).map_err(|why| bad(&why))?;
        Ok(ModuleRef {
            registry: registry.to_string(),
            repository: path.to_string(),
            selector,
        })
    }

    /// The same repository, without a selector.
    pub fn repo_string(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// An `oci-client` reference to `tag` in this repository.
    pub(crate) fn at_tag(&self, tag: &str) -> oci_client::Reference {
        oci_client::Reference::with_tag(
            self.registry.clone(),
            self.repository.clone(),
            tag.to_string(),
        )
    }

    /// An `oci-client` reference to `digest` in this repository.
    pub(crate) fn at_digest(&self, digest: &str) -> oci_client::Reference {
        oci_client::Reference::with_digest(
            self.registry.clone(),
            self.repository.clone(),
            digest.to_string(),
        )
    }
}

impl fmt::Display for ModuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.registry, self.repository, self.selector)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Latest => Ok(()),
            Selector::Version(VersionReq::Major(major)) => write!(f, "@{major}"),
            Selector::Version(VersionReq::Minor(major, minor)) => write!(f, "@{major}.{minor}"),
            Selector::Version(VersionReq::Exact(v)) => write!(f, "@{v}"),
            Selector::Tag(tag) => write!(f, ":{tag}"),
            Selector::Digest(digest) => write!(f, "@{digest}"),
        }
    }
}

fn parse_at_selector(sel: &str) -> Result<Selector, String> {
    if sel == "latest" {
        return Ok(Selector::Latest);
    }
    if let Some(hex) = sel.strip_prefix("sha256:") {
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err("a digest is sha256: followed by 64 lowercase hex digits".into());
        }
        return Ok(Selector::Digest(sel.to_string()));
    }
    let version_error = || {
        format!(
            "{sel:?} is not a version: use @MAJOR, @MAJOR.MINOR, @MAJOR.MINOR.PATCH[-PRE], @latest or @sha256:HEX"
        )
    };
    let number = |s: &str| -> Result<u64, String> {
        if s.is_empty()
            || !s.bytes().all(|b| b.is_ascii_digit())
            || (s.len() > 1 && s.starts_with('0'))
        {
            return Err(version_error());
        }
        s.parse().map_err(|_| version_error())
    };
    let core = sel.split(['-', '+']).next().unwrap_or(sel);
    let parts: Vec<&str> = core.split('.').collect();
    match parts.as_slice() {
        [major] if core == sel => Ok(Selector::Version(VersionReq::Major(number(major)?))),
        [major, minor] if core == sel => Ok(Selector::Version(VersionReq::Minor(
            number(major)?,
            number(minor)?,
        ))),
        [_, _, _] => semver::Version::parse(sel)
            .map(|v| Selector::Version(VersionReq::Exact(v)))
            .map_err(|_| version_error()),
        _ => Err(version_error()),
    }
}

fn check_registry(registry: &str) -> Result<(), String> {
    let (host, port) = match registry.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || registry.starts_with('[') => {
            (host, Some(port))
        }
        _ => (registry, None),
    };
    let host_ok = !host.is_empty()
        && (host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            || (host.starts_with('[') && host.ends_with(']')));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok());
    if !host_ok || !port_ok {
        return Err(format!("{registry:?} is not a registry host[:port]"));
    }
    if port.is_none() && !host.contains('.') && host != "localhost" {
        return Err(format!(
            "{registry:?} does not look like a registry host; name it fully, e.g. docker.io/{registry} or localhost:5000/{registry}"
        ));
    }
    Ok(())
}

/// OCI distribution-spec repository names: lowercase path components of
/// `[a-z0-9]` separated by `.`, `_`, `__` or `-`.
fn check_repository(path: &str) -> Result<(), String> {
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
            && c.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
            && c.as_bytes().last().is_some_and(u8::is_ascii_alphanumeric)
    };
    if path.len() > 255 || !path.split('/').all(component_ok) {
        return Err(format!(
            "{path:?} is not a repository name (lowercase letters, digits and . _ - between /)"
        ));
    }
    Ok(())
}

/// OCI tags: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub(crate) fn check_tag(tag: &str) -> Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .as_bytes()
            .first()
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!("{tag:?} is not a valid tag"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(text: &str) -> Selector {
        match ModuleRef::parse(text) {
            Ok(r) => r.selector,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    #[test]
    fn selectors_parse() {
        assert_eq!(sel("localhost:5000/acme/weather"), Selector::Latest);
        assert_eq!(sel("localhost:5000/acme/weather@latest"), Selector::Latest);
        assert_eq!(
            sel("localhost:5000/w@1"),
            Selector::Version(VersionReq::Major(1))
        );
        assert_eq!(
            sel("localhost:5000/w@1.2"),
            Selector::Version(VersionReq::Minor(1, 2))
        );
        assert_eq!(
            sel("localhost:5000/w@1.2.3-rc.1"),
            Selector::Version(VersionReq::Exact(
                semver::Version::parse("1.2.3-rc.1").expect("v")
            ))
        );
        assert_eq!(sel("ghcr.io/acme/w:stable"), Selector::Tag("stable".into()));
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            sel(&format!("ghcr.io/w@{digest}")),
            Selector::Digest(digest)
        );
        let r = ModuleRef::parse("127.0.0.1:5000/acme/weather:1.0.0").expect("parse");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "acme/weather");
        assert_eq!(r.to_string(), "127.0.0.1:5000/acme/weather:1.0.0");
    }

    #[test]
    fn bad_references_say_why() {
        for (text, needle) in [
            ("weather", "REGISTRY/REPO"),
            ("weather/x", "does not look like a registry host"),
            ("localhost:5000/Acme", "not a repository name"),
            ("localhost:5000/acme/../x", "not a repository name"),
            ("localhost:5000/acme@1.x", "is not a version"),
            ("localhost:5000/acme@01", "is not a version"),
            ("localhost:5000/acme@sha256:abc", "64 lowercase hex"),
            ("localhost:5000/acme:-bad", "not a valid tag"),
            ("localhost:99999/acme", "not a registry"),
        ] {
            let err = ModuleRef::parse(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
