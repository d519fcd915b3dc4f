//! Wire types of the OpenAI fine-tuned checkpoint permissions API.
//!
//! One definition of each JSON body, shared by every part of the workspace: the
//! generated client (`permissions-api` swaps these in for the spec's component
//! schemas), the hand-written client layer, the local emulator and the CLI.
//!
//! ```
//! use permissions_types::{CheckpointPermission, PermissionObject};
//!
//! let permission: CheckpointPermission = serde_json::from_str(
//!     r#"{"object": "checkpoint.permission", "id": "cp_zc4Q7MP6XxulcVzj4MZdwsAB",
//!         "created_at": 1712211699, "project_id": "proj_abGMw1llN8IrBb6SvvY5A1iH"}"#,
//! )?;
//! assert_eq!(permission.object, PermissionObject::CheckpointPermission);
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! | Rust type | OpenAPI component schema |
//! | --- | --- |
//! | [`CheckpointPermission`] | `FineTuningCheckpointPermission` |
//! | [`PermissionList`] | `ListFineTuningCheckpointPermissionResponse` |
//! | [`CreatePermissionsRequest`] | `CreateFineTuningCheckpointPermissionRequest` |
//! | [`DeletedPermission`] | `DeleteFineTuningCheckpointPermissionResponse` |
//! | [`ErrorResponse`] | `ErrorResponse` |
//! | [`ApiError`] | `Error` |
//! | [`ListOrder`] | the `order` query parameter |
//! | [`Project`] | `Project` (of `GET /organization/projects`) |
//! | [`ProjectList`] | `ProjectListResponse` |
//!
//! The ids a user gives ([`CheckpointId`], [`ProjectId`], [`PermissionId`]) are
//! checked once, when they are made (see [`ids`]); ids received from a server stay
//! strings in these types, so that decoding never fails on an id's shape.
//!
//! Responses are read forward-compatibly: unknown fields are ignored and an
//! unknown `object` kind decodes into an `Unknown` variant that keeps the value.
//! Request bodies are strict, as the spec's `additionalProperties: false` says.
//!
//! # Stability
//!
//! Every struct here is `#[non_exhaustive]`, and so are the `object` enums (which
//! also keep unknown values): when the API gains a field or a value, so does the
//! type, in a minor release. Read fields directly; build values with the
//! constructors (`new` and the `with_*` methods), never with a struct literal, and
//! give every `match` on them a wildcard arm.
//!
//! [`ListOrder`] is the exception: a value users send, never one they receive, and
//! one that servers (the emulator) and callers match exhaustively. An order the
//! API adds would be a new variant in a major release, and `cargo xtask semver`
//! would say so.

pub mod ids;
mod open_enum;

pub use ids::{
    CheckpointId, IdError, IdErrorKind, IdType, IntoId, MAX_ID_LEN, PermissionId, ProjectId,
};
use open_enum::open_string_enum;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

open_string_enum! {
    /// The `object` field of a permission and of a delete response.
    pub enum PermissionObject {
        /// `"checkpoint.permission"`.
        CheckpointPermission => "checkpoint.permission",
    }
}

open_string_enum! {
    /// The `object` field of a list page.
    pub enum ListObject {
        /// `"list"`.
        List => "list",
    }
}

open_string_enum! {
    /// The `object` field of a project.
    pub enum ProjectObject {
        /// `"organization.project"`.
        OrganizationProject => "organization.project",
    }
}

open_string_enum! {
    /// The `status` of a project.
    pub enum ProjectStatus {
        /// `"active"`: the project can be used.
        Active => "active",
        /// `"archived"`: the project can no longer be used or updated.
        Archived => "archived",
    }
}

/// A permission for a fine-tuned model checkpoint: one project may use the checkpoint.
///
/// Spec schema: `FineTuningCheckpointPermission`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct CheckpointPermission {
    /// The permission identifier, which can be referenced in the API endpoints.
    pub id: String,
    /// The Unix timestamp (in seconds) for when the permission was created.
    pub created_at: i64,
    /// The project identifier that the permission is for.
    pub project_id: String,
    /// The object type, which is always "checkpoint.permission".
    pub object: PermissionObject,
}

