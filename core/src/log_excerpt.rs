//! What of an upstream's answer may go into the error log. A write API's error answer is useful
//! to an operator ("field type conflict", "database not found"), but a proxy in front of it may
//! echo the request back, token and all: so the excerpt is the JSON error message when there is
//! one, is cut short, has no control characters, and never holds a configured secret.

/// Longest excerpt, in characters.
pub const MAX_EXCERPT_CHARS: usize = 200;
const REDACTED: &str = "[redacted]";
/// Pieces of a secret shorter than this are not searched for on their own (they would match
/// ordinary words); the whole secret always is.
const MIN_SECRET_PIECE: usize = 4;

/// The secrets of a sink: its configured header values and its URL's query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    texts: Vec<String>,
}

impl Secrets {
    pub fn new(header_values: &[&str], query: Option<&str>) -> Secrets {
        let mut texts: Vec<String> = Vec::new();
        let mut add = |text: &str, whole: bool| {
            let text = text.trim();
            if !text.is_empty()
                && (whole || text.len() >= MIN_SECRET_PIECE)
                && !texts.iter().any(|t| t == text)
            {
                texts.push(text.to_owned());
            }
        };
        for value in header_values {
            add(value, true);
            for piece in value.split_whitespace() {
                add(piece, false);
            }
        }
        if let Some(query) = query {
            add(query, true);
            for pair in query.split('&') {
                add(pair, true);
                if let Some((_, value)) = pair.split_once('=') {
                    add(value, false);
                }
            }
        }
        // Longest first, so a whole secret is replaced before its pieces.
        texts.sort_by_key(|t| std::cmp::Reverse(t.len()));
        Secrets { texts }
    }

    /// `text` with every secret replaced by `[redacted]`.
    pub fn redacted(&self, text: &str) -> String {
        let mut text = text.to_owned();
        self.redact(&mut text);
        text
    }

    fn redact(&self, text: &mut String) {
        for secret in &self.texts {
            if text.contains(secret.as_str()) {
                *text = text.replace(secret.as_str(), REDACTED);
            }
        }
    }
}

/// The part of an answer body worth logging: the `error` (or `message`) string of a JSON body,
/// else the body as text; control characters become spaces, secrets `[redacted]`, and the
/// result is cut to [`MAX_EXCERPT_CHARS`].
pub fn upstream_excerpt(body: &[u8], json: bool, secrets: &Secrets) -> String {
    let message = json.then(|| json_message(body)).flatten();
    let mut text = match message {
        Some(message) => message,
        None => String::from_utf8_lossy(body).into_owned(),
    };
    // Redact before cutting, so a secret cut in half cannot survive as its first half.
    secrets.redact(&mut text);
    let mut excerpt: String = text
        .chars()
        .map(|c| {
            if c.is_control() || c.is_whitespace() {
                ' '
            } else {
                c
            }
        })
        .take(MAX_EXCERPT_CHARS)
        .collect();
    // A secret may still have been split by a control character: redact once more.
    secrets.redact(&mut excerpt);
    excerpt.trim().to_owned()
}

fn json_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["error", "message"]
        .iter()
        .find_map(|key| value.get(key).and_then(|m| m.as_str()).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets::new(&["Token s3cr3t-t0ken"], Some("db=analytics&u=admin&p=hunter2"))
    }

    #[test]
    fn an_echoed_request_loses_its_secrets() {
        let echo = b"POST /write?db=analytics&u=admin&p=hunter2 HTTP/1.1\r\nHost: x\r\n\
                     Authorization: Token s3cr3t-t0ken\r\n\r\nline";
        let excerpt = upstream_excerpt(echo, false, &secrets());
        for secret in ["s3cr3t-t0ken", "hunter2", "db=analytics", "u=admin"] {
            assert!(!excerpt.contains(secret), "{secret} in {excerpt}");
        }
        assert!(excerpt.contains("[redacted]"));
        assert!(!excerpt.contains('\r') && !excerpt.contains('\n'));
    }

    #[test]
    fn a_json_error_is_logged_as_its_message() {
        let body = br#"{"error":"field type conflict: input field \"hits\" is type float"}"#;
        assert_eq!(
            upstream_excerpt(body, true, &secrets()),
            "field type conflict: input field \"hits\" is type float"
        );
        assert_eq!(
            upstream_excerpt(br#"{"code":"x","message":"bucket not found"}"#, true, &secrets()),
            "bucket not found"
        );
    }

    #[test]
    fn excerpts_are_short() {
        let body = "x".repeat(10_000);
        assert_eq!(
            upstream_excerpt(body.as_bytes(), false, &Secrets::default()).len(),
            MAX_EXCERPT_CHARS
        );
    }

    #[test]
    fn a_secret_split_by_a_line_break_is_still_redacted() {
        let s = Secrets::new(&["Token abcdefgh"], None);
        let excerpt = upstream_excerpt(b"Token\nabcdefgh", false, &s);
        assert!(!excerpt.contains("abcdefgh"), "{excerpt}");
    }
}
