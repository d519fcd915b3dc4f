//! Cursor pagination, written once: a stream of pages, and a stream of items on top.

use std::{
    collections::HashSet,
    pin::Pin,
    task::{Context, Poll},
};

use futures::{Stream, StreamExt, TryStreamExt, stream::BoxStream};
use permissions_types::{CheckpointPermission, ListOrder, PermissionList};

use crate::client::require;
use crate::{ApiResponse, Client, Error, Permissions, Result};

/// Parameters of a list request. Unset parameters are not sent (the server then
/// uses its defaults: `limit` 10, `order` descending).
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
}

/// The listing methods of [`Permissions`], here with the cursor walk they share.
impl Permissions<'_> {
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
    pub fn list(&self, checkpoint: &str, params: ListParams) -> PermissionStream {
        self.list_pages(checkpoint, params).into_items()
    }

    /// The pages of [`list`](Self::list), each with its status, headers and
    /// request id.
    pub fn list_pages(&self, checkpoint: &str, params: ListParams) -> PageStream {
        PageStream::new(self.client().clone(), checkpoint.to_owned(), params)
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
        checkpoint: &str,
        params: ListParams,
    ) -> Result<ApiResponse<PermissionList>> {
        fetch_page(self.client(), checkpoint, &params, params.after.as_deref()).await
    }
}

/// Fetches one page: `params`, but the page after `after` (`params.after` is the
/// first page's).
pub(crate) async fn fetch_page(
    client: &Client,
    checkpoint: &str,
    params: &ListParams,
    after: Option<&str>,
) -> Result<ApiResponse<PermissionList>> {
    require("fine_tuned_model_checkpoint", checkpoint)?;
    let mut request = client
        .raw()
        .list_fine_tuning_checkpoint_permissions()
        .fine_tuned_model_checkpoint(checkpoint);
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

/// What to do after a page.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Ask for the page after this cursor.
    Fetch(String),
    /// That was the last page.
    Stop,
    /// The server sent a cursor already followed in this listing: following it
    /// again would loop (`A -> A`, or any longer cycle `A -> B -> ... -> A`).
    Repeated(String),
}

/// The official SDKs' rule: go on with `after = last_id` unless `has_more` is false,
/// `data` is empty or `last_id` is missing; and never follow a cursor twice.
fn next_step(page: &PermissionList, followed: &HashSet<String>) -> Next {
    match &page.last_id {
        Some(last) if page.has_more && !page.data.is_empty() => {
            if followed.contains(last) {
                Next::Repeated(last.clone())
            } else {
                Next::Fetch(last.clone())
            }
        }
        _ => Next::Stop,
    }
}

struct Cursor {
    client: Client,
    checkpoint: String,
    params: ListParams,
    /// The `after` of the next request (first the caller's own, if any).
    next: Option<String>,
    /// How many more items may be returned.
    remaining: Option<u64>,
    /// Every cursor sent in this listing: one id per page, the memory a cycle
    /// guard needs.
    followed: HashSet<String>,
}

impl Cursor {
    /// Fetches the next page; `None` when the previous one was the last.
    async fn advance(mut self) -> Option<(Result<ApiResponse<PermissionList>>, Option<Self>)> {
        if self.remaining == Some(0) {
            return None;
        }
        let sent = self.next.clone();
        if let Some(cursor) = &sent {
            self.followed.insert(cursor.clone());
        }
        let mut page = match fetch_page(
            &self.client,
            &self.checkpoint,
            &self.params,
            sent.as_deref(),
        )
        .await
        {
            Ok(page) => page,
            Err(error) => return Some((Err(error), None)),
        };
        let step = next_step(&page, &self.followed);
        if let Next::Repeated(cursor) = step {
            return Some((Err(Error::RepeatedCursor { cursor }), None));
        }
        if let Some(remaining) = &mut self.remaining {
            let data = &mut page.data;
            let keep = usize::try_from(*remaining)
                .unwrap_or(usize::MAX)
                .min(data.len());
            data.truncate(keep);
            *remaining -= keep as u64;
        }
        match step {
            Next::Fetch(cursor) => {
                self.next = Some(cursor);
                Some((Ok(page), Some(self)))
            }
            _ => Some((Ok(page), None)),
        }
    }
}

/// The pages of a listing, fetched one at a time as the stream is read.
///
/// With [`ListParams::max_items`], the page that reaches the cap is cut short (its
/// `first_id`/`last_id` still describe the page the server sent) and no further
/// page is fetched. A server error ends the stream after yielding it.
pub struct PageStream {
    inner: BoxStream<'static, Result<ApiResponse<PermissionList>>>,
}

impl PageStream {
    pub(crate) fn new(client: Client, checkpoint: String, params: ListParams) -> Self {
        let start = Cursor {
            client,
            checkpoint,
            remaining: params.max_items,
            next: params.after.clone(),
            params,
            followed: HashSet::new(),
        };
        let inner =
            futures::stream::unfold(Some(start), |cursor| async move { cursor?.advance().await })
                .boxed();
        Self { inner }
    }

    /// The permissions of these pages, one by one.
    pub fn into_items(self) -> PermissionStream {
        let inner = self
            .inner
            .map_ok(|page| futures::stream::iter(page.into_inner().data.into_iter().map(Ok)))
            .try_flatten()
            .boxed();
        PermissionStream { inner }
    }
}

impl Stream for PageStream {
    type Item = Result<ApiResponse<PermissionList>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl std::fmt::Debug for PageStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageStream")
    }
}

/// Every permission of a listing, across pages; see [`crate::Permissions::list`].
pub struct PermissionStream {
    inner: BoxStream<'static, Result<CheckpointPermission>>,
}

impl Stream for PermissionStream {
    type Item = Result<CheckpointPermission>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl std::fmt::Debug for PermissionStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PermissionStream")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(ids: &[&str], has_more: bool) -> PermissionList {
        let data = ids
            .iter()
            .map(|id| CheckpointPermission::new(*id, format!("proj_{id}"), 0))
            .collect();
        PermissionList::new(data, has_more)
    }

    fn followed(cursors: &[&str]) -> HashSet<String> {
        cursors.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn continues_after_the_last_id_while_has_more() {
        assert_eq!(
            next_step(&page(&["a", "b"], true), &followed(&[])),
            Next::Fetch("b".into())
        );
        assert_eq!(
            next_step(&page(&["c"], true), &followed(&["b"])),
            Next::Fetch("c".into())
        );
    }

    #[test]
    fn stops_on_has_more_false_empty_data_or_missing_last_id() {
        assert_eq!(next_step(&page(&["a"], false), &followed(&[])), Next::Stop);
        assert_eq!(next_step(&page(&[], true), &followed(&["x"])), Next::Stop);
        let mut missing = page(&["a"], true);
        missing.last_id = None;
        assert_eq!(next_step(&missing, &followed(&[])), Next::Stop);
        // The last page may end on a cursor seen before: there is nothing to follow.
        assert_eq!(
            next_step(&page(&["b"], false), &followed(&["b"])),
            Next::Stop
        );
    }

    #[test]
    fn any_cursor_already_followed_is_caught() {
        assert_eq!(
            next_step(&page(&["a", "b"], true), &followed(&["b"])),
            Next::Repeated("b".into())
        );
        assert_eq!(
            next_step(&page(&["x", "a"], true), &followed(&["a", "b", "c"])),
            Next::Repeated("a".into())
        );
    }
}
