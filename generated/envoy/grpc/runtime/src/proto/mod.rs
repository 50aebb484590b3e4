//! The `aip.adapter.v1` contract every gRPC adapter implements, generated
//! from aip-builder's `adapter.proto` by tonic-prost-build. Copied verbatim.

#![allow(missing_docs, clippy::all, dead_code)]

include!("aip.adapter.v1.rs");

/// The encoded descriptor set of `adapter.proto`, served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("adapter.binpb");
