//! Platform tests of the emulator, driven over loopback HTTP with an independent client
//! (`support`): token endpoint, EWS authorization rules, GetFolder/ResolveNames, throttling,
//! fault injection, request log, clock, admin API, fidelity to real samples, and the binary.

mod admin;
mod binary;
mod ews_auth;
mod ews_ops;
mod fidelity;
mod limits;
mod support;
mod token;
