//! The client users call, shared by its resources: `fine_tuning()` (the
//! checkpoint permissions) and `organization()` (the projects).

use std::future::Future;
use std::sync::Arc;

use permissions_types::ErrorResponse;
use progenitor_client::ResponseValue;

use crate::{ApiResponse, Error, Result, generated};

/// A client of the checkpoint permissions API.
///
/// Cloning is one reference-count increment: clones share the settings, the
/// connection pool and the pacer. Build it with [`Client::builder`] or
/// [`Client::from_env`]; the methods are on
/// [`client.fine_tuning().checkpoints().permissions()`](crate::Permissions), the path the
/// official SDKs use (`client.fine_tuning.checkpoints.permissions`), and the
/// organization's projects on [`client.organization().projects()`](crate::Projects).
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
