//! The resolved job: everything a build needs, decided once when the job
//! is accepted (every default made explicit), stored with the job and
//! handed to whoever builds it, then turned into the pipeline's
//! [`BuildRequest`] in one place. As cargo resolves `CompileOptions` into
//! its build context before any unit runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aip_pipeline::BuildRequest;
use serde::{Deserialize, Serialize};

use crate::ServiceConfig;
use crate::job::JobFailure;
use crate::request::{AdapterRequest, FILES_DIR, Protocol, TargetName};

/// What a job builds, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Module name.
    pub name: String,
    /// The vendor's kind.
    pub protocol: Protocol,
    /// What to build.
    pub target: TargetName,
    /// The configured signing key, by name.
    pub key_ref: String,
    /// Module version.
    pub version: String,
    /// Operation -> intent overrides.
    pub intents: BTreeMap<String, String>,
    /// Resources written into the manifest.
    pub resources: aip_register::Resources,
    /// Registry repository to push to (checked when accepted).
    pub push: Option<String>,
    /// The spec's entry, relative to the job's folder: `spec.yaml`,
    /// `spec.proto`, or `files/<entry>` for an upload of several files.
    pub spec_file: String,
    /// Whether the spec is an upload of several files under `files/`
    /// (its references and imports resolve there).
    pub uploaded: bool,
    /// Refuse every defect ingest would repair.
    pub strict: bool,
}

impl JobSpec {
    /// The job an accepted request asks for, every default decided.
    pub fn of(request: &AdapterRequest) -> JobSpec {
        let (spec_file, uploaded) = match (&request.entry, request.protocol) {
            (Some(entry), _) => (format!("{FILES_DIR}/{entry}"), true),
            (None, Protocol::Grpc) => ("spec.proto".to_string(), false),
            (None, Protocol::Rest) => ("spec.yaml".to_string(), false),
        };
        JobSpec {
            name: request.name.clone(),
            protocol: request.protocol,
            target: match (request.protocol, request.target) {
                (_, Some(target)) => target,
                (Protocol::Grpc, None) => TargetName::Grpc,
                (Protocol::Rest, None) => TargetName::Wasm,
            },
            key_ref: request
                .signing
                .as_ref()
                .map_or(crate::DEFAULT_KEY_REF, |s| s.cosign_key_ref.as_str())
                .to_string(),
            version: request.version.clone().unwrap_or_else(|| "0.1.0".into()),
            intents: request.intents.clone().unwrap_or_default(),
            resources: request.resources(),
            push: request.push.clone(),
            spec_file,
            uploaded,
            strict: request.strict.unwrap_or(false),
        }
    }

    /// The spec's entry in `job_dir`.
    pub fn spec_path(&self, job_dir: &Path) -> PathBuf {
        job_dir.join(&self.spec_file)
    }

    /// How the spec is ingested: references confined to the job's own
    /// folder (named "the uploaded spec files" in messages, never by its
    /// path).
    pub fn ingest_options(
        &self,
        job_dir: &Path,
        max_operations: usize,
    ) -> aip_ingest::IngestOptions {
        let root = if self.uploaded {
            job_dir.join(FILES_DIR)
        } else {
            job_dir.to_path_buf()
        };
        aip_ingest::IngestOptions {
            name: Some(self.name.clone()),
            strict: self.strict,
            proto_paths: vec![root.clone()],
            ref_root: Some(aip_ingest::RefRoot::labelled(
                root,
                "the uploaded spec files",
            )),
            limits: aip_ingest::Limits {
                max_operations,
                ..aip_ingest::Limits::default()
            },
        }
    }

    /// The pipeline's build request for this job of `tenant`, whose files
    /// are in `job_dir`, registering into `destination`.
    pub fn build_request(
        &self,
        config: &ServiceConfig,
        job_dir: &Path,
        destination: aip_register::Destination,
        tenant: &str,
    ) -> Result<BuildRequest, JobFailure> {
        let key = config
            .signing_key_for(&self.key_ref, tenant)
            .ok_or_else(|| {
                JobFailure::user(format!(
                    "signing key {:?} is no longer configured for tenant {tenant}",
                    self.key_ref
                ))
            })?;
        Ok(BuildRequest {
            spec: aip_ingest::SpecSource::File(self.spec_path(job_dir)),
            ingest: self.ingest_options(job_dir, config.max_operations),
            target: match self.target {
                TargetName::Grpc => aip_pipeline::Target::GrpcService,
                TargetName::Wasm => aip_pipeline::Target::WasmComponent,
            },
            vendor_url: None,
            intents: self.intents.clone(),
            version: self.version.clone(),
            key: aip_sign::KeyRef::File(key.path.clone()),
            password: key.password.clone(),
            // Each tenant registers into its own folder, each version into
            // its own: two tenants' modules of the same name never replace
            // each other, and earlier versions stay.
            destination,
            generated_dir: None,
            resources: self.resources.clone(),
            cache: aip_compile::CacheDirs::from_env(),
            use_compile_cache: true,
            cancel: None,
            // Builds yield the CPU to the API on the same machine.
            background: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> AdapterRequest {
        serde_json::from_value(json).expect("request")
    }

    #[test]
    fn every_default_is_decided_once() {
        let job = JobSpec::of(&request(serde_json::json!({
            "name": "pets", "protocol": "rest", "spec": "openapi: 3.0.0"
        })));
        assert_eq!(
            (
                job.target,
                job.key_ref.as_str(),
                job.version.as_str(),
                job.spec_file.as_str(),
                job.uploaded,
                job.strict
            ),
            (
                TargetName::Wasm,
                crate::DEFAULT_KEY_REF,
                "0.1.0",
                "spec.yaml",
                false,
                false
            )
        );
        assert_eq!(job.resources.cpu, "250m");
        let grpc = JobSpec::of(&request(serde_json::json!({
            "name": "echo", "protocol": "grpc", "files": {"a/b.proto": ""}, "entry": "a/b.proto",
            "version": "2.0.0", "strict": true
        })));
        assert_eq!(
            (
                grpc.target,
                grpc.spec_file.as_str(),
                grpc.uploaded,
                grpc.strict
            ),
            (TargetName::Grpc, "files/a/b.proto", true, true)
        );
        let stored = serde_json::to_string(&grpc).expect("json");
        assert_eq!(
            serde_json::from_str::<JobSpec>(&stored).expect("back"),
            grpc
        );
    }
}
