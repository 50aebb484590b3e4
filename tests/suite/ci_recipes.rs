//! docs/ci.md's recipes, run verbatim: every `run:` of the GitHub workflow
//! and every `script:` line of the GitLab jobs, in a local git repository
//! of specs with a bare "origin" and a real registry (docker-registry).
//! Skipped, by name: installing aip-builder (the suite's own is on PATH)
//! and posting to GitHub's or GitLab's API (nothing to post to here).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;

use crate::support::{PASSWORD, Steps, aip, repo, text};

/// Steps the test does not run, and why.
fn skipped(name: &str, script: &str) -> Option<&'static str> {
    if name == "Install aip-builder" || script.starts_with("cargo install") {
        Some("the suite's aip-builder is on PATH")
    } else if script.contains("gh pr comment") || script.contains("curl --fail -X POST") {
        Some("posts to GitHub's or GitLab's API")
    } else {
        None
    }
}

/// The YAML block that follows `heading` in docs/ci.md.
fn recipe(heading: &str) -> Value {
    let doc = std::fs::read_to_string(repo("docs/ci.md")).expect("docs/ci.md");
    let after = doc
        .split_once(heading)
        .map(|(_, rest)| rest)
        .expect("the heading");
    let block = after
        .split_once("```yaml\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(yaml, _)| yaml)
        .expect("a yaml block");
    serde_yaml_ng::from_str(block).expect("the recipe parses")
}

/// The shell steps of a GitHub job: (name, script).
fn github_steps(workflow: &Value, job: &str) -> Vec<(String, String)> {
    workflow["jobs"][job]["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .filter_map(|s| {
            let script = s["run"].as_str()?;
            Some((
                s["name"].as_str().unwrap_or(script).to_string(),
                script.to_string(),
            ))
        })
        .collect()
}

/// The `script:` lines of a GitLab job.
fn gitlab_script(pipeline: &Value, job: &str) -> Vec<(String, String)> {
    pipeline[job]["script"]
        .as_sequence()
        .expect("script")
        .iter()
        .map(|l| {
            // A line YAML reads as anything but a string (an unquoted
            // `: `) is a recipe bug GitLab would refuse too.
            let l = l
                .as_str()
                .unwrap_or_else(|| panic!("{job}: a script line is not a string: {l:?}"));
            (l.to_string(), l.to_string())
        })
        .collect()
}

