//! What a tenant may see of the server: job events and errors name files
//! relative to the job (`openapi.yaml`, `build/src/lib.rs`), the signing
//! key by its configured name and the service's folders by a placeholder,
//! never by their path on the server.

use std::path::Path;

/// Path prefixes and what each is shown as, longest first.
#[derive(Debug, Clone, Default)]
pub struct Scrubber {
    replacements: Vec<(String, String)>,
}

impl Scrubber {
    /// A scrubber for one job: its folder, the signing key it uses, the
    /// service's data folder and the compile cache.
    pub fn for_job(
        job_dir: &Path,
        key: Option<(&str, &Path)>,
        data: &Path,
        cache: &Path,
    ) -> Scrubber {
        let mut scrubber = Scrubber::default();
        scrubber.add(job_dir, "");
        if let Some((name, path)) = key {
            scrubber.add(path, &format!("signing key {name:?}"));
        }
        scrubber.add(data, "$DATA");
        scrubber.add(cache, "$CACHE");
        scrubber
            .replacements
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        scrubber
    }

    fn add(&mut self, path: &Path, shown: &str) {
        let text = path.display().to_string();
        let text = text.trim_end_matches('/');
        if text.is_empty() {
            return;
        }
        // A folder's contents are shown relative to it ("" + "/x" -> "x").
        if shown.is_empty() {
            self.replacements.push((format!("{text}/"), String::new()));
        }
        let whole = if shown.is_empty() { "." } else { shown };
        self.replacements
            .push((text.to_string(), whole.to_string()));
        // The same folder through its canonical path (symlinked temp dirs).
        if let Ok(real) = path.canonicalize() {
            let real = real.display().to_string();
            if real != text {
                if shown.is_empty() {
                    self.replacements.push((format!("{real}/"), String::new()));
                }
                self.replacements.push((real, whole.to_string()));
            }
        }
    }

    /// `text` with every known server path replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (path, shown) in &self.replacements {
            if out.contains(path.as_str()) {
                out = out.replace(path.as_str(), shown);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_paths_are_shown_relative_or_by_name() {
        let scrubber = Scrubber::for_job(
            Path::new("/srv/aip/jobs/j1"),
            Some(("default", Path::new("/etc/aip/keys/cosign.key"))),
            Path::new("/srv/aip"),
            Path::new("/var/cache/aip-builder"),
        );
        assert_eq!(
            scrubber.scrub("/srv/aip/jobs/j1/openapi.yaml: line 3"),
            "openapi.yaml: line 3"
        );
        assert_eq!(
            scrubber.scrub("cannot read /etc/aip/keys/cosign.key"),
            "cannot read signing key \"default\""
        );
        assert_eq!(
            scrubber.scrub("/srv/aip/modules/acme/m/1.0.0 and /var/cache/aip-builder/target"),
            "$DATA/modules/acme/m/1.0.0 and $CACHE/target"
        );
        assert_eq!(scrubber.scrub("nothing to hide"), "nothing to hide");
    }
}
