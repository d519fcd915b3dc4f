//! The client users call: the official SDKs' four methods on
//! `client.fine_tuning().checkpoints().permissions()`.

use std::future::Future;
use std::sync::Arc;

use permissions_types::{
    CreatePermissionsRequest, DeletedPermission, ErrorResponse, PermissionList,
};
use progenitor_client::ResponseValue;

use crate::{ApiResponse, Error, Result, generated};

/// A client of the checkpoint permissions API.
///
/// Cloning is one reference-count increment: clones share the settings, the
/// connection pool and the pacer. Build it with [`Client::builder`] or
/// [`Client::from_env`]; the methods are on
/// [`client.fine_tuning().checkpoints().permissions()`](Permissions), the path the
/// official SDKs use (`client.fine_tuning.checkpoints.permissions`).
#[derive(Clone, Debug)]
pub struct Client {
    raw: Arc<generated::Client>,
}

impl Client {
    pub(crate) fn from_parts(raw: generated::Client) -> Self {
        Self { raw: Arc::new(raw) }
    }

    /// The generated client underneath, for calls this layer does not wrap.
    pub fn raw(&self) -> &generated::Client {
        &self.raw
    }

    /// The base URL requests go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        progenitor_client::ClientInfo::baseurl(&*self.raw)
    }

    /// What the pacer shared by this client and its clones is doing: responses,
    /// 429s, and how long the most delayed endpoint still waits. For progress
    /// displays; see [`Pacing`](crate::Pacing).
    pub fn pacing_status(&self) -> crate::PacingStatus {
        progenitor_client::ClientInfo::inner(&*self.raw).pacing_status()
    }

    /// `text` with this client's key masked (any run of 8 or more of its characters),
    /// and any other token that looks like an OpenAI key: what the client does to
    /// everything of a response it puts into an error or a log line. For programs
    /// that log what a server sent, such as a response body.
    pub fn redact(&self, text: &str) -> String {
        progenitor_client::ClientInfo::inner(&*self.raw)
            .redactor()
            .clean(text)
    }

    /// The fine-tuning resources.
    pub fn fine_tuning(&self) -> FineTuning<'_> {
        FineTuning { client: self }
    }

    /// Awaits a generated call and converts its result.
    ///
    /// Not an `async fn` on purpose: the generated future is large (it holds the
    /// transport's retry loop), and boxing it before the returned future exists keeps
    /// every future that awaits this one small, so they are cheap to move (into a
    /// `FuturesUnordered`, say) instead of being copied byte by byte.
    pub(crate) fn call<T, F>(&self, call: F) -> impl Future<Output = Result<ApiResponse<T>>>
    where
        F: Future<Output = Result<ResponseValue<T>, progenitor_client::Error<ErrorResponse>>>,
    {
        let call = Box::pin(call);
        async move {
            match crate::transport::record_request(call).await {
                (Ok(response), _) => Ok(ApiResponse::from_generated(response)),
                (Err(error), request) => {
                    let redactor = progenitor_client::ClientInfo::inner(&*self.raw).redactor();
                    Err(Error::from_generated(error, request, redactor).await)
                }
            }
        }
    }
}

/// `client.fine_tuning()`.
#[derive(Clone, Copy, Debug)]
pub struct FineTuning<'a> {
    client: &'a Client,
}

impl<'a> FineTuning<'a> {
    /// `client.fine_tuning().checkpoints()`.
    pub fn checkpoints(self) -> Checkpoints<'a> {
        Checkpoints {
            client: self.client,
        }
    }
}

/// `client.fine_tuning().checkpoints()`.
#[derive(Clone, Copy, Debug)]
pub struct Checkpoints<'a> {
    client: &'a Client,
}

impl<'a> Checkpoints<'a> {
    /// `client.fine_tuning().checkpoints().permissions()`.
    pub fn permissions(self) -> Permissions<'a> {
        Permissions {
            client: self.client,
        }
    }
}

/// The checkpoint permission methods. All need an admin API key.
///
/// Every method takes the checkpoint first: `delete(checkpoint, permission_id)`
/// where the Python SDK has `delete(permission_id, fine_tuned_model_checkpoint=...)`.
/// Empty ids and empty project lists are refused before any request is sent.
///
/// Every answer comes as an [`ApiResponse`]: the decoded value (it dereferences to
/// it; [`ApiResponse::into_inner`] takes it out) with the status, the headers and
/// the request id. [`list`](Self::list) yields the permissions themselves;
/// [`list_pages`](Self::list_pages) yields each page as an `ApiResponse` (both, and
/// `retrieve`, are defined with the pagination, in `pagination.rs`).
#[derive(Clone, Copy, Debug)]
pub struct Permissions<'a> {
    client: &'a Client,
}

/// The message of the deprecated `retrieve`, as in the official SDKs.
pub const RETRIEVE_DEPRECATION: &str =
    "Retrieve is deprecated. Please swap to the paginated list method instead.";

impl<'a> Permissions<'a> {
    /// The client these methods call through.
    pub(crate) fn client(&self) -> &'a Client {
        self.client
    }

    /// Grants `checkpoint` to each project of `project_ids`; returns the new
    /// permissions as one page (it does not paginate).
    ///
    /// ```no_run
    /// # async fn example(client: permissions_api::Client) -> permissions_api::Result<()> {
    /// let granted = client
    ///     .fine_tuning()
    ///     .checkpoints()
    ///     .permissions()
    ///     .create("ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd", ["proj_a", "proj_b"])
    ///     .await?;
    /// assert_eq!(granted.data.len(), 2);
    /// println!("request id: {:?}", granted.request_id());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create<I, S>(
        &self,
        checkpoint: &str,
        project_ids: I,
    ) -> Result<ApiResponse<PermissionList>>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        require("fine_tuned_model_checkpoint", checkpoint)?;
        let project_ids: Vec<String> = project_ids.into_iter().map(Into::into).collect();
        if project_ids.is_empty() {
            return Err(Error::InvalidArgument(
                "expected at least one project id in `project_ids`".into(),
            ));
        }
        for id in &project_ids {
            require("project_ids[]", id)?;
        }
        let call = self
            .client
            .raw
            .create_fine_tuning_checkpoint_permission()
            .fine_tuned_model_checkpoint(checkpoint)
            .body(CreatePermissionsRequest::new(project_ids))
            .send();
        self.client.call(call).await
    }

    /// Deletes the permission `permission_id` of `checkpoint`.
    ///
    /// ```no_run
    /// # async fn example(client: permissions_api::Client) -> permissions_api::Result<()> {
    /// let deleted = client
    ///     .fine_tuning()
    ///     .checkpoints()
    ///     .permissions()
    ///     .delete("ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd", "cp_zc4Q7MP6XxulcVzj4MZdwsAB")
    ///     .await?;
    /// assert!(deleted.deleted);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete(
        &self,
        checkpoint: &str,
        permission_id: &str,
    ) -> Result<ApiResponse<DeletedPermission>> {
        require("fine_tuned_model_checkpoint", checkpoint)?;
        require("permission_id", permission_id)?;
        let call = self
            .client
            .raw
            .delete_fine_tuning_checkpoint_permission()
            .fine_tuned_model_checkpoint(checkpoint)
            .permission_id(permission_id)
            .send();
        self.client.call(call).await
    }
}

/// Refuses an empty path or body value, as the Python SDK does.
pub(crate) fn require(name: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        Err(Error::InvalidArgument(format!(
            "expected a non-empty value for `{name}` but received {value:?}"
        )))
    } else {
        Ok(())
    }
}
