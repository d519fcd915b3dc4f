//! Configuring a [`Client`]: builder, environment variables, defaults.

use std::{fmt, time::Duration};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::{Client, ConfigError, Error, Pacing, Result, RetryPolicy, transport::Transport};

/// The API's address unless configured otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// How long a request may take, as in the official SDKs.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// How long connecting may take, as in the official SDKs.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The `User-Agent` sent unless configured otherwise.
pub const USER_AGENT: &str = concat!(
    env!("CARGO_PKG_NAME"),
    "/",
    env!("CARGO_PKG_VERSION"),
    " (Rust)"
);

/// The environment variables [`ClientBuilder::from_env`] reads.
pub mod env {
    /// The admin key; preferred.
    pub const ADMIN_KEY: &str = "OPENAI_ADMIN_KEY";
    /// The key used when no admin key is set.
    pub const API_KEY: &str = "OPENAI_API_KEY";
    /// The base URL.
    pub const BASE_URL: &str = "OPENAI_BASE_URL";
    /// Sent as `OpenAI-Organization`.
    pub const ORG_ID: &str = "OPENAI_ORG_ID";
    /// Sent as `OpenAI-Project`.
    pub const PROJECT_ID: &str = "OPENAI_PROJECT_ID";
    /// Requests per minute and endpoint ([`Pacing::max_rpm`](crate::Pacing::max_rpm)).
    pub const MAX_RPM: &str = "OPENAI_ADMIN_MAX_RPM";
    /// Requests at once within it ([`Pacing::burst`](crate::Pacing::burst)).
    pub const BURST: &str = "OPENAI_ADMIN_BURST";
}

/// An API key. Its `Debug` output is redacted and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself; handle with care.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        Self(key)
    }
}

impl From<&str> for ApiKey {
    fn from(key: &str) -> Self {
        Self(key.to_owned())
    }
}

/// The constructors of [`Client`], here with the settings they read.
impl Client {
    /// A builder with the official SDKs' defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client configured from `OPENAI_ADMIN_KEY` (or `OPENAI_API_KEY`),
    /// `OPENAI_BASE_URL`, `OPENAI_ORG_ID` and `OPENAI_PROJECT_ID`.
    pub fn from_env() -> Result<Self> {
        ClientBuilder::from_env().build()
    }
}

