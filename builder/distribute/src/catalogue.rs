//! What a registry offers: every module it holds, its newest stable
//! version, and the newest stable version signed by a key the reader
//! trusts (what the console's Not Installed and Needs Update chips, and
//! its Install and Update buttons, are made of).

use aip_sign::PublicKey;

use crate::DistributeError;
use crate::client::RegistryClient;
use crate::fetch::{SignatureState, signature_state};
use crate::info::search;
use crate::reference::{ModuleRef, Selector};
use crate::version::tag_version;

/// One module in a registry's catalogue.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CatalogEntry {
    /// `registry/repository`.
    pub repository: String,
    /// Module name (from its manifest).
    pub name: String,
    /// One line about it.
    pub description: String,
    /// Intent names of the newest version.
    pub intents: Vec<String>,
    /// The newest stable version.
    pub newest: String,
    /// The newest stable version whose signature verifies with one of the
    /// trusted keys (what may be installed); `None` when none does.
    pub newest_trusted: Option<String>,
}

/// Every module in `client`'s registry, by name.
pub async fn catalogue(
    client: &RegistryClient,
    trusted: &[PublicKey],
) -> Result<Vec<CatalogEntry>, DistributeError> {
    let mut entries = Vec::new();
    for hit in search(client, "").await? {
        let repo = ModuleRef::parse(&hit.repository)?;
        let newest_trusted = newest_trusted(client, &repo, trusted).await?;
        entries.push(CatalogEntry {
            repository: hit.repository,
            name: hit.name,
            description: hit.description,
            intents: hit.intents,
            newest: hit.version,
            newest_trusted: newest_trusted.map(|v| v.to_string()),
        });
    }
    Ok(entries)
}

/// The newest stable version in `repo` signed by one of `trusted`.
async fn newest_trusted(
    client: &RegistryClient,
    repo: &ModuleRef,
    trusted: &[PublicKey],
) -> Result<Option<semver::Version>, DistributeError> {
    let repo = ModuleRef {
        selector: Selector::Latest,
        ..repo.clone()
    };
    let mut candidates: Vec<(String, semver::Version)> = client
        .tags(&repo)
        .await?
        .into_iter()
        .filter_map(|t| tag_version(&t).filter(|v| v.pre.is_empty()).map(|v| (t, v)))
        .collect();
    candidates.sort_by(|a, b| b.1.cmp(&a.1));
    for (tag, version) in candidates {
        let Some((_, digest)) = client.manifest(&repo.at_tag(&tag)).await? else {
            continue;
        };
        for key in trusted {
            if signature_state(client, &repo, &digest, Some(key)).await? == SignatureState::Valid {
                return Ok(Some(version));
            }
        }
    }
    Ok(None)
}
