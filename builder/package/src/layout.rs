//! OCI image layouts: built in memory, written in one go, read back with
//! every blob's digest checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::PackageError;
use crate::oci::{
    Descriptor, INDEX_MEDIA_TYPE, ImageIndex, ImageManifest, MANIFEST_MEDIA_TYPE, Platform,
    REF_NAME, sha256_digest,
};

/// An image layout under construction.
#[derive(Debug, Clone, Default)]
pub struct LayoutBuilder {
    blobs: BTreeMap<String, Vec<u8>>,
    index: Vec<Descriptor>,
}

impl LayoutBuilder {
    /// An empty layout.
    pub fn new() -> LayoutBuilder {
        LayoutBuilder::default()
    }

    /// Adds a blob and returns its descriptor.
    pub fn add_blob(&mut self, media_type: &str, bytes: Vec<u8>) -> Descriptor {
        let desc = Descriptor::of(media_type, &bytes);
        self.blobs.insert(desc.digest.clone(), bytes);
        desc
    }

    /// Adds a manifest blob and lists it in `index.json`, tagged `tag` if given.
    pub fn add_manifest(&mut self, manifest: &ImageManifest, tag: Option<&str>) -> Descriptor {
        self.add_platform_manifest(manifest, tag, None)
    }

    /// Like [`LayoutBuilder::add_manifest`], with the platform the image
    /// runs on recorded in its `index.json` entry.
    pub fn add_platform_manifest(
        &mut self,
        manifest: &ImageManifest,
        tag: Option<&str>,
        platform: Option<Platform>,
    ) -> Descriptor {
        let mut desc = self.add_blob(MANIFEST_MEDIA_TYPE, manifest.to_bytes());
        desc.artifact_type = manifest.artifact_type.clone();
        let mut entry = desc.clone();
        entry.platform = platform;
        if let Some(tag) = tag {
            entry
                .annotations
                .insert(REF_NAME.to_string(), tag.to_string());
        }
        self.index.push(entry);
        desc
    }

    /// Adds a manifest exactly as fetched (`bytes` keep their digest) and
    /// lists it in `index.json`, tagged `tag` if given.
    pub fn add_raw_manifest(
        &mut self,
        media_type: &str,
        bytes: Vec<u8>,
        tag: Option<&str>,
    ) -> Result<Descriptor, PackageError> {
        let manifest: ImageManifest = serde_json::from_slice(&bytes).map_err(|e| {
            PackageError::Invalid(format!("manifest is not an OCI image manifest: {e}"))
        })?;
        let mut desc = self.add_blob(media_type, bytes);
        desc.artifact_type = manifest.artifact_type.clone();
        let mut entry = desc.clone();
        if let Some(tag) = tag {
            entry
                .annotations
                .insert(REF_NAME.to_string(), tag.to_string());
        }
        self.index.push(entry);
        Ok(desc)
    }

    /// A blob added earlier.
    pub fn get_blob(&self, digest: &str) -> Option<&[u8]> {
        self.blobs.get(digest).map(Vec::as_slice)
    }

    /// Every blob, by digest.
    pub fn blobs(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.blobs.iter().map(|(d, b)| (d.as_str(), b.as_slice()))
    }

    /// The `index.json` bytes.
    pub fn index_bytes(&self) -> Vec<u8> {
        let index = ImageIndex {
            schema_version: 2,
            media_type: INDEX_MEDIA_TYPE.to_string(),
            manifests: self.index.clone(),
        };
        serde_json::to_vec_pretty(&index).unwrap_or_default()
    }

    /// Writes the layout into `dir` (created; must not hold another layout).
    pub fn write(&self, dir: &Path) -> Result<(), PackageError> {
        let blobs = dir.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs).map_err(|e| PackageError::io("create", &blobs, e))?;
        for (digest, bytes) in &self.blobs {
            let path = blobs.join(digest.trim_start_matches("sha256:"));
            std::fs::write(&path, bytes).map_err(|e| PackageError::io("write", &path, e))?;
        }
        let layout = dir.join("oci-layout");
        std::fs::write(&layout, b"{\"imageLayoutVersion\":\"1.0.0\"}")
            .map_err(|e| PackageError::io("write", &layout, e))?;
        let index = dir.join("index.json");
        std::fs::write(&index, self.index_bytes())
            .map_err(|e| PackageError::io("write", &index, e))?;
        Ok(())
    }
}

