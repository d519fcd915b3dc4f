//! `client.fine_tuning().checkpoints().permissions()`: the official SDKs' four
//! methods (`list`, `retrieve`, `create`, `delete`), and the parameters of a
//! listing.

use permissions_types::{
    CheckpointId, CreatePermissionsRequest, DeletedPermission, IntoId, ListOrder, PermissionId,
    PermissionList, ProjectId,
};

use crate::pagination::{PageStream, PermissionStream, fetch_with};
use crate::{ApiResponse, Client, Error, Result};

/// The message of the deprecated `retrieve`, as in the official SDKs.
pub const RETRIEVE_DEPRECATION: &str =
    "Retrieve is deprecated. Please swap to the paginated list method instead.";

/// The fine-tuning resources of a client.
impl Client {
    /// `client.fine_tuning()`.
    pub fn fine_tuning(&self) -> FineTuning<'_> {
        FineTuning { client: self }
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
/// Ids are taken as text or as the id types of [`permissions_types::ids`]
/// ([`IntoId`]); a malformed one ([`Error::InvalidId`]) or an empty project list
/// is refused before any request is sent.
///
/// Every answer comes as an [`ApiResponse`]: the decoded value (it dereferences to
/// it; [`ApiResponse::into_inner`] takes it out) with the status, the headers and
/// the request id. [`list`](Self::list) yields the permissions themselves;
/// [`list_pages`](Self::list_pages) yields each page as an `ApiResponse`.
#[derive(Clone, Copy, Debug)]
pub struct Permissions<'a> {
    client: &'a Client,
}

/// Parameters of a permission listing. Unset parameters are not sent (the server
/// then uses its defaults: `limit` 10, `order` descending).
///
/// `after` and `project_id` are checked as a [`PermissionId`] and a [`ProjectId`]
/// when the listing starts.
///
/// ```
/// use permissions_api::{ListParams, permissions_types::ListOrder};
///
/// let params = ListParams::new().limit(100).order(ListOrder::Ascending).max_items(250);
/// assert_eq!(params.limit, Some(100));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListParams {
    /// Start after this permission id (exclusive cursor).
    pub after: Option<String>,
    /// Permissions per page (the server accepts 1 to 100).
    pub limit: Option<u32>,
    /// Creation order.
    pub order: Option<ListOrder>,
    /// Only the permission of this project.
    pub project_id: Option<String>,
    /// Stop after this many permissions in all (client side; never sent).
    pub max_items: Option<u64>,
}

impl ListParams {
    /// No parameters: the server's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`after`](Self::after).
    pub fn after(mut self, after: impl Into<String>) -> Self {
        self.after = Some(after.into());
        self
    }

    /// Sets [`limit`](Self::limit).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Sets [`order`](Self::order).
    pub fn order(mut self, order: ListOrder) -> Self {
        self.order = Some(order);
        self
    }

    /// Sets [`project_id`](Self::project_id).
    pub fn project_id(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = Some(project_id.into());
        self
    }

    /// Sets [`max_items`](Self::max_items).
    pub fn max_items(mut self, max_items: u64) -> Self {
        self.max_items = Some(max_items);
        self
    }

    /// Checks the ids the caller gave.
    fn check(&self) -> Result<()> {
        if let Some(after) = &self.after {
            Error::check_id::<PermissionId>("after", after)?;
        }
        if let Some(project_id) = &self.project_id {
            Error::check_id::<ProjectId>("project_id", project_id)?;
        }
        Ok(())
    }
}

impl<'a> Permissions<'a> {
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
    pub async fn create<I>(
        &self,
        checkpoint: impl IntoId<CheckpointId>,
        project_ids: I,
    ) -> Result<ApiResponse<PermissionList>>
    where
        I: IntoIterator,
        I::Item: IntoId<ProjectId>,
    {
        let checkpoint = checkpoint_id(checkpoint)?;
        let project_ids = project_ids
            .into_iter()
            .enumerate()
            .map(|(i, id)| Error::check_id::<ProjectId>(format!("project_ids[{i}]"), id))
            .map(|id| id.map(ProjectId::into_string))
            .collect::<Result<Vec<String>>>()?;
        if project_ids.is_empty() {
            return Err(Error::InvalidArgument(
                "expected at least one project id in `project_ids`".into(),
            ));
        }
        let call = self
            .client
            .raw()
            .create_fine_tuning_checkpoint_permission()
            .fine_tuned_model_checkpoint(checkpoint.as_str())
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
        checkpoint: impl IntoId<CheckpointId>,
        permission_id: impl IntoId<PermissionId>,
    ) -> Result<ApiResponse<DeletedPermission>> {
        let checkpoint = checkpoint_id(checkpoint)?;
        let permission_id = Error::check_id::<PermissionId>("permission_id", permission_id)?;
        let call = self
            .client
            .raw()
            .delete_fine_tuning_checkpoint_permission()
            .fine_tuned_model_checkpoint(checkpoint.as_str())
            .permission_id(permission_id.as_str())
            .send();
        self.client.call(call).await
    }