/// Builds a [`Client`]. Every setting has the official SDKs' default.
///
/// ```
/// use std::time::Duration;
///
/// let client = permissions_api::Client::builder()
///     .api_key("sk-admin-example")
///     .base_url("http://127.0.0.1:8089/v1")
///     .organization("org-123")
///     .timeout(Duration::from_secs(30))
///     .max_retries(5)
///     .build()?;
/// assert_eq!(client.base_url(), "http://127.0.0.1:8089/v1");
/// # Ok::<(), permissions_api::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    base_url: Option<String>,
    organization: Option<String>,
    project: Option<String>,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    pacing: Pacing,
    /// Where the pacing state shared with other processes is kept, if anywhere.
    pacing_state: Option<std::path::PathBuf>,
    /// The variables whose values could not be read (name, value), reported by
    /// `build` unless the builder set the same thing.
    bad_variables: Vec<(&'static str, String)>,
    user_agent: Option<String>,
    http_client: Option<reqwest::Client>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A header's value or the base URL may hold a secret: neither is shown whole.
        let headers: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url.as_deref().map(shown))
            .field("organization", &self.organization)
            .field("project", &self.project)
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("pacing", &self.pacing)
            .field("pacing_state", &self.pacing_state)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A builder with nothing set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder filled from the environment: the key from `OPENAI_ADMIN_KEY`, else
    /// `OPENAI_API_KEY`; `OPENAI_BASE_URL`, `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID`;
    /// the pacing from `OPENAI_ADMIN_MAX_RPM` and `OPENAI_ADMIN_BURST` (whole
    /// numbers; anything else fails at [`build`](Self::build)). Empty variables count
    /// as unset. Later calls override what it read.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut builder = Self {
            api_key: get(env::ADMIN_KEY)
                .or_else(|| get(env::API_KEY))
                .map(ApiKey),
            base_url: get(env::BASE_URL),
            organization: get(env::ORG_ID),
            project: get(env::PROJECT_ID),
            ..Self::default()
        };
        // Read once, into numbers; a bad value is reported by `build`, unless
        // the builder sets the same thing.
        let mut requests = |variable: &'static str| {
            let value = get(variable)?;
            match value.trim().parse::<u32>().ok().filter(|n| *n > 0) {
                Some(number) => Some(number),
                None => {
                    builder.bad_variables.push((variable, value));
                    None
                }
            }
        };
        let (max_rpm, burst) = (requests(env::MAX_RPM), requests(env::BURST));
        builder.pacing.max_rpm = max_rpm;
        builder.pacing.burst = burst;
        builder
    }

    /// Forgets a bad value of `variable`: the builder now sets what it set.
    fn overrides(&mut self, variable: &str) {
        self.bad_variables.retain(|(v, _)| *v != variable);
    }

    /// The admin API key (`sk-admin-...`).
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The API's base URL, such as `https://api.openai.com/v1`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Sends `OpenAI-Organization`.
    pub fn organization(mut self, organization: impl Into<String>) -> Self {
        self.organization = Some(organization.into());
        self
    }

    /// Sends `OpenAI-Project`.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// Adds a header to every request (to the base URL only). Its value is treated
    /// as a secret: never shown in `Debug` output.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The time limit of each attempt (default 600 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The time limit for connecting (default 5 s). Ignored with
    /// [`http_client`](Self::http_client), whose own setting applies.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Retries after a failed attempt (default 2); 0 disables retrying.
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.retry = Some(RetryPolicy {
            max_retries,
            ..self.retry.unwrap_or_default()
        });
        self
    }

    /// The whole retry policy.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// How long one request keeps retrying 429s (default 5 minutes; `None`: for as
    /// long as it takes). See [`RetryPolicy::rate_limit_budget`].
    pub fn rate_limit_budget(mut self, budget: Option<Duration>) -> Self {
        self.retry = Some(RetryPolicy {
            rate_limit_budget: budget,
            ..self.retry.unwrap_or_default()
        });
        self
    }

    /// At most `max_rpm` requests per minute to each endpoint, shared by every
    /// clone of the client (default: learned from the server's 429s). Overrides
    /// `OPENAI_ADMIN_MAX_RPM`.
    pub fn max_rpm(mut self, max_rpm: u32) -> Self {
        self.pacing.max_rpm = Pacing::max_rpm(max_rpm).max_rpm;
        self.overrides(env::MAX_RPM);
        self
    }

    /// With [`max_rpm`](Self::max_rpm), how many requests may go at once (default
    /// 1: evenly spaced). Overrides `OPENAI_ADMIN_BURST`.
    pub fn burst(mut self, burst: u32) -> Self {
        self.pacing = self.pacing.burst(burst);
        self.overrides(env::BURST);
        self
    }

    /// The whole pacing configuration; see [`Pacing`].
    pub fn pacing(mut self, pacing: Pacing) -> Self {
        self.pacing = pacing;
        self.overrides(env::MAX_RPM);
        self.overrides(env::BURST);
        self
    }

    /// Shares what the pacer learns and spends with the other processes (and
    /// clients) that use the same base URL and key, through a small state file in
    /// `dir` (one per base URL and key fingerprint; never the key itself): a
    /// process started within a window that others spent waits for it to refill
    /// instead of discovering it with 429s. Off by default;
    /// [`default_pacing_state_dir`](crate::default_pacing_state_dir) is the user's
    /// cache directory. A corrupt, foreign, stale or long-locked file is skipped
    /// with one warning, never an error.
    pub fn pacing_state_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.pacing_state = Some(dir.into());
        self
    }

    /// The `User-Agent` header (default: this crate's name and version).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Sends requests with your own `reqwest::Client` (proxies, TLS roots, ...).
    /// Its redirect policy applies: the default client follows no redirect out
    /// of the base URL, where the key would go too.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Checks the settings and builds the client; nothing is sent.
    ///
    /// Fails when there is no key, when the base URL is not an absolute `http` or
    /// `https` URL, or when a header name or value is invalid.
    pub fn build(self) -> Result<Client> {
        if let Some((variable, value)) = self.bad_variables.into_iter().next() {
            // Both variables this builder reads hold numbers of requests.
            return Err(ConfigError::InvalidVariable {
                variable,
                value,
                expected: "a whole number of requests above 0",
            }
            .into());
        }
        let key = self
            .api_key
            .filter(|k| !k.0.trim().is_empty())
            .ok_or(ConfigError::MissingKey)?;
        let base_url = parse_base_url(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;
        let pacing = self.pacing;

        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::try_from(format!("Bearer {}", key.0))
            .map_err(|_| ConfigError::UnsendableKey)?;
        auth.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, auth);
        let named = [
            ("openai-organization", self.organization),
            ("openai-project", self.project),
            (
                "user-agent",
                Some(self.user_agent.unwrap_or_else(|| USER_AGENT.to_owned())),
            ),
        ];
        // What a caller adds may be a secret, as the key is.
        let extra = self.headers.into_iter().map(|(n, v)| (n, Some(v), true));
        for (name, value, sensitive) in named
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v, false))
            .chain(extra)
        {
            let Some(value) = value else { continue };
            let header =
                HeaderName::try_from(name.as_str()).map_err(|_| ConfigError::InvalidHeader {
                    name: name.clone(),
                    what: "the name",
                })?;
            let mut value =
                HeaderValue::try_from(value).map_err(|_| ConfigError::InvalidHeader {
                    name: name.clone(),
                    what: "the value",
                })?;
            value.set_sensitive(sensitive);
            headers.insert(header, value);
        }

        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let http = match self.http_client {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
                .redirect(within(&base_url))
                .build()
                .map_err(ConfigError::HttpClient)?,
        };
        let store = self
            .pacing_state
            .as_deref()
            .map(|dir| crate::pacing::store::Store::new(dir, &base_url, key.expose()));
        let transport = Transport::new(
            format!("{base_url}/"),
            headers,
            self.retry.unwrap_or_default(),
            Some(timeout),
        )
        .with_pacer(crate::pacing::Pacer::new(pacing, store));
        Ok(Client::from_parts(
            crate::generated::Client::new_with_client(&base_url, http, transport),
        ))
    }
}