/// Read access to a layout, on disk ([`Layout`]) or in memory
/// ([`LayoutBuilder`]); verification runs on either.
pub trait ReadLayout {
    /// The `index.json` entries.
    fn entries(&self) -> &[Descriptor];

    /// A blob's bytes, refused unless they hash to `digest`.
    fn blob(&self, digest: &str) -> Result<Vec<u8>, PackageError>;

    /// A manifest by digest.
    fn manifest(&self, digest: &str) -> Result<ImageManifest, PackageError> {
        let bytes = self.blob(digest)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| PackageError::Invalid(format!("manifest {digest}: {e}")))
    }

    /// The index entry tagged `tag`.
    fn tagged(&self, tag: &str) -> Option<&Descriptor> {
        self.entries()
            .iter()
            .find(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(tag))
    }

    /// Index entries whose manifest names `subject` as its subject.
    fn referrers(&self, subject: &str) -> Result<Vec<(Descriptor, ImageManifest)>, PackageError> {
        let mut out = Vec::new();
        for desc in self.entries() {
            if desc.media_type != MANIFEST_MEDIA_TYPE {
                continue;
            }
            let manifest = self.manifest(&desc.digest)?;
            if manifest.subject.as_ref().map(|s| s.digest.as_str()) == Some(subject) {
                out.push((desc.clone(), manifest));
            }
        }
        Ok(out)
    }
}

impl ReadLayout for LayoutBuilder {
    fn entries(&self) -> &[Descriptor] {
        &self.index
    }

    fn blob(&self, digest: &str) -> Result<Vec<u8>, PackageError> {
        let bytes = self
            .blobs
            .get(digest)
            .ok_or_else(|| PackageError::Invalid(format!("the layout has no blob {digest}")))?;
        check_digest(&format!("blob {digest}"), digest, bytes)?;
        Ok(bytes.clone())
    }
}

fn check_digest(what: &str, digest: &str, bytes: &[u8]) -> Result<(), PackageError> {
    let actual = sha256_digest(bytes);
    if actual != digest {
        return Err(PackageError::DigestMismatch {
            what: what.to_string(),
            expected: digest.to_string(),
            actual,
        });
    }
    Ok(())
}

/// An image layout on disk, opened for reading.
#[derive(Debug, Clone)]
pub struct Layout {
    dir: PathBuf,
    /// The parsed `index.json`.
    pub index: ImageIndex,
}

impl Layout {
    /// Opens the layout in `dir`.
    pub fn open(dir: &Path) -> Result<Layout, PackageError> {
        let marker = dir.join("oci-layout");
        let marker_text =
            std::fs::read_to_string(&marker).map_err(|e| PackageError::io("read", &marker, e))?;
        if !marker_text.contains("imageLayoutVersion") {
            return Err(PackageError::Invalid(format!(
                "{} is not an OCI layout marker",
                marker.display()
            )));
        }
        let index_path = dir.join("index.json");
        let bytes =
            std::fs::read(&index_path).map_err(|e| PackageError::io("read", &index_path, e))?;
        let index: ImageIndex = serde_json::from_slice(&bytes)
            .map_err(|e| PackageError::Invalid(format!("{}: {e}", index_path.display())))?;
        Ok(Layout {
            dir: dir.to_path_buf(),
            index,
        })
    }

    /// The layout's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl ReadLayout for Layout {
    fn entries(&self) -> &[Descriptor] {
        &self.index.manifests
    }

    fn blob(&self, digest: &str) -> Result<Vec<u8>, PackageError> {
        let hex = digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| PackageError::Invalid(format!("unsupported digest {digest:?}")))?;
        let path = self.dir.join("blobs").join("sha256").join(hex);
        let bytes = std::fs::read(&path).map_err(|e| PackageError::io("read", &path, e))?;
        check_digest(&format!("blob {}", path.display()), digest, &bytes)?;
        Ok(bytes)
    }
}