    /// Every permission of `checkpoint`, as a stream that fetches page after page
    /// (`after` = the previous page's `last_id`) while it is read. Only one page is
    /// held in memory at a time.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// use permissions_api::{ListParams, permissions_types::ListOrder};
    ///
    /// # async fn example(client: permissions_api::Client) -> permissions_api::Result<()> {
    /// let params = ListParams::new().limit(100).order(ListOrder::Ascending);
    /// let all: Vec<_> = client
    ///     .fine_tuning()
    ///     .checkpoints()
    ///     .permissions()
    ///     .list("ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd", params)
    ///     .try_collect()
    ///     .await?;
    /// println!("{} permissions", all.len());
    /// # Ok(())
    /// # }
    /// ```
    pub fn list(
        &self,
        checkpoint: impl IntoId<CheckpointId>,
        params: ListParams,
    ) -> PermissionStream {
        self.list_pages(checkpoint, params).into_items()
    }

    /// The pages of [`list`](Self::list), each with its status, headers and
    /// request id.
    pub fn list_pages(
        &self,
        checkpoint: impl IntoId<CheckpointId>,
        params: ListParams,
    ) -> PageStream<PermissionList> {
        let checkpoint = match checkpoint_id(checkpoint).and_then(|c| params.check().map(|()| c)) {
            Ok(checkpoint) => checkpoint,
            Err(error) => return PageStream::refused(error),
        };
        let (after, max_items) = (params.after.clone(), params.max_items);
        let client = self.client.clone();
        let fetch = fetch_with(move |after| {
            let (client, checkpoint, params) = (client.clone(), checkpoint.clone(), params.clone());
            async move { fetch_page(&client, &checkpoint, &params, after).await }
        });
        PageStream::new(fetch, after, max_items)
    }

    /// One page of permissions, as the server returns it for `params`.
    ///
    /// Kept for parity with the official SDKs, where it is deprecated too: use
    /// [`list`](Self::list) or [`list_pages`](Self::list_pages).
    ///
    /// ```no_run
    /// # async fn example(client: permissions_api::Client) -> permissions_api::Result<()> {
    /// # #[allow(deprecated)]
    /// let page = client
    ///     .fine_tuning()
    ///     .checkpoints()
    ///     .permissions()
    ///     .retrieve("ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd", Default::default())
    ///     .await?;
    /// println!("{} permissions, more: {}", page.data.len(), page.has_more);
    /// # Ok(())
    /// # }
    /// ```
    #[deprecated(
        note = "Retrieve is deprecated. Please swap to the paginated list method instead."
    )]
    pub async fn retrieve(
        &self,
        checkpoint: impl IntoId<CheckpointId>,
        params: ListParams,
    ) -> Result<ApiResponse<PermissionList>> {
        let checkpoint = checkpoint_id(checkpoint)?;
        params.check()?;
        let after = params.after.clone();
        fetch_page(self.client, &checkpoint, &params, after).await
    }
}

fn checkpoint_id(checkpoint: impl IntoId<CheckpointId>) -> Result<CheckpointId> {
    Error::check_id("fine_tuned_model_checkpoint", checkpoint)
}

/// Fetches one page: `params`, but the page after `after` (the first page's is
/// `params.after`; a server's cursor is sent as it came).
async fn fetch_page(
    client: &Client,
    checkpoint: &CheckpointId,
    params: &ListParams,
    after: Option<String>,
) -> Result<ApiResponse<PermissionList>> {
    let mut request = client
        .raw()
        .list_fine_tuning_checkpoint_permissions()
        .fine_tuned_model_checkpoint(checkpoint.as_str());
    if let Some(after) = after {
        request = request.after(after);
    }
    if let Some(limit) = params.limit {
        request = request.limit(i64::from(limit));
    }
    if let Some(order) = params.order {
        request = request.order(order);
    }
    if let Some(project_id) = &params.project_id {
        request = request.project_id(project_id.as_str());
    }
    client.call(request.send()).await
}