impl CheckpointPermission {
    /// The permission `id` of `project_id`, created at `created_at` (Unix seconds).
    ///
    /// ```
    /// use permissions_types::{CheckpointPermission, PermissionObject};
    ///
    /// let permission = CheckpointPermission::new("cp_zc4Q7MP6XxulcVzj4MZdwsAB", "proj_a", 1712211699);
    /// assert_eq!(permission.object, PermissionObject::CheckpointPermission);
    /// ```
    pub fn new(id: impl Into<String>, project_id: impl Into<String>, created_at: i64) -> Self {
        Self {
            id: id.into(),
            created_at,
            project_id: project_id.into(),
            object: PermissionObject::CheckpointPermission,
        }
    }
}

/// One page of permissions, as returned by list and by create.
///
/// Spec schema: `ListFineTuningCheckpointPermissionResponse`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct PermissionList {
    /// The permissions of this page, in the requested order.
    pub data: Vec<CheckpointPermission>,
    /// The object type, which is always "list".
    pub object: ListObject,
    /// The id of the first permission of `data`, or null when `data` is empty.
    #[serde(default)]
    pub first_id: Option<String>,
    /// The id of the last permission of `data`: the `after` cursor of the next page.
    #[serde(default)]
    pub last_id: Option<String>,
    /// Whether more permissions follow this page.
    pub has_more: bool,
}

impl PermissionList {
    /// A page holding `data`, with `first_id` and `last_id` taken from it.
    pub fn new(data: Vec<CheckpointPermission>, has_more: bool) -> Self {
        Self {
            first_id: data.first().map(|p| p.id.clone()),
            last_id: data.last().map(|p| p.id.clone()),
            data,
            object: ListObject::List,
            has_more,
        }
    }
}

/// A project of the organization (`GET /organization/projects`).
///
/// Spec schema: `Project` (the fields this workspace reads: `external_key_id` and
/// `residency` are left out of the fragment, and ignored when a server sends them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Project {
    /// The project identifier, which can be referenced in API endpoints.
    pub id: String,
    /// The object type, which is always "organization.project".
    pub object: ProjectObject,
    /// The name of the project, as it appears in reporting; names are not unique.
    #[serde(default)]
    pub name: Option<String>,
    /// The Unix timestamp (in seconds) of when the project was created.
    pub created_at: i64,
    /// The Unix timestamp (in seconds) of when the project was archived, or null.
    #[serde(default)]
    pub archived_at: Option<i64>,
    /// `active` or `archived`.
    // A free string in the spec ("`active` or `archived`"), read as an open enum.
    #[serde(default)]
    #[schemars(schema_with = "optional_nullable_string")]
    pub status: Option<ProjectStatus>,
}

impl Project {
    /// The active project `id` named `name`, created at `created_at` (Unix seconds).
    ///
    /// ```
    /// use permissions_types::{Project, ProjectStatus};
    ///
    /// let project = Project::new("proj_abc", Some("Research"), 1711471533);
    /// assert_eq!(project.status, Some(ProjectStatus::Active));
    /// assert!(!project.is_archived());
    /// ```
    pub fn new(id: impl Into<String>, name: Option<&str>, created_at: i64) -> Self {
        Self {
            id: id.into(),
            object: ProjectObject::OrganizationProject,
            name: name.map(str::to_owned),
            created_at,
            archived_at: None,
            status: Some(ProjectStatus::Active),
        }
    }

    /// This project, archived at `archived_at` (Unix seconds).
    #[must_use]
    pub fn archived(mut self, archived_at: i64) -> Self {
        self.archived_at = Some(archived_at);
        self.status = Some(ProjectStatus::Archived);
        self
    }

    /// Whether the project is archived: its status says so, or it has an
    /// `archived_at`. An archived project cannot be used.
    pub fn is_archived(&self) -> bool {
        self.status == Some(ProjectStatus::Archived) || self.archived_at.is_some()
    }
}

/// One page of projects.
///
/// Spec schema: `ProjectListResponse`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ProjectList {
    /// The object type, which is always "list".
    pub object: ListObject,
    /// The projects of this page.
    pub data: Vec<Project>,
    /// The id of the first project of `data`, or null.
    #[serde(default)]
    pub first_id: Option<String>,
    /// The id of the last project of `data`: the `after` cursor of the next page.
    #[serde(default)]
    pub last_id: Option<String>,
    /// Whether more projects follow this page.
    pub has_more: bool,
}

