//! Multi-file specs through the build service's API (a JSON map of files,
//! tar.gz and zip archives), hostile archives refused before anything is
//! written, repairs reported in job events and the manifest, and strict
//! mode refusing them with a hint in the API's own terms.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use serde_json::{Value, json};

use crate::service_harness::*;
use crate::support::{repo, snapshot};

const CAMARA: &str = "specs/openapi/camara/code";
const ENTRY: &str = "API_definitions/qos-profiles.yaml";

/// The CAMARA QoS-profiles API as the repository lays it out: the entry
/// refers to `../common/CAMARA_common.yaml`.
fn camara_files() -> Vec<(String, Vec<u8>)> {
    [
        "API_definitions/qos-profiles.yaml",
        "common/CAMARA_common.yaml",
    ]
    .iter()
    .map(|rel| {
        let bytes = std::fs::read(repo(&format!("{CAMARA}/{rel}"))).expect("spec file");
        (rel.to_string(), bytes)
    })
    .collect()
}

fn tar_gz(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, bytes.as_slice())
            .expect("tar entry");
    }
    let tar = builder.into_inner().expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip");
    gz.finish().expect("gzip")
}

fn zip_of(entries: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let method = if deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, bytes) in entries {
            zip.start_file(*name, options).expect("zip entry");
            zip.write_all(bytes).expect("zip data");
        }
        zip.finish().expect("zip");
    }
    buf.into_inner()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn submit(service: &BuilderService, body: &Value) -> (u16, Value) {
    let (status, _, answer) = call(
        "POST",
        &service.url("/v1/builder/adapter"),
        Some("builder-key-1"),
        Some(&serde_json::to_vec(body).expect("json")),
        &[],
    );
    (status, answer)
}

fn cancel(service: &BuilderService, id: &str) {
    call(
        "POST",
        &service.url(&format!("/v1/builder/jobs/{id}/cancel")),
        Some("builder-key-1"),
        None,
        &[],
    );
}

/// Every file under the service's data folder except its database.
fn data_files(data: &Path) -> Vec<String> {
    snapshot(data)
        .into_keys()
        .filter(|p| !p.starts_with("jobs.db"))
        .collect()
}

#[test]
fn multi_file_specs_arrive_as_a_map_or_an_archive_and_resolve_inside_the_upload() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start(data.path());
    let files = camara_files();
    let map: serde_json::Map<String, Value> = files
        .iter()
        .map(|(name, bytes)| {
            (
                name.clone(),
                Value::String(String::from_utf8_lossy(bytes).into_owned()),
            )
        })
        .collect();
    // As a map of files: builds, with the `../common` refs resolved.
    let (status, job) = submit(
        &service,
        &json!({"name": "camara-qos-profiles", "protocol": "rest", "files": map, "entry": ENTRY}),
    );
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().expect("id").to_string();
    let events = follow(&service, &id, "builder-key-1");
    assert_eq!(
        states(&events),
        ["queued", "running", "succeeded"],
        "{events:?}\n{}",
        service.log()
    );
    let job = job_of(&service, &id);
    assert_eq!(job["module"]["intents"], json!(2), "{job}");

    // As tar.gz and as zip: accepted (then cancelled; the map build above
    // is the same spec).
    let zip_entries: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    for archive in [tar_gz(&files), zip_of(&zip_entries, true)] {
        let (status, job) = submit(
            &service,
            &json!({"name": "camara-archive", "protocol": "rest", "archive": b64(&archive), "entry": ENTRY}),
        );
        assert_eq!(status, 202, "{job}");
        cancel(&service, job["id"].as_str().expect("id"));
    }

    // The root is the upload: a ref out of it is refused, naming neither
    // the service's folders nor a CLI flag.
    let mut escaping = files.clone();
    escaping[0].1 = String::from_utf8_lossy(&escaping[0].1)
        .replace(
            "../common/CAMARA_common.yaml",
            "../../common/CAMARA_common.yaml",
        )
        .into_bytes();
    let map: serde_json::Map<String, Value> = escaping
        .iter()
        .map(|(n, b)| {
            (
                n.clone(),
                Value::String(String::from_utf8_lossy(b).into_owned()),
            )
        })
        .collect();
    let (status, problem) = submit(
        &service,
        &json!({"name": "camara-escape", "protocol": "rest", "files": map, "entry": ENTRY}),
    );
    assert_eq!(status, 422, "{problem}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("leaves the reference root the uploaded spec files"),
        "{problem}"
    );
    assert!(
        !detail.contains(&data.path().display().to_string()),
        "{problem}"
    );
    let hint = problem["hint"].as_str().unwrap_or_default();
    assert!(
        hint.contains("`files`") && !hint.contains("--"),
        "{problem}"
    );
}

