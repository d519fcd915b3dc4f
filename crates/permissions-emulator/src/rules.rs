//! The emulator's rules for ids and sizes: what the HTTP layer, the seed files and
//! the store all check against. A leaf: it uses no other module of the crate.

/// Largest request body accepted; larger ones are answered 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most project ids one create request may grant.
pub const MAX_PROJECT_IDS: usize = 100;
/// Longest checkpoint id, project id, permission id or cursor accepted.
pub const MAX_ID_LEN: usize = 256;
/// Largest `limit` of a list request.
pub const MAX_LIMIT: i64 = 100;
/// `limit` of a list request that sends none.
pub const DEFAULT_LIMIT: i64 = 10;

/// Number of random alphanumerics after `cp_` in a permission id.
pub(crate) const ID_RANDOM_LEN: usize = 24;

/// Whether `id` can name a checkpoint: 1 to [`MAX_ID_LEN`] printable ASCII
/// characters other than `/`, `\`, `?`, `#` and `%` (so encoded slashes and
/// double-encoding are refused).
pub(crate) fn is_valid_checkpoint(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'\\' | b'?' | b'#' | b'%'))
}

/// Whether `id` can name a project: 1 to [`MAX_ID_LEN`] bytes, no control characters.
pub(crate) fn is_valid_project_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && !id.chars().any(char::is_control)
}

/// Whether `id` has the shape of a permission id: `cp_` and 24 ASCII alphanumerics.
pub(crate) fn is_permission_id(id: &str) -> bool {
    id.strip_prefix("cp_").is_some_and(|rest| {
        rest.len() == ID_RANDOM_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// Whether `key` can be sent as a bearer token: non-empty printable ASCII.
pub(crate) fn is_well_formed_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_validation() {
        assert!(is_valid_checkpoint(
            "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd"
        ));
        assert!(!is_valid_checkpoint("a/b"));
        assert!(!is_valid_checkpoint(""));
        assert!(!is_valid_checkpoint("a b"));
        assert!(!is_valid_checkpoint(&"a".repeat(MAX_ID_LEN + 1)));
    }

    #[test]
    fn permission_ids() {
        assert!(is_permission_id("cp_zc4Q7MP6XxulcVzj4MZdwsAB"));
        assert!(!is_permission_id("cp_short"));
        assert!(!is_permission_id("xx_zc4Q7MP6XxulcVzj4MZdwsAB"));
    }
}
