//! The aip-builder test suite: golden sources, end-to-end builds and calls
//! against a fake vendor, verification and tampering, and bad input.
//!
//! Every test drives the real `aip-builder` binary or the real pipeline
//! crates; the only stand-in is the vendor's HTTP server.
//!
//! A failed `expect` is how a test says what went wrong: the workspace's
//! `unwrap_used`/`expect_used` lints are for code users run, not for this
//! binary (clippy's `allow-*-in-tests` covers only `#[test]` functions,
//! not the helpers they share).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

mod bad_input;
mod browser;
mod build_service;
mod ci_recipes;
mod console;
mod corpus;
mod diff;
mod e2e;
mod echo_vendor;
mod fleet;
mod golden;
mod grpc_e2e;
mod hardening;
mod image;
mod nats_server;
mod postgres_server;
mod proto;
mod regen;
mod registry;
mod registry_server;
mod repairs;
mod service;
mod service_harness;
mod service_jobs;
mod service_uploads;
mod tidy;
mod verify;
