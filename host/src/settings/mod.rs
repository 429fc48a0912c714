//! Settings of a tenant: the original `RoomsAppSettings.config` keys, validated.