impl ProjectList {
    /// A page holding `data`, with `first_id` and `last_id` taken from it.
    pub fn new(data: Vec<Project>, has_more: bool) -> Self {
        Self {
            first_id: data.first().map(|p| p.id.clone()),
            last_id: data.last().map(|p| p.id.clone()),
            data,
            object: ListObject::List,
            has_more,
        }
    }
}

/// The body of a create request: the projects to grant the checkpoint to.
///
/// Spec schema: `CreateFineTuningCheckpointPermissionRequest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CreatePermissionsRequest {
    /// The project identifiers to grant access to.
    pub project_ids: Vec<String>,
}

impl CreatePermissionsRequest {
    /// A request granting the checkpoint to `project_ids`.
    pub fn new(project_ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            project_ids: project_ids.into_iter().map(Into::into).collect(),
        }
    }
}

/// The answer to a delete request.
///
/// Spec schema: `DeleteFineTuningCheckpointPermissionResponse`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct DeletedPermission {
    /// The ID of the fine-tuned model checkpoint permission that was deleted.
    pub id: String,
    /// The object type, which is always "checkpoint.permission".
    pub object: PermissionObject,
    /// Whether the fine-tuned model checkpoint permission was successfully deleted.
    pub deleted: bool,
}

impl DeletedPermission {
    /// The answer that permission `id` was deleted.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            object: PermissionObject::CheckpointPermission,
            deleted: true,
        }
    }
}

/// The error envelope every failed request answers with: `{"error": {...}}`.
///
/// Spec schema: `ErrorResponse`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// What went wrong.
    pub error: ApiError,
}

impl ErrorResponse {
    /// The envelope around `error`.
    pub fn new(error: ApiError) -> Self {
        Self { error }
    }
}

/// The body of an API error.
///
/// Spec schema: `Error`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ApiError {
    /// A machine-readable error code, such as `"invalid_api_key"`, when there is one.
    // Required but nullable in the spec; serde still reads a missing field as None.
    #[schemars(schema_with = "required_nullable_string")]
    pub code: Option<String>,
    /// A human-readable description of the error.
    pub message: String,
    /// The request parameter the error is about, when there is one.
    #[schemars(schema_with = "required_nullable_string")]
    pub param: Option<String>,
    /// The error class, such as `"invalid_request_error"`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl ApiError {
    /// An error of class `kind` (such as `"invalid_request_error"`) saying `message`,
    /// with no `param` nor `code`.
    ///
    /// ```
    /// use permissions_types::ApiError;
    ///
    /// let error = ApiError::new("invalid_request_error", "Invalid 'limit'.").with_param("limit");
    /// assert_eq!(error.param.as_deref(), Some("limit"));
    /// ```
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: None,
            message: message.into(),
            param: None,
            kind: kind.into(),
        }
    }

    /// This error with `param` set.
    #[must_use]
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// This error with `code` set.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
}

/// The schema of a field that must be present but may be null; schemars would make
/// an `Option` field optional.
fn required_nullable_string(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": ["string", "null"] })
}

/// The schema of a field that may be absent or null.
fn optional_nullable_string(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": ["string", "null"] })
}

/// The order in which list returns permissions, by creation time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListOrder {
    /// Oldest first.
    Ascending,
    /// Newest first: the server's default.
    #[default]
    Descending,
}

impl ListOrder {
    /// The wire form of this value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ascending => "ascending",
            Self::Descending => "descending",
        }
    }
}

impl std::fmt::Display for ListOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a string is not a [`ListOrder`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseListOrderError(String);

impl std::fmt::Display for ParseListOrderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid order {:?}: expected \"ascending\" or \"descending\"",
            self.0
        )
    }
}

impl std::error::Error for ParseListOrderError {}

impl std::str::FromStr for ListOrder {
    type Err = ParseListOrderError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "ascending" => Ok(Self::Ascending),
            "descending" => Ok(Self::Descending),
            other => Err(ParseListOrderError(other.to_owned())),
        }
    }
}
