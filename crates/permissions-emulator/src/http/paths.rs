//! The path templates of the routes (a leaf): the router serves them, the
//! throttle counts by them, and the scope an operation needs is read from them.

/// List (GET) and create (POST) permissions of a checkpoint.
pub(crate) const PERMISSIONS: &str =
    "/v1/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions";
/// Delete a permission.
pub(crate) const PERMISSION: &str =
    "/v1/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions/{permission_id}";
/// List the organization's projects.
pub(crate) const PROJECTS: &str = "/v1/organization/projects";
