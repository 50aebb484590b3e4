//! The aip-builder adapter runtime every target shares: the static
//! description of a vendor API that generated code fills in ([`spec`]),
//! building one vendor HTTP request from it ([`request`]) and turning the
//! answer into output JSON ([`response`]). Generated crates carry copies of
//! these files under `src/runtime/`; this crate exists so they are built,
//! linted and unit-tested where they are written.

#[path = "runtime/request.rs"]
pub mod request;
#[path = "runtime/response.rs"]
pub mod response;
#[path = "runtime/spec.rs"]
pub mod spec;
