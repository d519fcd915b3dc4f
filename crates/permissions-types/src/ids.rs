//! The ids a user gives: one rule per kind of id, checked once, when the id is made.
//!
//! | type | shape |
//! | --- | --- |
//! | [`CheckpointId`] | a fine-tuned model id: `ft:` (or the older `ft-`) and more |
//! | [`ProjectId`] | `proj_` then ASCII letters, digits, `_` or `-` |
//! | [`PermissionId`] | `cp_` then ASCII letters and digits |
//!
//! No id is empty, longer than [`MAX_ID_LEN`] bytes, or holds whitespace, a control
//! character or `/`. A checkpoint id also holds no `\`, `?`, `#` or `%` and no
//! character outside printable ASCII: it travels as one URL path segment, and those
//! would need escaping there or would change the route.
//!
//! These rules are for what users *give* (arguments, files, standard input), so that
//! a typo is refused before any request is sent. What a server *sends* is data: the
//! wire types keep received ids as strings, so that an id of a shape this crate
//! does not expect still decodes.
//!
//! ```
//! use permissions_types::{CheckpointId, IdErrorKind, ProjectId};
//!
//! let checkpoint: CheckpointId = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd".parse()?;
//! assert_eq!(checkpoint.as_str(), "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd");
//!
//! let error = "not a project".parse::<ProjectId>().unwrap_err();
//! assert_eq!(error.kind(), IdErrorKind::Shape);
//! assert_eq!(
//!     error.to_string(),
//!     "invalid project id \"not a project\": it holds ' ' \
//!      (a project id is `proj_` then ASCII letters, digits, `_` or `-`)"
//! );
//!
//! // A checkpoint object's id is not the model id the API takes.
//! let error = "ftckpt_zc4Q7MP6XxulcVzj4MZdwsAB".parse::<CheckpointId>().unwrap_err();
//! assert_eq!(error.kind(), IdErrorKind::CheckpointObject);
//! # Ok::<(), permissions_types::IdError>(())
//! ```

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The longest id accepted, in bytes. The API documents no limit; ids it hands
/// out are far shorter.
pub const MAX_ID_LEN: usize = 256;

/// Which kind of id a value was read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdType {
    /// A [`CheckpointId`].
    Checkpoint,
    /// A [`ProjectId`].
    Project,
    /// A [`PermissionId`].
    Permission,
}

impl IdType {
    /// How messages name it: "checkpoint id", ...
    pub fn name(self) -> &'static str {
        match self {
            Self::Checkpoint => "checkpoint id",
            Self::Project => "project id",
            Self::Permission => "permission id",
        }
    }

    /// The shape of the id, in words.
    pub fn shape(self) -> &'static str {
        match self {
            Self::Checkpoint => {
                "a checkpoint id is a fine-tuned model id, `ft:` (or `ft-`) then printable \
                 ASCII without whitespace, `/`, `\\`, `?`, `#` or `%`"
            }
            Self::Project => "a project id is `proj_` then ASCII letters, digits, `_` or `-`",
            Self::Permission => "a permission id is `cp_` then ASCII letters and digits",
        }
    }

    /// The prefix every id of this type starts with (`ft:` for checkpoints; `ft-`
    /// is accepted too).
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Checkpoint => "ft:",
            Self::Project => "proj_",
            Self::Permission => "cp_",
        }
    }
}

/// What is wrong with an id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdErrorKind {
    /// It is empty.
    Empty,
    /// It is longer than [`MAX_ID_LEN`] bytes.
    TooLong,
    /// It does not have its type's shape (prefix or characters).
    Shape,
    /// It is a checkpoint object's id (`ftckpt_...`), where the API takes the
    /// fine-tuned model id (`ft:...`).
    CheckpointObject,
    /// It looks like an API key: it is not repeated in the message.
    LooksLikeKey,
}

/// Why a text is not an id of its type. Its message quotes the text, unless the
/// text looks like an API key (`sk-...`): a key pasted in the wrong place must not
/// be printed back.
#[derive(Clone, PartialEq, Eq)]
pub struct IdError {
    id_type: IdType,
    kind: IdErrorKind,
    /// The text, clipped, or `None` when it must not be shown.
    shown: Option<String>,
    /// The offending character, for [`IdErrorKind::Shape`].
    character: Option<char>,
}

/// How much of a refused text a message quotes.
const SHOWN_CHARS: usize = 80;

impl IdError {
    fn new(id_type: IdType, kind: IdErrorKind, text: &str, character: Option<char>) -> Self {
        let looks_like_key = text.contains("sk-");
        let shown = (!looks_like_key).then(|| {
            let mut shown: String = text.chars().take(SHOWN_CHARS).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            shown
        });
        Self {
            id_type,
            kind: if looks_like_key {
                IdErrorKind::LooksLikeKey
            } else {
                kind
            },
            shown,
            character,
        }
    }

    /// The type the text was read as.
    pub fn id_type(&self) -> IdType {
        self.id_type
    }