struct Checkout {
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Checkout {
    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `steps` as CI would (bash -eo pipefail); the exit code of the
    /// first that fails, else 0.
    fn run(&self, steps: &[(String, String)]) -> i32 {
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_aip-builder"));
        let path = format!(
            "{}:{}",
            bin.parent().expect("a folder").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        for (name, script) in steps {
            if let Some(why) = skipped(name, script) {
                eprintln!("skipped {name:?}: {why}");
                continue;
            }
            let out = Command::new("bash")
                .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
                .current_dir(&self.dir)
                .env("PATH", &path)
                .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .output()
                .expect("bash runs");
            eprintln!("step {name:?}: {}", text(&out));
            if !out.status.success() {
                return out.status.code().unwrap_or(-1);
            }
        }
        0
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.dir.join(file);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.matches(from).count(), 1, "{from:?} in {file}");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
    }
}

fn lock_version(dir: &Path) -> String {
    let lock = std::fs::read_to_string(dir.join("aip-builder.lock")).expect("lock");
    lock.lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .map(|v| v.trim_end_matches('"').to_string())
        .expect("a version")
}

#[test]
fn the_ci_recipes_gate_pull_requests_and_release_from_main() {
    let registry = crate::registry_server::Registry::start();
    let host = registry.host();
    let root = tempfile::tempdir().expect("tempdir");
    let keys = root.path().join("keys");
    std::fs::create_dir(&keys).expect("mkdir");
    let made = aip(&keys, &["keygen", "--out", "."]);
    assert!(made.status.success(), "{}", text(&made));
    let origin = root.path().join("origin.git");
    let out = Command::new("git")
        .args(["init", "--bare", "-b", "main"])
        .arg(&origin)
        .output()
        .expect("git");
    assert!(out.status.success(), "{}", text(&out));
    let dir = root.path().join("specs");
    let out = Command::new("git")
        .args(["clone"])
        .arg(&origin)
        .arg(&dir)
        .output()
        .expect("git");
    assert!(out.status.success(), "{}", text(&out));
    let checkout = Checkout {
        dir: dir.clone(),
        env: vec![
            (
                "AIP_SIGNING_KEY".into(),
                std::fs::read_to_string(keys.join("cosign.key")).expect("key"),
            ),
            ("COSIGN_PASSWORD".into(), PASSWORD.into()),
            (
                "CI_REPOSITORY_PUSH_URL".into(),
                origin.display().to_string(),
            ),
            ("CI_DEFAULT_BRANCH".into(), "main".into()),
            ("GIT_AUTHOR_NAME".into(), "test".into()),
            ("GIT_AUTHOR_EMAIL".into(), "test@example.com".into()),
            ("GIT_COMMITTER_NAME".into(), "test".into()),
            ("GIT_COMMITTER_EMAIL".into(), "test@example.com".into()),
        ],
    };
    std::fs::create_dir(dir.join("specs")).expect("mkdir");
    std::fs::write(dir.join("specs/pets.yaml"), crate::support::PETS_SPEC).expect("write");
    std::fs::write(
        dir.join("aip-builder.toml"),
        format!("[[adapter]]\nname = \"pets\"\nspec = \"specs/pets.yaml\"\nregistry = \"{host}/team/pets\"\n"),
    )
    .expect("write");
    std::fs::write(dir.join(".gitignore"), "modules/\ndrift.md\n").expect("write");
    checkout.git(&["add", "-A"]);
    checkout.git(&[
        "-c",
        "user.name=test",
        "-c",
        "user.email=test@example.com",
        "commit",
        "-m",
        "pets spec",
    ]);
    checkout.git(&["push", "origin", "HEAD:main"]);
    let github = recipe("## GitHub Actions");
    let gitlab = recipe("## GitLab CI");

    let mut steps =
        Steps::start("GitHub, main: the first release builds, tests, pushes and commits the lock");
    assert_eq!(checkout.run(&github_steps(&github, "release")), 0);
    assert_eq!(lock_version(&dir), "0.1.0");
    let pushed = aip(
        &dir,
        &[
            "verify",
            &format!("{host}/team/pets:0.1.0"),
            "--key",
            &keys.join("cosign.pub").display().to_string(),
        ],
    );
    assert!(pushed.status.success(), "{}", text(&pushed));
    let log = checkout.git(&["log", "--format=%s", "origin/main"]);
    assert!(
        log.starts_with("regen: adapters rebuilt from their specs [skip ci]"),
        "{log}"
    );

    steps.enter("GitHub, pull request: a compatible spec change passes the gate and the comment says what changed");
    checkout.git(&["checkout", "-b", "vendor-update"]);
    checkout.edit("specs/pets.yaml", "required: true, schema: {type: integer}}\n", "required: true, schema: {type: integer}}\n        - {name: fields, in: query, schema: {type: string}}\n");
    checkout.git(&["commit", "-am", "pets: vendor update"]);
    assert_eq!(checkout.run(&github_steps(&github, "drift")), 0);
    let comment = std::fs::read_to_string(dir.join("drift.md")).expect("drift.md");
    assert!(comment.contains("### pets 0.1.0"), "{comment}");
    assert!(comment.contains("a minor bump"), "{comment}");
    assert!(
        comment.contains("| non-breaking | `input-property-added` | input fields: added |"),
        "{comment}"
    );

    steps.enter("GitHub, pull request: a hand-edited generated file fails the gate (exit 3)");
    let lib = dir.join("generated/pets/src/lib.rs");
    let original = std::fs::read_to_string(&lib).expect("read");
    std::fs::write(&lib, format!("{original}// edited\n")).expect("write");
    assert_eq!(checkout.run(&github_steps(&github, "drift")), 3);
    // The spec changed too, so the files cannot be named against the lock.
    let comment = std::fs::read_to_string(dir.join("drift.md")).expect("drift.md");
    assert!(
        comment.contains("the generated sources were edited by hand"),
        "{comment}"
    );
    std::fs::write(&lib, original).expect("write");

    steps.enter("GitHub, main after the merge: 0.2.0 built, pushed and committed");
    checkout.git(&["checkout", "main"]);
    checkout.git(&["merge", "--ff-only", "vendor-update"]);
    assert_eq!(checkout.run(&github_steps(&github, "release")), 0);
    assert_eq!(lock_version(&dir), "0.2.0");
    let pushed = aip(
        &dir,
        &[
            "verify",
            &format!("{host}/team/pets:0.2.0"),
            "--key",
            &keys.join("cosign.pub").display().to_string(),
        ],
    );
    assert!(pushed.status.success(), "{}", text(&pushed));
    let changelog = checkout.git(&["show", "origin/main:changelog/pets.md"]);
    assert!(changelog.contains("## 0.2.0"), "{changelog}");

    steps.enter("GitLab: the merge-request gate and the release job, the same way");
    checkout.edit(
        "specs/pets.yaml",
        "name: {type: string}",
        "name: {type: integer}",
    );
    checkout.git(&["commit", "-am", "pets: a breaking vendor update"]);
    assert_eq!(checkout.run(&gitlab_script(&gitlab, "adapters:drift")), 0);
    let comment = std::fs::read_to_string(dir.join("drift.md")).expect("drift.md");
    assert!(comment.contains("a major bump"), "{comment}");
    assert_eq!(checkout.run(&gitlab_script(&gitlab, "adapters:release")), 0);
    assert_eq!(lock_version(&dir), "1.0.0");
    checkout.git(&["fetch", "origin"]);
    let log = checkout.git(&["log", "--format=%s", "origin/main"]);
    assert_eq!(
        log.lines().filter(|l| l.starts_with("regen:")).count(),
        3,
        "{log}"
    );
}
