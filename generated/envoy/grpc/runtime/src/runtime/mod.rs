//! The parts of the aip-builder adapter runtime the gRPC service shares with
//! the WASM component target (templates/shared): the static API description,
//! the request builder and the response mapping.

pub mod request;
pub mod response;
pub mod spec;