    /// What is wrong.
    pub fn kind(&self) -> IdErrorKind {
        self.kind
    }
}

impl fmt::Debug for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdError")
            .field("id_type", &self.id_type)
            .field("kind", &self.kind)
            .field("shown", &self.shown)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}", self.id_type.name())?;
        if let Some(shown) = &self.shown {
            write!(f, " {shown:?}")?;
        }
        match self.kind {
            IdErrorKind::Empty => write!(f, ": it is empty"),
            IdErrorKind::TooLong => write!(f, ": longer than {MAX_ID_LEN} bytes"),
            IdErrorKind::LooksLikeKey => write!(
                f,
                ": it looks like an API key, not a {} (keys go in OPENAI_ADMIN_KEY)",
                self.id_type.name()
            ),
            IdErrorKind::CheckpointObject => write!(
                f,
                ": that is a checkpoint object's id; pass the fine-tuned model id instead \
                 (`ft:...`, the checkpoint's `fine_tuned_model_checkpoint` field)"
            ),
            IdErrorKind::Shape => match self.character {
                Some(c) => write!(f, ": it holds {c:?} ({})", self.id_type.shape()),
                None => write!(f, " ({})", self.id_type.shape()),
            },
        }
    }
}

impl std::error::Error for IdError {}

/// Checks `text` as an id of `id_type`: the rules of the module documentation.
fn check(id_type: IdType, text: &str) -> Result<(), IdError> {
    let refuse = |kind, character| Err(IdError::new(id_type, kind, text, character));
    if text.is_empty() {
        return refuse(IdErrorKind::Empty, None);
    }
    if text.len() > MAX_ID_LEN {
        return refuse(IdErrorKind::TooLong, None);
    }
    if let Some(c) = text
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '/')
    {
        return refuse(IdErrorKind::Shape, Some(c));
    }
    let (rest, allowed): (Option<&str>, fn(char) -> bool) = match id_type {
        IdType::Checkpoint => {
            if text.starts_with("ftckpt_") {
                return refuse(IdErrorKind::CheckpointObject, None);
            }
            (
                text.strip_prefix("ft:")
                    .or_else(|| text.strip_prefix("ft-")),
                |c| c.is_ascii_graphic() && !matches!(c, '\\' | '?' | '#' | '%'),
            )
        }
        IdType::Project => (text.strip_prefix("proj_"), |c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
        }),
        IdType::Permission => (text.strip_prefix("cp_"), |c| c.is_ascii_alphanumeric()),
    };
    match rest {
        None | Some("") => refuse(IdErrorKind::Shape, None),
        Some(rest) => match rest.chars().find(|c| !allowed(*c)) {
            Some(c) => refuse(IdErrorKind::Shape, Some(c)),
            None => Ok(()),
        },
    }
}

