//! The calendar store of the emulator: items, recurrence, time zones, change journal.
