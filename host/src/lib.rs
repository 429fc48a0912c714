//! The wasmtime host of the ROOMS Exchange Online sync component.

pub mod certs;
pub mod secrets;
pub mod settings;
