//! The emulator's rules for sizes, limits and keys: what the HTTP layer, the seed
//! files and the store all check against. Ids have one rule each, in
//! `permissions-types` ([`CheckpointId`](permissions_types::CheckpointId),
//! [`ProjectId`](permissions_types::ProjectId),
//! [`PermissionId`](permissions_types::PermissionId)). A leaf: it uses no other
//! module of the crate.

/// Largest request body accepted; larger ones are answered 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest request target (path and query) accepted; longer ones are answered 414.
/// Below hyper's own bound (64 KiB), so the emulator answers, with the envelope.
pub const MAX_URI_BYTES: usize = 32 * 1024;
/// Most header fields a request may carry; more are answered 431. Below hyper's
/// own bound (100 fields).
pub const MAX_HEADER_COUNT: usize = 64;
/// Largest total size of a request's header names and values; larger is answered
/// 431. Below hyper's own bound (its read buffer, about 400 KiB).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most project ids one create request may grant.
pub const MAX_PROJECT_IDS: usize = 100;
/// Largest `limit` of a list request (permissions or projects).
pub const MAX_LIMIT: i64 = 100;
/// `limit` of a list of permissions that sends none.
pub const DEFAULT_LIMIT: i64 = 10;
/// `limit` of a list of projects that sends none (the official default).
pub const DEFAULT_PROJECTS_LIMIT: i64 = 20;

/// Number of random alphanumerics after `cp_` in a permission id the emulator
/// makes.
pub(crate) const ID_RANDOM_LEN: usize = 24;

/// Whether `key` can be sent as a bearer token: non-empty printable ASCII.
pub(crate) fn is_well_formed_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii() {
        assert!(is_well_formed_key("sk-admin-0123456789"));
        assert!(!is_well_formed_key(""));
        assert!(!is_well_formed_key("sk admin"));
        assert!(!is_well_formed_key("sk-ädmin"));
    }
}