/// Defines an id newtype: parsed once by [`check`], then only read.
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $id_type:expr, $pattern:literal, $example:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The type of id this is.
            pub const TYPE: IdType = $id_type;

            /// Checks `text` and makes it an id.
            pub fn parse(text: impl Into<String>) -> Result<Self, IdError> {
                let text = text.into();
                check(Self::TYPE, &text)?;
                Ok(Self(text))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::parse(text)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;

            fn try_from(text: &str) -> Result<Self, IdError> {
                Self::parse(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(text: String) -> Result<Self, IdError> {
                Self::parse(text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl IntoId<$name> for $name {
            fn into_id(self) -> Result<$name, IdError> {
                Ok(self)
            }
        }

        impl IntoId<$name> for &$name {
            fn into_id(self) -> Result<$name, IdError> {
                Ok(self.clone())
            }
        }

        impl IntoId<$name> for &str {
            fn into_id(self) -> Result<$name, IdError> {
                $name::parse(self)
            }
        }

        impl IntoId<$name> for String {
            fn into_id(self) -> Result<$name, IdError> {
                $name::parse(self)
            }
        }

        impl IntoId<$name> for &String {
            fn into_id(self) -> Result<$name, IdError> {
                $name::parse(self.as_str())
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "description": <$name>::TYPE.shape(),
                    "pattern": $pattern,
                    "maxLength": MAX_ID_LEN,
                    "examples": [$example],
                })
            }
        }
    };
}

id_type!(
    /// A fine-tuned model checkpoint, as the permission endpoints take it: the
    /// fine-tuned model id (`ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd`, or
    /// the older `ft-AF1WoRqd3aJAHsqc9NY7iL8F`), never a checkpoint object's
    /// `ftckpt_...` id. See the [module documentation](self) for the rule.
    CheckpointId,
    IdType::Checkpoint,
    r#"^ft[:-][!"$&-.0->@-\[\]-~]+$"#,
    "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd"
);

id_type!(
    /// A project of the organization: `proj_` then ASCII letters, digits, `_` or
    /// `-` (`proj_abGMw1llN8IrBb6SvvY5A1iH`).
    ProjectId,
    IdType::Project,
    "^proj_[A-Za-z0-9_-]+$",
    "proj_abGMw1llN8IrBb6SvvY5A1iH"
);

id_type!(
    /// A permission on a checkpoint: `cp_` then ASCII letters and digits
    /// (`cp_zc4Q7MP6XxulcVzj4MZdwsAB`).
    PermissionId,
    IdType::Permission,
    "^cp_[A-Za-z0-9]+$",
    "cp_zc4Q7MP6XxulcVzj4MZdwsAB"
);

/// A value that names an id of type `T`: the id itself, or text that is parsed as
/// one. Methods that take ids take `impl IntoId<T>`, so that both
/// `"proj_abGMw1llN8IrBb6SvvY5A1iH"` and a [`ProjectId`] are accepted, and text is
/// checked before anything is sent.
///
/// ```
/// use permissions_types::{IntoId, ProjectId};
///
/// fn grant(project: impl IntoId<ProjectId>) -> Result<ProjectId, permissions_types::IdError> {
///     project.into_id()
/// }
/// assert!(grant("proj_a").is_ok());
/// assert!(grant("nope").is_err());
/// ```
pub trait IntoId<T> {
    /// The id, or why the value is not one.
    fn into_id(self) -> Result<T, IdError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_of_every_type() {
        let ok = |t, text: &str| check(t, text).is_ok();
        let kind = |t, text: &str| check(t, text).unwrap_err().kind();
        use IdType::*;
        assert!(ok(
            Checkpoint,
            "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd"
        ));
        assert!(ok(
            Checkpoint,
            "ft:gpt-4o-mini-2024-07-18:my-org:custom_suffix:9ABel2dg:ckpt-step-88"
        ));
        assert!(ok(Checkpoint, "ft-AF1WoRqd3aJAHsqc9NY7iL8F"));
        // Every printable ASCII character but `/ \ ? # %` (the schema's pattern
        // once missed `"`).
        assert!(ok(Checkpoint, "ft:!\"$&'()*+,-.:;<=>@[]^_`{|}~"));
        assert!(ok(Project, "proj_abGMw1llN8IrBb6SvvY5A1iH"));
        assert!(ok(Project, "proj_team-a_2"));
        assert!(ok(Permission, "cp_zc4Q7MP6XxulcVzj4MZdwsAB"));

        for (t, text, expected) in [
            (Checkpoint, "", IdErrorKind::Empty),
            (Checkpoint, "ft:", IdErrorKind::Shape),
            (Checkpoint, "gpt-4o", IdErrorKind::Shape),
            (Checkpoint, "ft:a b", IdErrorKind::Shape),
            (Checkpoint, "ft:a/b", IdErrorKind::Shape),
            (Checkpoint, "ft:a%2Fb", IdErrorKind::Shape),
            (Checkpoint, "ft:a?b", IdErrorKind::Shape),
            (Checkpoint, "ft:é", IdErrorKind::Shape),
            (
                Checkpoint,
                "ftckpt_zc4Q7MP6XxulcVzj4MZdwsAB",
                IdErrorKind::CheckpointObject,
            ),
            (Project, "proj_", IdErrorKind::Shape),
            (Project, "project_x", IdErrorKind::Shape),
            (Project, "proj_a.b", IdErrorKind::Shape),
            (Project, "proj_a\tb", IdErrorKind::Shape),
            (Project, "proj_ü", IdErrorKind::Shape),
            (Permission, "cp_", IdErrorKind::Shape),
            (Permission, "cp_a-b", IdErrorKind::Shape),
            (Permission, "perm_abc", IdErrorKind::Shape),
            (
                Project,
                "sk-admin-0123456789abcdef",
                IdErrorKind::LooksLikeKey,
            ),
        ] {
            assert_eq!(kind(t, text), expected, "{t:?} {text:?}");
        }
        let long = format!("proj_{}", "a".repeat(MAX_ID_LEN));
        assert_eq!(kind(Project, &long), IdErrorKind::TooLong);
        assert!(ok(Project, &long[..MAX_ID_LEN]));
    }

    #[test]
    fn messages_quote_the_text_but_never_a_key() {
        let error = ProjectId::parse("sk-admin-abcdefghijklmnop1234").unwrap_err();
        let message = error.to_string();
        assert!(!message.contains("abcdefgh"), "{message}");
        assert!(!format!("{error:?}").contains("abcdefgh"));
        assert!(message.contains("looks like an API key"), "{message}");
        let long = format!("proj_{}", "x".repeat(1000));
        let message = ProjectId::parse(long).unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
    }

    #[test]
    fn serde_checks_while_decoding() {
        let id: ProjectId = serde_json::from_str("\"proj_a\"").unwrap();
        assert_eq!(id, "proj_a");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"proj_a\"");
        let error = serde_json::from_str::<ProjectId>("\"nope\"").unwrap_err();
        assert!(error.to_string().contains("invalid project id"), "{error}");
    }
}
