//! Where shared build state lives.

use std::path::PathBuf;

/// The folders builds share.
#[derive(Debug, Clone)]
pub struct CacheDirs {
    /// Root: `$AIP_BUILDER_CACHE`, else `$XDG_CACHE_HOME/aip-builder`, else
    /// `$HOME/.cache/aip-builder`, else a folder under the system temp dir.
    pub root: PathBuf,
}

impl CacheDirs {
    /// The cache folders from the environment.
    pub fn from_env() -> CacheDirs {
        let root = std::env::var_os("AIP_BUILDER_CACHE")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("XDG_CACHE_HOME").map(|p| PathBuf::from(p).join("aip-builder"))
            })
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(|p| PathBuf::from(p).join(".cache").join("aip-builder"))
            })
            .unwrap_or_else(|| std::env::temp_dir().join("aip-builder-cache"));
        CacheDirs { root }
    }

    /// The cargo target dir shared by all adapter builds.
    pub fn target_dir(&self) -> PathBuf {
        self.root.join("adapters-target")
    }

    /// Where build directories are created.
    pub fn builds_dir(&self) -> PathBuf {
        self.root.join("builds")
    }

    /// The lock file serialising builds that share the target dir.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("build.lock")
    }
}
