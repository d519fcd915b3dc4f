//! Keeping the key out of errors and logs, whatever a server sends back.
//!
//! A hostile or broken server can echo the `Authorization` header into any field
//! of an error body, into a body that is not JSON, or into a response header.
//! Every text the client keeps from a response for an error or a log line goes
//! through [`Redactor::clean`]: runs of [`MIN_FRAGMENT`] or more characters of the
//! client's own key are masked wherever they stand, and so is any other token that
//! looks like an OpenAI key (`sk-...`, keeping its last 4 characters, as the API
//! itself shows keys).

use reqwest::header::{HeaderMap, HeaderValue};

/// The shortest run of the key's characters that is masked; shorter runs (`admin`,
/// `proj`) are ordinary words.
pub(crate) const MIN_FRAGMENT: usize = 8;

/// What replaces a run of the key.
const MASK: &str = "****";

/// Masks the client's key (and key-like tokens) in text from responses.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    key: Option<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor(<redacted>)")
    }
}

impl Redactor {
    /// A redactor of `key` (and of every key-like token).
    pub(crate) fn new(key: Option<&str>) -> Self {
        Self {
            key: key.map(str::to_owned).filter(|k| !k.is_empty()),
        }
    }

    /// `text` without the key, a fragment of it, or anything that looks like a key.
    pub(crate) fn clean(&self, text: &str) -> String {
        let text = match &self.key {
            Some(key) => mask_fragments(text, key),
            None => text.to_owned(),
        };
        redact_keys(&text)
    }

    /// [`clean`](Self::clean) for optional fields.
    pub(crate) fn clean_opt(&self, text: Option<String>) -> Option<String> {
        text.map(|t| self.clean(&t))
    }

    /// `headers` with every value [`clean`](Self::clean)ed (values that are not
    /// text are read as UTF-8, lossily, first).
    pub(crate) fn clean_headers(&self, headers: &HeaderMap) -> HeaderMap {
        let mut out = HeaderMap::with_capacity(headers.len());
        for (name, value) in headers {
            let text = String::from_utf8_lossy(value.as_bytes());
            if let Ok(clean) = HeaderValue::try_from(self.clean(&text)) {
                out.append(name, clean);
            }
        }
        out
    }
}

/// Replaces every run of [`MIN_FRAGMENT`] or more bytes that also stands in `key`
/// (the whole key when it is shorter) with [`MASK`].
fn mask_fragments(text: &str, key: &str) -> String {
    let key = key.as_bytes();
    let min = MIN_FRAGMENT.min(key.len());
    let bytes = text.as_bytes();
    let in_key = |run: &[u8]| key.windows(run.len()).any(|w| w == run);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i + min <= bytes.len() {
        if !text.is_char_boundary(i) || !in_key(&bytes[i..i + min]) {
            i += 1;
            continue;
        }
        // The key is ASCII (it travels in a header), so a match ends on a char
        // boundary too.
        let mut end = i + min;
        while end < bytes.len() && end - i < key.len() && in_key(&bytes[i..=end]) {
            end += 1;
        }
        out.push_str(&text[copied..i]);
        out.push_str(MASK);
        copied = end;
        i = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Masks every token that looks like an OpenAI key (`sk-...`, 12 characters or
/// more), keeping its last four characters, as the API itself does in its
/// messages: for text that may quote a key given in the wrong place.
///
/// ```
/// let text = "unexpected argument 'sk-admin-0123456789abcdef'";
/// assert_eq!(permissions_api::redact_keys(text), "unexpected argument 'sk-****cdef'");
/// ```
pub fn redact_keys(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("sk-") {
        out.push_str(&rest[..start]);
        let token_len = rest[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len() - start);
        let token = &rest[start..start + token_len];
        if token_len >= 12 {
            out.push_str("sk-****");
            out.push_str(&token[token_len - 4..]);
        } else {
            out.push_str(token);
        }
        rest = &rest[start + token_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-admin-hostile-test-ABCDEFGHIJ0123456789";

    #[test]
    fn the_key_and_its_fragments_are_masked_anywhere() {
        let r = Redactor::new(Some(KEY));
        for text in [
            format!("Bearer {KEY}"),
            format!("x{KEY}y"),
            format!("the key was {}", &KEY[3..KEY.len() - 4]),
            format!("{}...", &KEY[10..30]),
            format!("é{KEY}é"),
        ] {
            let clean = r.clean(&text);
            assert!(!clean.contains(&KEY[..KEY.len() - 4]), "{clean}");
            for start in 0..KEY.len() - MIN_FRAGMENT {
                assert!(
                    !clean.contains(&KEY[start..start + MIN_FRAGMENT]),
                    "{text} -> {clean}"
                );
            }
        }
        // Ordinary words survive.
        assert_eq!(
            r.clean("it requires an admin key: proj_abc"),
            "it requires an admin key: proj_abc"
        );
        assert_eq!(r.clean(""), "");
    }

    #[test]
    fn key_like_tokens_are_masked_even_without_a_key() {
        let text = "Incorrect API key provided: sk-admin-abcdefghijklmnop1234. Also sk-x.";
        assert_eq!(
            Redactor::new(None).clean(text),
            "Incorrect API key provided: sk-****1234. Also sk-x."
        );
        assert!(!format!("{:?}", Redactor::new(Some(KEY))).contains("hostile"));
    }
}
