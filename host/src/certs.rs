//! The certificate store of a tenant, indexed by SHA-1 thumbprint.
