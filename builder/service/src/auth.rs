//! API keys and roles: `AIP_BUILDER_API_KEYS` in the platform's format,
//! `key:role1|role2[:tenant]`, comma- or newline-separated.

use sha2::{Digest, Sha256};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read jobs and modules of its tenant.
    Viewer,
    /// Also submit and cancel builds.
    Builder,
    /// Everything, every tenant.
    Admin,
}

impl Role {
    fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "builder" => Some(Role::Builder),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// One configured key. Only its SHA-256 is kept.
#[derive(Debug, Clone)]
pub struct ApiKey {
    digest: [u8; 32],
    /// Its roles.
    pub roles: Vec<Role>,
    /// Its tenant (`default` when none is given).
    pub tenant: String,
}

/// The caller of a request, once its key matched.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Its roles.
    pub roles: Vec<Role>,
    /// Its tenant.
    pub tenant: String,
    /// Which key it used (the first 16 hex digits of its SHA-256; empty in
    /// open mode): what rate limits are counted by. Never the key.
    pub key_id: String,
}

impl Caller {
    /// Whether the caller has `role` or a stronger one.
    pub fn may(&self, role: Role) -> bool {
        self.roles.iter().any(|r| *r >= role)
    }

    /// Whether the caller may see what `tenant` owns.
    pub fn sees(&self, tenant: &str) -> bool {
        self.may(Role::Admin) || self.tenant == tenant
    }
}

/// The tenant of keys that name none.
pub const DEFAULT_TENANT: &str = "default";

/// Parses `key:role1|role2[:tenant]` entries separated by commas or
/// newlines. Errors name the entry by position, never the key.
pub fn parse_keys(text: &str) -> Result<Vec<ApiKey>, String> {
    let mut keys = Vec::new();
    for (i, entry) in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .enumerate()
    {
        let mut parts = entry.split(':');
        let (Some(key), Some(roles)) = (parts.next(), parts.next()) else {
            return Err(format!(
                "API key entry {} is not key:role1|role2[:tenant]",
                i + 1
            ));
        };
        let tenant = parts.next().unwrap_or(DEFAULT_TENANT);
        if parts.next().is_some() || key.len() < 8 || tenant.is_empty() {
            return Err(format!(
                "API key entry {} is not key:role1|role2[:tenant] (keys have at least 8 characters)",
                i + 1
            ));
        }
        if !aip_ir::is_valid_module_name(tenant) {
            return Err(format!(
                "API key entry {}: tenant {tenant:?} is not a name (lowercase letters, digits and -, starting with a letter)",
                i + 1
            ));
        }
        let roles = roles
            .split('|')
            .map(|r| {
                Role::parse(r).ok_or_else(|| {
                    format!(
                        "API key entry {}: unknown role {r:?} (viewer, builder, admin)",
                        i + 1
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        keys.push(ApiKey {
            digest: Sha256::digest(key.as_bytes()).into(),
            roles,
            tenant: tenant.to_string(),
        });
    }
    Ok(keys)
}

/// The caller a presented key belongs to (comparing digests, so the time
/// taken does not depend on how much of a key matched).
pub fn authenticate(keys: &[ApiKey], presented: &str) -> Option<Caller> {
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    // Every key is compared, each in constant time: how long this takes
    // says nothing about which key, or how much of one, matched.
    let mut found = None;
    for key in keys {
        if constant_time_eq(&key.digest, &digest) && found.is_none() {
            found = Some(key);
        }
    }
    found.map(|k| Caller {
        roles: k.roles.clone(),
        tenant: k.tenant.clone(),
        key_id: hex::encode(&k.digest[..8]),
    })
}

/// Equality of two digests in time independent of where they differ.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_match() {
        let keys = parse_keys(
            "k-viewer-1:viewer:acme, k-admin-01:admin|builder\nk-build-01:builder:globex",
        )
        .expect("parse");
        let viewer = authenticate(&keys, "k-viewer-1").expect("viewer");
        assert_eq!(viewer.tenant, "acme");
        assert!(viewer.may(Role::Viewer) && !viewer.may(Role::Builder));
        let admin = authenticate(&keys, "k-admin-01").expect("admin");
        assert_eq!(admin.tenant, DEFAULT_TENANT);
        assert!(admin.may(Role::Builder) && admin.sees("globex"));
        assert!(authenticate(&keys, "nope").is_none());
    }

    #[test]
    fn bad_entries_are_named_without_the_key() {
        for (text, needle) in [
            ("short:viewer", "at least 8"),
            ("longenough:owner", "unknown role"),
            ("justakey", "not key:role"),
        ] {
            let err = parse_keys(text).expect_err(text);
            assert!(err.contains(needle), "{text}: {err}");
            assert!(
                !err.contains("longenough") && !err.contains("justakey"),
                "{err}"
            );
        }
    }
}
