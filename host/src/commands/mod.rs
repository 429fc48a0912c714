//! The data commands of `rooms-sync`: `person` (the persons and rooms whose
//! calendars sync) and `booking` (the ROOMS side of bookings, and the
//! records the sync leaves for operators). They work on the tenant's
//! `rooms.db` only: no settings, no component, no network. `run` (one sync
//! cycle) and `check` (the sync test and the tenant report) call the
//! component.
//!
//! Each module has the clap definition of its subcommands and a `run`
//! function that [`crate::cli::run`] calls with the tenant directory and
//! standard output. An error is returned, not printed: the CLI prints it and
//! exits with 2 ([`crate::cli::EXIT_USAGE`]), and nothing has changed.

pub mod booking;
pub mod check;
pub mod diff;
pub mod person;
pub mod run;
