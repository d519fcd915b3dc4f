//! Cursor pagination, written once for every listing: a stream of pages, and a
//! stream of items on top.
//!
//! A listing is a [`Page`] type and a way to fetch the page after a cursor; the
//! walk (the stop rule, `max_items`, the cursor-cycle guard) is the same for
//! permissions and projects.

use std::{
    collections::HashSet,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use futures::{
    Stream, StreamExt, TryStreamExt,
    future::BoxFuture,
    stream::{self, BoxStream},
};
use permissions_types::{CheckpointPermission, PermissionList, Project, ProjectList};

use crate::{ApiResponse, Error, Result};

mod sealed {
    pub trait Sealed {}
    impl Sealed for permissions_types::PermissionList {}
    impl Sealed for permissions_types::ProjectList {}
}

/// One page of a cursor-paginated listing: [`PermissionList`] or [`ProjectList`].
///
/// Sealed: the listings are the API's, and the pagination rules are this crate's.
pub trait Page: sealed::Sealed + Send + 'static {
    /// What the page lists.
    type Item: Send + 'static;

    /// The items of this page.
    fn items(&self) -> &[Self::Item];

    /// The items, owned.
    fn into_items(self) -> Vec<Self::Item>;

    /// Keeps the first `len` items.
    fn truncate(&mut self, len: usize);

    /// The cursor of the next page.
    fn last_id(&self) -> Option<&str>;

    /// Whether another page follows.
    fn has_more(&self) -> bool;
}

impl Page for PermissionList {
    type Item = CheckpointPermission;

    fn items(&self) -> &[CheckpointPermission] {
        &self.data
    }

    fn into_items(self) -> Vec<CheckpointPermission> {
        self.data
    }

    fn truncate(&mut self, len: usize) {
        self.data.truncate(len);
    }

    fn last_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    fn has_more(&self) -> bool {
        self.has_more
    }
}

impl Page for ProjectList {
    type Item = Project;

    fn items(&self) -> &[Project] {
        &self.data
    }

    fn into_items(self) -> Vec<Project> {
        self.data
    }

    fn truncate(&mut self, len: usize) {
        self.data.truncate(len);
    }

    fn last_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    fn has_more(&self) -> bool {
        self.has_more
    }
}

/// Fetches the page after a cursor (the first page: the caller's own `after`).
pub(crate) type Fetch<P> =
    Arc<dyn Fn(Option<String>) -> BoxFuture<'static, Result<ApiResponse<P>>> + Send + Sync>;

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
/// the page is empty or `last_id` is missing; and never follow a cursor twice.
fn next_step<P: Page>(page: &P, followed: &HashSet<String>) -> Next {
    match page.last_id() {
        Some(last) if page.has_more() && !page.items().is_empty() => {
            if followed.contains(last) {
                Next::Repeated(last.to_owned())
            } else {
                Next::Fetch(last.to_owned())
            }
        }
        _ => Next::Stop,
    }
}

struct Cursor<P> {
    fetch: Fetch<P>,
    /// The `after` of the next request (first the caller's own, if any).
    next: Option<String>,
    /// How many more items may be returned.
    remaining: Option<u64>,
    /// Every cursor sent in this listing: one id per page, the memory a cycle
    /// guard needs.
    followed: HashSet<String>,
}

impl<P: Page> Cursor<P> {
    /// Fetches the next page; `None` when the previous one was the last.
    async fn advance(mut self) -> Option<(Result<ApiResponse<P>>, Option<Self>)> {
        if self.remaining == Some(0) {
            return None;
        }
        let sent = self.next.take();
        if let Some(cursor) = &sent {
            self.followed.insert(cursor.clone());
        }
        let mut page = match (self.fetch)(sent).await {
            Ok(page) => page,
            Err(error) => return Some((Err(error), None)),
        };
        let step = next_step(&*page, &self.followed);
        if let Next::Repeated(cursor) = step {
            return Some((Err(Error::RepeatedCursor { cursor }), None));
        }
        if let Some(remaining) = &mut self.remaining {
            let keep = usize::try_from(*remaining)
                .unwrap_or(usize::MAX)
                .min(page.items().len());
            page.truncate(keep);
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
/// With a `max_items` cap, the page that reaches it is cut short (its
/// `first_id`/`last_id` still describe the page the server sent) and no further
/// page is fetched. An error ends the stream after it is yielded; an argument
/// refused before any request is the stream's only item.
pub struct PageStream<P: Page = PermissionList> {
    inner: BoxStream<'static, Result<ApiResponse<P>>>,
}

impl<P: Page> PageStream<P> {
    /// Walks the pages from `after` on, at most `max_items` items in all.
    pub(crate) fn new(fetch: Fetch<P>, after: Option<String>, max_items: Option<u64>) -> Self {
        let start = Cursor {
            fetch,
            next: after,
            remaining: max_items,
            followed: HashSet::new(),
        };
        let inner =
            stream::unfold(Some(start), |cursor| async move { cursor?.advance().await }).boxed();
        Self { inner }
    }

    /// A listing refused before its first request: it yields `error` and ends.
    pub(crate) fn refused(error: Error) -> Self {
        Self {
            inner: stream::once(async move { Err(error) }).boxed(),
        }
    }

    /// The items of these pages, one by one.
    pub fn into_items(self) -> ItemStream<P::Item> {
        let inner = self
            .inner
            .map_ok(|page| stream::iter(page.into_inner().into_items().into_iter().map(Ok)))
            .try_flatten()
            .boxed();
        ItemStream { inner }
    }
}

impl<P: Page> Stream for PageStream<P> {
    type Item = Result<ApiResponse<P>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl<P: Page> std::fmt::Debug for PageStream<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageStream")
    }
}

/// Every item of a listing, across pages: what `list` returns.
pub struct ItemStream<T> {
    inner: BoxStream<'static, Result<T>>,
}

/// Every permission of a checkpoint; see [`Permissions::list`](crate::Permissions::list).
pub type PermissionStream = ItemStream<CheckpointPermission>;

/// Every project of the organization; see [`Projects::list`](crate::Projects::list).
pub type ProjectStream = ItemStream<Project>;

impl<T> Stream for ItemStream<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl<T> std::fmt::Debug for ItemStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ItemStream")
    }
}

/// A [`Fetch`] from a function of the cursor that returns a future.
pub(crate) fn fetch_with<P, F, Fut>(fetch: F) -> Fetch<P>
where
    P: Page,
    F: Fn(Option<String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ApiResponse<P>>> + Send + 'static,
{
    Arc::new(move |after| Box::pin(fetch(after)))
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

    #[test]
    fn project_pages_follow_the_same_rule() {
        let projects = ProjectList::new(vec![Project::new("proj_a", None, 0)], true);
        assert_eq!(
            next_step(&projects, &followed(&[])),
            Next::Fetch("proj_a".into())
        );
        assert_eq!(
            next_step(&projects, &followed(&["proj_a"])),
            Next::Repeated("proj_a".into())
        );
    }
}
