//! The reference root: the one folder every external `$ref` of a spec must
//! resolve inside.
//!
//! Given explicitly (`--ref-root`, or a build service job's own folder), or
//! else found from the spec's path: the top of the repository that holds it
//! (the nearest enclosing folder with a `.git`), else the current directory
//! when it holds the spec, else the spec's own folder.

use std::path::{Component, Path, PathBuf};

use crate::IngestError;

/// A folder external references are confined to, with the name messages
/// give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefRoot {
    /// The folder.
    pub dir: PathBuf,
    /// How messages name it (the user's spelling, or a front end's words).
    pub label: String,
}

impl RefRoot {
    /// A root named as the user wrote it.
    pub fn new(dir: impl Into<PathBuf>) -> RefRoot {
        let dir = dir.into();
        RefRoot {
            label: dir.display().to_string(),
            dir,
        }
    }

    /// A root named by `label` in messages (a build service names the
    /// job's upload, not its data folder).
    pub fn labelled(dir: impl Into<PathBuf>, label: impl Into<String>) -> RefRoot {
        RefRoot {
            dir: dir.into(),
            label: label.into(),
        }
    }
}

/// The root folder resolved for one spec: canonical, and whether the user
/// chose it (then documents are named relative to it).
pub struct ResolvedRoot {
    /// Canonical folder.
    pub dir: PathBuf,
    /// Name in messages.
    pub label: String,
    /// Given explicitly rather than found.
    pub explicit: bool,
}

/// Resolves the reference root of the spec at `spec` (canonical).
pub fn resolve(spec: &Path, explicit: Option<&RefRoot>) -> Result<ResolvedRoot, IngestError> {
    let spec_dir = spec.parent().unwrap_or(spec).to_path_buf();
    if let Some(root) = explicit {
        let dir = root
            .dir
            .canonicalize()
            .map_err(|source| IngestError::Read {
                location: root.label.clone(),
                source,
            })?;
        if !spec.starts_with(&dir) {
            return Err(IngestError::SpecOutsideRefRoot {
                spec: spec.display().to_string(),
                root: root.label.clone(),
            });
        }
        return Ok(ResolvedRoot {
            dir,
            label: root.label.clone(),
            explicit: true,
        });
    }
    let found = repository_top(&spec_dir)
        .or_else(|| {
            std::env::current_dir()
                .ok()
                .and_then(|cwd| cwd.canonicalize().ok())
                .filter(|cwd| spec.starts_with(cwd))
        })
        .unwrap_or(spec_dir);
    Ok(ResolvedRoot {
        label: found.display().to_string(),
        dir: found,
        explicit: false,
    })
}

/// The nearest folder at or above `dir` holding a `.git` (a folder, or the
/// file a worktree or submodule has).
fn repository_top(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

/// `path` with `.` and `..` resolved lexically, without touching the file
/// system; `None` when `..` climbs above the start of an absolute path.
pub fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_lexically() {
        assert_eq!(
            normalize(Path::new("/r/spec/../common/./E.json")),
            Some(PathBuf::from("/r/common/E.json"))
        );
        assert_eq!(
            normalize(Path::new("/r/x/../../etc/passwd")),
            Some(PathBuf::from("/etc/passwd"))
        );
        // Above the top: no path at all (and so outside any root).
        assert_eq!(normalize(Path::new("/r/../../etc/passwd")), None);
        assert_eq!(normalize(Path::new("a/../..")), None);
    }

    #[test]
    fn finds_the_repository_top() {
        let tmp = std::env::temp_dir().join(format!("aip-root-test-{}", std::process::id()));
        let deep = tmp.join("repo/spec/v1");
        std::fs::create_dir_all(&deep).ok();
        std::fs::create_dir_all(tmp.join("repo/.git")).ok();
        assert_eq!(repository_top(&deep), Some(tmp.join("repo")));
        std::fs::remove_dir_all(&tmp).ok();
    }
}
