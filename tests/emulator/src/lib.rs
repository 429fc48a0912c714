//! Exchange Online + Entra ID emulator (work in progress).

pub mod calendar;
