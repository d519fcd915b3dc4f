//! API keys with scopes (`--keys FILE`): which keys exist, and which may read or
//! change permissions or list the organization's projects. Without a key file every
//! admin key has every scope.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use crate::error::Error;
use crate::rules::is_well_formed_key;

/// A scope of an admin key, named as the real API names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// `api.fine_tuning.checkpoints.read`: list permissions.
    Read,
    /// `api.fine_tuning.checkpoints.write`: create and delete permissions.
    Write,
    /// `api.organization.projects.read`: list the organization's projects.
    ProjectsRead,
}

impl Scope {
    /// Every scope, in the order messages list them.
    const ALL: [Self; 3] = [Self::Read, Self::Write, Self::ProjectsRead];

    /// The scope's name in key files and in the API's refusals.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "api.fine_tuning.checkpoints.read",
            Self::Write => "api.fine_tuning.checkpoints.write",
            Self::ProjectsRead => "api.organization.projects.read",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == name)
    }

    /// The names of every scope, for messages: `a, b or c`.
    fn names() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|s| s.as_str()).collect();
        match names.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One key the emulator knows, with its scopes. Its `Debug` never shows the key.
///
/// ```
/// use permissions_emulator::{ApiKey, Scope};
///
/// let reader = ApiKey::new("sk-admin-reader-0123456789", [Scope::Read]);
/// assert!(!format!("{reader:?}").contains("reader-0123456789"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    key: String,
    scopes: HashSet<Scope>,
}

impl ApiKey {
    /// `key` with `scopes`.
    pub fn new(key: impl Into<String>, scopes: impl IntoIterator<Item = Scope>) -> Self {
        Self {
            key: key.into(),
            scopes: scopes.into_iter().collect(),
        }
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut scopes: Vec<&str> = self.scopes.iter().map(|s| s.as_str()).collect();
        scopes.sort_unstable();
        f.debug_struct("ApiKey")
            .field("key", &"<redacted>")
            .field("scopes", &scopes)
            .finish()
    }
}

/// The keys an emulator accepts; `None` inside: any admin key, with every scope.
#[derive(Default)]
pub(crate) struct Keys(Option<HashMap<String, HashSet<Scope>>>);

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Keys(any admin key)"),
            Some(keys) => write!(f, "Keys({} keys)", keys.len()),
        }
    }
}

/// What [`Keys::check`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Granted,
    UnknownKey,
    MissingScope(Scope),
}

impl Keys {
    /// Only these keys, each with its scopes; a key given twice is refused.
    pub(crate) fn only(keys: Vec<ApiKey>) -> Result<Self, Error> {
        let mut known = HashMap::with_capacity(keys.len());
        for (i, key) in keys.into_iter().enumerate() {
            if !is_well_formed_key(&key.key) {
                return Err(Error::Keys(format!(
                    "key #{} is empty or not printable ASCII",
                    i + 1
                )));
            }
            if known.insert(key.key, key.scopes).is_some() {
                return Err(Error::Keys(format!(
                    "key #{} appears earlier in the list",
                    i + 1
                )));
            }
        }
        Ok(Self(Some(known)))
    }

    /// Whether `key` may do what `needed` allows.
    pub(crate) fn check(&self, key: &str, needed: Scope) -> Access {
        match &self.0 {
            None => Access::Granted,
            Some(keys) => match keys.get(key) {
                None => Access::UnknownKey,
                Some(scopes) if scopes.contains(&needed) => Access::Granted,
                Some(_) => Access::MissingScope(needed),
            },
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    key: String,
    scopes: Vec<String>,
}

/// Reads a key file: `{"keys": [{"key": "sk-admin-...", "scopes": [...]}]}`, where
/// each scope is the name of a [`Scope`] (`api.fine_tuning.checkpoints.read`,
/// `api.fine_tuning.checkpoints.write`, `api.organization.projects.read`). Errors
/// name the entry or the line, never a key.
pub fn read_keys_file(path: &Path) -> Result<Vec<ApiKey>, Error> {
    let text = std::fs::read(path)
        .map_err(|e| Error::Keys(format!("cannot read {}: {e}", path.display())))?;
    parse_keys(&text).map_err(|e| Error::Keys(format!("{}: {e}", path.display())))
}

fn parse_keys(text: &[u8]) -> Result<Vec<ApiKey>, String> {
    // serde's messages may quote a value, and a value may be a key: say where only.
    let file: KeyFile = serde_json::from_slice(text).map_err(|e| {
        format!(
            "not a key file (line {}, column {}); expected {{\"keys\": [{{\"key\": \"...\", \
             \"scopes\": [...]}}]}}, each scope one of {}",
            e.line(),
            e.column(),
            Scope::names()
        )
    })?;
    file.keys
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let scopes = entry
                .scopes
                .iter()
                .map(|name| {
                    Scope::parse(name).ok_or_else(|| {
                        format!(
                            "key #{}: unknown scope (expected {})",
                            i + 1,
                            Scope::names()
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ApiKey::new(entry.key, scopes))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "sk-admin-secret-0123456789";

    #[test]
    fn scopes_decide() {
        let keys = Keys::only(vec![
            ApiKey::new("sk-admin-r", [Scope::Read]),
            ApiKey::new("sk-admin-rw", [Scope::Read, Scope::Write]),
        ])
        .expect("valid");
        assert_eq!(keys.check("sk-admin-r", Scope::Read), Access::Granted);
        assert_eq!(
            keys.check("sk-admin-r", Scope::Write),
            Access::MissingScope(Scope::Write)
        );
        assert_eq!(keys.check("sk-admin-rw", Scope::Write), Access::Granted);
        assert_eq!(keys.check("sk-admin-x", Scope::Read), Access::UnknownKey);
        assert_eq!(
            keys.check("sk-admin-rw", Scope::ProjectsRead),
            Access::MissingScope(Scope::ProjectsRead)
        );
        for scope in Scope::ALL {
            assert_eq!(Keys::default().check("anything", scope), Access::Granted);
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(
            Scope::names(),
            "api.fine_tuning.checkpoints.read, api.fine_tuning.checkpoints.write or \
             api.organization.projects.read"
        );
    }

    #[test]
    fn key_files_parse_and_refuse_without_echoing_keys() {
        let good = format!(
            r#"{{"keys": [{{"key": "{SECRET}", "scopes": ["api.fine_tuning.checkpoints.read"]}}]}}"#
        );
        assert_eq!(
            parse_keys(good.as_bytes()),
            Ok(vec![ApiKey::new(SECRET, [Scope::Read])])
        );
        for bad in [
            format!(r#"{{"keys": [{{"key": "{SECRET}", "scopes": ["{SECRET}"]}}]}}"#),
            format!(r#"{{"keys": [{{"key": "{SECRET}", "scopes": "{SECRET}"}}]}}"#),
            format!(r#"{{"keys": "{SECRET}"}}"#),
            format!(r#"{{"keys": [{{"key": "{SECRET}", "scopes": [], "{SECRET}": 1}}]}}"#),
            format!(r#"["{SECRET}"]"#),
        ] {
            let error = parse_keys(bad.as_bytes()).expect_err("refused");
            assert!(!error.contains("secret-0123456789"), "{error}");
        }
        let twice = vec![ApiKey::new(SECRET, []), ApiKey::new(SECRET, [Scope::Read])];
        let error = Keys::only(twice).expect_err("refused").to_string();
        assert!(error.contains("key #2"), "{error}");
        assert!(!error.contains("secret-0123456789"), "{error}");
    }
}