#[test]
fn hostile_archives_are_refused_naming_the_entry_and_nothing_is_written() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start(data.path());
    let spec = b"openapi: 3.0.0\n".as_slice();
    let before = data_files(data.path());

    let mut symlink = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    symlink
        .append_link(&mut header, "spec.yaml", "/etc/passwd")
        .expect("symlink entry");
    let symlink = symlink.into_inner().expect("tar");

    let mut slip = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(spec.len() as u64);
    header.set_mode(0o644);
    // The tar crate refuses to write `..`, as a hostile client would not:
    // write the name into the header's bytes.
    header.as_old_mut().name[..13].copy_from_slice(b"../evil.yaml\0");
    header.set_cksum();
    slip.append(&header, spec).expect("entry");
    let slip = slip.into_inner().expect("tar");

    let many: Vec<(String, Vec<u8>)> = (0..10_000)
        .map(|i| (format!("f{i}.yaml"), b"x".to_vec()))
        .collect();
    let many_refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let zeros = vec![0u8; 80 << 20];
    let cases: Vec<(&str, Vec<u8>, &str, u16)> = vec![
        (
            "zip slip",
            zip_of(&[("../evil.yaml", spec)], false),
            "\"../evil.yaml\" climbs out",
            422,
        ),
        ("tar slip", slip, "\"../evil.yaml\" climbs out", 422),
        (
            "absolute",
            zip_of(&[("/etc/evil.yaml", spec)], false),
            "\"/etc/evil.yaml\" is an absolute path",
            422,
        ),
        (
            "symlink",
            symlink,
            "\"spec.yaml\" is not a regular file",
            422,
        ),
        (
            "10,000 entries",
            zip_of(&many_refs, false),
            "entry \"f1000.yaml\" is one more than the 1000 files",
            422,
        ),
        (
            "zip bomb",
            zip_of(&[("spec.yaml", &zeros)], true),
            "at entry \"spec.yaml\" the files add up to more than 67108864 bytes",
            413,
        ),
        (
            "not an archive",
            b"hello".to_vec(),
            "not a zip, tar or tar.gz",
            422,
        ),
    ];
    for (case, archive, expected, status_expected) in cases {
        let (status, problem) = submit(
            &service,
            &json!({"name": "hostile", "protocol": "rest", "archive": b64(&archive), "entry": "spec.yaml"}),
        );
        assert_eq!(status, status_expected, "{case}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(expected),
            "{case}: {problem}"
        );
    }
    // The same checks hold for the map of files.
    let (status, problem) = submit(
        &service,
        &json!({"name": "hostile", "protocol": "rest", "files": {"../evil.yaml": "x"}, "entry": "../evil.yaml"}),
    );
    assert_eq!(status, 422, "{problem}");
    assert_eq!(data_files(data.path()), before, "nothing written");
    assert!(!data.path().join("../evil.yaml").exists());
}

#[test]
fn repairs_reach_job_events_and_strict_requests_are_refused_in_api_terms() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start(data.path());
    // A dangling ref inside a schema the operations use.
    let spec = std::fs::read_to_string(repo("tests/fixtures/specs/e2e-vendor.yaml"))
        .expect("spec")
        .replace("#/components/schemas/", "#/components/schemas/Missing");
    let (status, problem) = submit(
        &service,
        &json!({"name": "strict-one", "protocol": "rest", "spec": spec, "strict": true}),
    );
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        problem["type"],
        json!("https://aip.dev/problems/invalid-spec")
    );
    let hint = problem["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("\"strict\": true"), "{problem}");
    assert!(
        !hint.contains("--strict")
            && !problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("--"),
        "no CLI flags in the API: {problem}"
    );

    let (status, job) = submit(
        &service,
        &json!({"name": "lenient-one", "protocol": "rest", "spec": spec}),
    );
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().expect("id").to_string();
    let events = follow(&service, &id, "builder-key-1");
    assert_eq!(
        states(&events).last().map(String::as_str),
        Some("succeeded"),
        "{events:?}"
    );
    let warnings: Vec<&Value> = events
        .iter()
        .filter(|(kind, _)| kind == "warning")
        .map(|(_, data)| &data["data"])
        .collect();
    assert!(!warnings.is_empty(), "{events:?}");
    assert_eq!(warnings[0]["kind"], json!("dangling-ref"), "{warnings:?}");
    assert_eq!(warnings[0]["file"], json!("spec.yaml"), "{warnings:?}");
    let (status, _, manifest) = get_bytes(
        &service,
        "/v1/modules/lenient-one/versions/0.1.0/manifest",
        "builder-key-1",
    );
    assert_eq!(status, 200);
    let manifest: Value = serde_yaml_ng::from_slice(&manifest).expect("manifest yaml");
    assert_eq!(
        manifest["metadata"]["source"]["repairs"][0]["kind"],
        json!("dangling-ref"),
        "{manifest}"
    );
}
