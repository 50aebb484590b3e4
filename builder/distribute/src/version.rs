//! Module versions as registry tags, and picking one for a selector.

use semver::Version;

use crate::reference::VersionReq;

/// The tag a version is pushed under. Tags cannot hold `+`, so build
/// metadata is written with `_` (as Helm does).
pub fn version_tag(version: &Version) -> String {
    version.to_string().replace('+', "_")
}

/// The version a tag names, if it names one.
pub fn tag_version(tag: &str) -> Option<Version> {
    Version::parse(&tag.replace('_', "+")).ok()
}

/// The newest version among `tags` that `req` admits: stable versions
/// only, unless `req` names a pre-release exactly. `None` when no
/// version is admitted (`None` req: any stable version).
pub fn pick<'a>(
    tags: impl IntoIterator<Item = &'a str>,
    req: Option<&VersionReq>,
) -> Option<(String, Version)> {
    tags.into_iter()
        .filter_map(|tag| tag_version(tag).map(|v| (tag.to_string(), v)))
        .filter(|(_, v)| match req {
            None => v.pre.is_empty(),
            Some(VersionReq::Major(major)) => v.pre.is_empty() && v.major == *major,
            Some(VersionReq::Minor(major, minor)) => {
                v.pre.is_empty() && v.major == *major && v.minor == *minor
            }
            Some(VersionReq::Exact(exact)) => v == exact,
        })
        .max_by(|(_, a), (_, b)| a.cmp(b))
}

/// The semver versions among `tags`, newest first.
pub fn versions<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<Version> {
    let mut out: Vec<Version> = tags.into_iter().filter_map(tag_version).collect();
    out.sort_by(|a, b| b.cmp(a));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAGS: &[&str] = &[
        "latest",
        "0.9.0",
        "1.0.0",
        "1.1.0",
        "1.1.2",
        "1.2.0-rc.1",
        "2.0.0-beta.1",
        "1.1.3_build.5",
        "sha256-abc.sig",
    ];

    fn picked(req: Option<&VersionReq>) -> Option<String> {
        pick(TAGS.iter().copied(), req).map(|(tag, _)| tag)
    }

    #[test]
    fn newest_stable_by_default_and_prefixes_narrow() {
        assert_eq!(picked(None).as_deref(), Some("1.1.3_build.5"));
        assert_eq!(
            picked(Some(&VersionReq::Major(0))).as_deref(),
            Some("0.9.0")
        );
        assert_eq!(
            picked(Some(&VersionReq::Minor(1, 0))).as_deref(),
            Some("1.0.0")
        );
        assert_eq!(
            picked(Some(&VersionReq::Major(2))),
            None,
            "pre-releases only when asked for"
        );
        let rc = Version::parse("1.2.0-rc.1").expect("v");
        assert_eq!(
            picked(Some(&VersionReq::Exact(rc))).as_deref(),
            Some("1.2.0-rc.1")
        );
        assert_eq!(
            picked(Some(&VersionReq::Exact(Version::new(3, 0, 0)))),
            None
        );
    }

    #[test]
    fn build_metadata_round_trips_through_tags() {
        let v = Version::parse("1.2.3+git.abc").expect("v");
        assert_eq!(version_tag(&v), "1.2.3_git.abc");
        assert_eq!(tag_version("1.2.3_git.abc"), Some(v));
        assert_eq!(
            versions(TAGS.iter().copied())
                .first()
                .map(ToString::to_string)
                .as_deref(),
            Some("2.0.0-beta.1")
        );
    }
}