/// The redirects followed: those that stay under `base_url` (reqwest's limit of
/// 10). A request carries the key, and reqwest keeps it on a redirect to the
/// same host, whatever the path: a redirect out of the base URL is not followed,
/// and its 3xx is the answer.
fn within(base_url: &str) -> reqwest::redirect::Policy {
    const MOST: usize = 10;
    let prefix = format!("{base_url}/");
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MOST {
            attempt.error(format!("more than {MOST} redirects"))
        } else if attempt.url().as_str().starts_with(&prefix) {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// Checks a base URL and returns it without a trailing slash.
fn parse_base_url(text: &str) -> Result<String> {
    let invalid = |why: &str| {
        Error::from(ConfigError::InvalidBaseUrl {
            url: shown(text),
            reason: why.to_owned(),
        })
    };
    let url = reqwest::Url::parse(text.trim()).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none() {
        return Err(invalid("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials go in the API key, not in the URL"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A base URL as an error shows it: a password or a query, which may hold a
/// secret, is masked, and so is a key given in its place.
fn shown(text: &str) -> String {
    const MASK: &str = "***";
    let Ok(mut url) = reqwest::Url::parse(text.trim()) else {
        // Unparsed: whatever comes before an `@` may be credentials.
        return crate::redact_keys(&match text.rsplit_once('@') {
            Some((_, rest)) => format!("{MASK}@{rest}"),
            None => text.to_owned(),
        });
    };
    if url.password().is_some() {
        // Cannot fail: a URL with a password has a host.
        let _ = url.set_password(Some(MASK));
    }
    if url.query().is_some() {
        url.set_query(Some(MASK));
    }
    crate::redact_keys(url.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn admin_key_wins_over_api_key_and_empty_counts_as_unset() {
        let b = ClientBuilder::from_lookup(lookup(&[
            ("OPENAI_ADMIN_KEY", "sk-admin-1"),
            ("OPENAI_API_KEY", "sk-proj-2"),
        ]));
        assert_eq!(b.api_key.unwrap().expose(), "sk-admin-1");
        let b = ClientBuilder::from_lookup(lookup(&[
            ("OPENAI_ADMIN_KEY", " "),
            ("OPENAI_API_KEY", "sk-proj-2"),
        ]));
        assert_eq!(b.api_key.unwrap().expose(), "sk-proj-2");
    }

    #[test]
    fn environment_fills_every_setting() {
        let b = ClientBuilder::from_lookup(lookup(&[
            ("OPENAI_ADMIN_KEY", "sk-admin-1"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/"),
            ("OPENAI_ORG_ID", "org-1"),
            ("OPENAI_PROJECT_ID", "proj-1"),
        ]));
        assert_eq!(b.organization.as_deref(), Some("org-1"));
        assert_eq!(b.project.as_deref(), Some("proj-1"));
        let client = b.build().unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:9/v1");
    }

    #[test]
    fn pacing_comes_from_the_environment_and_bad_values_are_refused() {
        let b = ClientBuilder::from_lookup(lookup(&[
            ("OPENAI_ADMIN_KEY", "sk-admin-1"),
            ("OPENAI_ADMIN_MAX_RPM", "8"),
            ("OPENAI_ADMIN_BURST", " 2 "),
        ]));
        assert_eq!((b.pacing.max_rpm, b.pacing.burst), (Some(8), Some(2)));
        assert!(b.clone().build().is_ok());
        // An explicit setting replaces the variable.
        let b = b.max_rpm(10);
        assert_eq!((b.pacing.max_rpm, b.pacing.burst), (Some(10), Some(2)));
        for bad in ["eight", "0", "-1", "1.5"] {
            let pairs: &'static [(&'static str, &'static str)] = Box::leak(Box::new([
                ("OPENAI_ADMIN_KEY", "sk-admin-1"),
                (
                    "OPENAI_ADMIN_MAX_RPM",
                    Box::leak(bad.to_owned().into_boxed_str()),
                ),
            ]));
            let err = ClientBuilder::from_lookup(lookup(pairs))
                .build()
                .unwrap_err();
            assert!(
                matches!(&err, Error::Config(ConfigError::InvalidVariable { variable, .. }) if *variable == "OPENAI_ADMIN_MAX_RPM"),
                "{err}"
            );
            assert!(err.to_string().contains("OPENAI_ADMIN_MAX_RPM"), "{err}");
            // The builder's own setting replaces the bad variable.
            let fixed = ClientBuilder::from_lookup(lookup(pairs)).max_rpm(8).build();
            assert!(fixed.is_ok());
        }
        // Replacing one bad variable does not hide the other.
        let err = ClientBuilder::from_lookup(lookup(&[
            ("OPENAI_ADMIN_KEY", "sk-admin-1"),
            ("OPENAI_ADMIN_MAX_RPM", "eight"),
            ("OPENAI_ADMIN_BURST", "two"),
        ]))
        .max_rpm(8)
        .build()
        .unwrap_err();
        assert!(
            matches!(&err, Error::Config(ConfigError::InvalidVariable { variable, .. }) if *variable == "OPENAI_ADMIN_BURST"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_key_names_the_variables() {
        let err = ClientBuilder::from_lookup(|_| None).build().unwrap_err();
        let message = err.to_string();
        assert!(message.contains("OPENAI_ADMIN_KEY"), "{message}");
        assert!(message.contains("OPENAI_API_KEY"), "{message}");
    }

    #[test]
    fn invalid_base_urls_are_refused() {
        for url in [
            "api.openai.com/v1",
            "ftp://example.com",
            "http://",
            "https://x/v1?a=1",
            "https://user:pw@x/v1",
            "",
        ] {
            let err = Client::builder()
                .api_key("sk-admin-x")
                .base_url(url)
                .build();
            assert!(matches!(err, Err(Error::Config(_))), "{url:?} accepted");
        }
    }

    #[test]
    fn a_refused_base_url_is_shown_without_its_secrets() {
        for url in [
            "https://user:sk-secret@x/v1",
            "https://x/v1?key=sk-secret",
            "ftp://user:sk-secret@x/v1",
            "not a url user:sk-secret@x",
        ] {
            let err = Client::builder()
                .api_key("sk-admin-x")
                .base_url(url)
                .build()
                .unwrap_err();
            let message = err.to_string();
            assert!(matches!(
                err,
                Error::Config(ConfigError::InvalidBaseUrl { .. })
            ));
            assert!(!message.contains("sk-secret"), "{message}");
            assert!(!format!("{err:?}").contains("sk-secret"), "{err:?}");
            assert!(message.contains("***"), "{message}");
        }
    }

    #[test]
    fn invalid_headers_are_refused_without_echoing_the_key() {
        let err = Client::builder()
            .api_key("sk-admin-secret\nvalue")
            .build()
            .unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        let err = Client::builder()
            .api_key("sk-admin-x")
            .header("bad header", "v")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("bad header"));
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let key = "sk-admin-very-secret-key-0000";
        let builder = Client::builder().api_key(key);
        assert!(!format!("{builder:?}").contains("very-secret"));
        let client = builder.build().unwrap();
        assert!(!format!("{client:?}").contains("very-secret"), "{client:?}");
        // A header the caller adds, and a base URL with credentials, too.
        let builder = Client::builder()
            .api_key(key)
            .header("x-proxy-token", "very-secret-token")
            .base_url("https://user:very-secret@x/v1");
        assert!(
            !format!("{builder:?}").contains("very-secret"),
            "{builder:?}"
        );
        assert!(
            format!("{builder:?}").contains("x-proxy-token"),
            "{builder:?}"
        );
        let client = builder.base_url("https://x/v1").build().unwrap();
        assert!(!format!("{client:?}").contains("very-secret"), "{client:?}");
    }
}
