//! `client.organization().projects()`: the organization's projects, read to check
//! and name the projects a checkpoint is shared with (`GET /organization/projects`,
//! an admin endpoint paced and retried like the permission endpoints).

use permissions_types::{ProjectId, ProjectList};

use crate::pagination::{PageStream, ProjectStream, fetch_with};
use crate::{ApiResponse, Client, Error, Result};

/// The organization resources of a client.
impl Client {
    /// `client.organization()`.
    pub fn organization(&self) -> Organization<'_> {
        Organization { client: self }
    }
}

/// `client.organization()`.
#[derive(Clone, Copy, Debug)]
pub struct Organization<'a> {
    client: &'a Client,
}

impl<'a> Organization<'a> {
    /// `client.organization().projects()`.
    pub fn projects(self) -> Projects<'a> {
        Projects {
            client: self.client,
        }
    }
}

/// The organization's projects. Needs an admin API key.
#[derive(Clone, Copy, Debug)]
pub struct Projects<'a> {
    client: &'a Client,
}

/// Parameters of a project listing. Unset parameters are not sent (the server then
/// uses its defaults: `limit` 20, archived projects left out).
///
/// `after` is checked as a [`ProjectId`] when the listing starts.
///
/// ```
/// use permissions_api::ProjectListParams;
///
/// let params = ProjectListParams::new().limit(100).include_archived(true);
/// assert_eq!(params.include_archived, Some(true));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProjectListParams {
    /// Start after this project id (exclusive cursor).
    pub after: Option<String>,
    /// Projects per page (the server accepts 1 to 100).
    pub limit: Option<u32>,
    /// Whether archived projects are listed too.
    pub include_archived: Option<bool>,
    /// Stop after this many projects in all (client side; never sent).
    pub max_items: Option<u64>,
}

impl ProjectListParams {
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

    /// Sets [`include_archived`](Self::include_archived).
    pub fn include_archived(mut self, include_archived: bool) -> Self {
        self.include_archived = Some(include_archived);
        self
    }

    /// Sets [`max_items`](Self::max_items).
    pub fn max_items(mut self, max_items: u64) -> Self {
        self.max_items = Some(max_items);
        self
    }
}

impl Projects<'_> {
    /// Every project of the organization, as a stream that fetches page after page
    /// while it is read.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// use permissions_api::ProjectListParams;
    ///
    /// # async fn example(client: permissions_api::Client) -> permissions_api::Result<()> {
    /// let params = ProjectListParams::new().limit(100).include_archived(true);
    /// let mut projects = client.organization().projects().list(params);
    /// while let Some(project) = projects.try_next().await? {
    ///     println!("{} {:?} archived: {}", project.id, project.name, project.is_archived());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn list(&self, params: ProjectListParams) -> ProjectStream {
        self.list_pages(params).into_items()
    }

    /// The pages of [`list`](Self::list), each with its status, headers and
    /// request id.
    pub fn list_pages(&self, params: ProjectListParams) -> PageStream<ProjectList> {
        if let Some(after) = &params.after
            && let Err(error) = Error::check_id::<ProjectId>("after", after)
        {
            return PageStream::refused(error);
        }
        let (after, max_items) = (params.after.clone(), params.max_items);
        let client = self.client.clone();
        let fetch = fetch_with(move |after| {
            let (client, params) = (client.clone(), params.clone());
            async move { fetch_page(&client, &params, after).await }
        });
        PageStream::new(fetch, after, max_items)
    }
}

/// Fetches the page of projects after `after` with `params`.
async fn fetch_page(
    client: &Client,
    params: &ProjectListParams,
    after: Option<String>,
) -> Result<ApiResponse<ProjectList>> {
    let mut request = client.raw().list_projects();
    if let Some(after) = after {
        request = request.after(after);
    }
    if let Some(limit) = params.limit {
        request = request.limit(i64::from(limit));
    }
    if let Some(include_archived) = params.include_archived {
        request = request.include_archived(include_archived);
    }
    client.call(request.send()).await
}
