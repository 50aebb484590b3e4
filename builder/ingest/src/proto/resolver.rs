//! Where `import`s are looked up: the user's proto roots (never outside
//! them), then the `google/api` annotations shipped with aip-builder, then
//! protox's well-known types.

use std::path::{Component, Path, PathBuf};

use protox::file::{File, FileResolver};

/// The user's include roots, canonicalised.
pub struct ConfinedRoots {
    roots: Vec<PathBuf>,
}

impl ConfinedRoots {
    /// Roots that must exist.
    pub fn new(roots: &[PathBuf]) -> std::io::Result<ConfinedRoots> {
        let roots = roots
            .iter()
            .map(|r| r.canonicalize())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ConfinedRoots { roots })
    }

    /// The root-relative name of `path`, if it is inside a root.
    pub fn name_of(&self, path: &Path) -> Option<String> {
        let path = path.canonicalize().ok()?;
        self.roots.iter().find_map(|root| {
            let rel = path.strip_prefix(root).ok()?;
            let parts: Vec<&str> = rel
                .components()
                .map(|c| c.as_os_str().to_str())
                .collect::<Option<_>>()?;
            Some(parts.join("/"))
        })
    }
}

impl FileResolver for ConfinedRoots {
    fn resolve_path(&self, path: &Path) -> Option<String> {
        self.name_of(path)
    }

    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        let relative = Path::new(name);
        if relative.is_absolute()
            || name.contains('\\')
            || relative
                .components()
                .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(protox::Error::new(format!(
                "import \"{name}\" escapes the proto roots; imports are relative to --proto-path roots and may not contain '..'"
            )));
        }
        for root in &self.roots {
            let candidate = root.join(relative);
            if let Ok(canonical) = candidate.canonicalize() {
                if !canonical.starts_with(root) {
                    return Err(protox::Error::new(format!(
                        "import \"{name}\" resolves outside the proto root {} (through a symlink)",
                        root.display()
                    )));
                }
                return File::open(name, &canonical);
            }
        }
        Err(protox::Error::file_not_found(name))
    }
}

/// The common `google/api` and `google/rpc` protos, available without the
/// user supplying them (Apache-2.0, from googleapis via
/// googleapis-common-protos 1.76.0).
pub struct EmbeddedGoogleApis;

const EMBEDDED: &[(&str, &str)] = &[
    (
        "google/api/annotations.proto",
        include_str!("../../proto/google/api/annotations.proto"),
    ),
    (
        "google/api/client.proto",
        include_str!("../../proto/google/api/client.proto"),
    ),
    (
        "google/api/field_behavior.proto",
        include_str!("../../proto/google/api/field_behavior.proto"),
    ),
    (
        "google/api/http.proto",
        include_str!("../../proto/google/api/http.proto"),
    ),
    (
        "google/api/launch_stage.proto",
        include_str!("../../proto/google/api/launch_stage.proto"),
    ),
    (
        "google/api/resource.proto",
        include_str!("../../proto/google/api/resource.proto"),
    ),
    (
        "google/rpc/status.proto",
        include_str!("../../proto/google/rpc/status.proto"),
    ),
];

impl FileResolver for EmbeddedGoogleApis {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match EMBEDDED.iter().find(|(n, _)| *n == name) {
            Some((n, source)) => File::from_source(n, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}
