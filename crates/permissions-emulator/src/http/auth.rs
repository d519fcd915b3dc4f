//! Who may call: the bearer key must be an admin key, known (with a key file) and
//! hold the scope the operation needs. Keys are never logged nor echoed.

use axum::http::{HeaderMap, Method, StatusCode, header};

use super::envelope::{Failure, clip};
use super::paths;
use crate::keys::{Access, Keys, Scope};
use crate::rules::is_well_formed_key;

/// Checks `Authorization: Bearer <key>` and that the key is an admin key, and
/// returns the key (for the throttle's windows). The key is never logged nor echoed.
pub(crate) fn authenticate(headers: &HeaderMap, admin_key_prefix: &str) -> Result<String, Failure> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(Failure::invalid(
            StatusCode::UNAUTHORIZED,
            "You didn't provide an API key. You need to provide your API key in an \
             Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        ));
    };
    let malformed = || {
        Failure::invalid(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided: expected an Authorization header of the form \
             'Bearer YOUR_KEY'.",
        )
        .code("invalid_api_key")
    };
    if values.next().is_some() {
        return Err(malformed());
    }
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, key) = value.split_once(' ').ok_or_else(malformed)?;
    let key = key.trim_start_matches(' ');
    if !scheme.eq_ignore_ascii_case("bearer") || !is_well_formed_key(key) {
        return Err(malformed());
    }
    if !key.starts_with(admin_key_prefix) {
        return Err(Failure::invalid(
            StatusCode::FORBIDDEN,
            format!(
                "You have insufficient permissions for this operation: it requires an admin \
                 API key (one starting with '{}').",
                clip(admin_key_prefix)
            ),
        )
        .code("insufficient_permissions"));
    }
    Ok(key.to_owned())
}

/// The scope the operation `method` on the route `path` (its template) needs:
/// the projects have a scope of their own; on permissions, reading lists and
/// anything else changes.
pub(crate) fn scope_for(method: &Method, path: &str) -> Scope {
    if path == paths::PROJECTS {
        Scope::ProjectsRead
    } else if method == Method::GET || method == Method::HEAD {
        Scope::Read
    } else {
        Scope::Write
    }
}

/// Checks that `key` is known and holds `needed`, as the real API does for keys
/// with restricted scopes.
pub(crate) fn authorize(keys: &Keys, key: &str, needed: Scope) -> Result<(), Failure> {
    match keys.check(key, needed) {
        Access::Granted => Ok(()),
        Access::UnknownKey => Err(Failure::invalid(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided. You can find your API key at \
             https://platform.openai.com/account/api-keys.",
        )
        .code("invalid_api_key")),
        Access::MissingScope(scope) => Err(Failure::invalid(
            StatusCode::UNAUTHORIZED,
            format!(
                "You have insufficient permissions for this operation. Missing scopes: \
                 {scope}. Check that you have the correct role in your organization \
                 (Owner), and if you're using a restricted API key, that it has the \
                 necessary scopes."
            ),
        )),
    }
}
