//! Files compiled into the module (the browser script, the dashboard's page, script and style),
//! served the same way: gzipped once when the configuration is read and served gzipped to every
//! client that takes gzip, whatever nginx's `gzip` settings; each representation has its own
//! strong `ETag` (a `304` when `If-None-Match` names the one the request would get), and
//! `Vary: Accept-Encoding` tells caches to keep them apart. `GET` and `HEAD` only.

use std::io::Write;

use analytics_core::representation::{accepts_gzip, none_match_names};
use nginx_sys::{
    ngx_http_discard_request_body, ngx_http_request_t, ngx_int_t, NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_OK,
};

use crate::response::{request_header, send, send_typed, Header};

/// The most headers a caller adds to the ones every file gets.
const MAX_EXTRA_HEADERS: usize = 8;

/// One representation: its bytes and a strong `ETag` made from them.
struct Representation {
    body: Vec<u8>,
    etag: String,
}

impl Representation {
    fn new(body: Vec<u8>) -> Representation {
        let etag = format!("\"{:016x}\"", fnv1a(&body));
        Representation { body, etag }
    }
}

/// A file as served: plain and gzipped, with its content type.
pub struct EmbeddedFile {
    plain: Representation,
    gzipped: Representation,
    content_type: &'static str,
}

impl EmbeddedFile {
    pub fn new(body: Vec<u8>, content_type: &'static str) -> Result<EmbeddedFile, String> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let gzipped = encoder
            .write_all(&body)
            .and_then(|()| encoder.finish())
            .map_err(|e| format!("cannot gzip an embedded file: {e}"))?;
        Ok(EmbeddedFile {
            plain: Representation::new(body),
            gzipped: Representation::new(gzipped),
            content_type,
        })
    }

    /// Sends this file (or `304`, or `405` for a method other than `GET`/`HEAD`) with `headers`
    /// added, and returns the code to finalize the request with.
    ///
    /// # Safety
    /// `r` must be a valid request whose response has not been sent.
    pub unsafe fn serve(&self, r: *mut ngx_http_request_t, headers: &[Header]) -> ngx_int_t {
        // SAFETY (caller): valid request.
        let req = unsafe { &*r };
        // SAFETY (caller): a valid request; the file is served whatever body came with it.
        let rc = unsafe { ngx_http_discard_request_body(r) };
        if rc != NGX_OK as ngx_int_t {
            return rc;
        }
        let method = req.method as u32;
        if method != NGX_HTTP_GET && method != NGX_HTTP_HEAD {
            // SAFETY (caller): a valid request whose response has not been sent.
            return unsafe { send(r, 405, &[("Allow", "GET, HEAD")], b"405 Method Not Allowed\n") };
        }
        // SAFETY (caller): a valid request.
        let gzip = accepts_gzip(unsafe { request_header(req, "Accept-Encoding") });
        let chosen = if gzip { &self.gzipped } else { &self.plain };
        let mut all: [Header; MAX_EXTRA_HEADERS + 3] = [("", ""); MAX_EXTRA_HEADERS + 3];
        // Callers pass constant lists (the agent 1, the dashboard 5): a longer one is a bug here.
        debug_assert!(
            headers.len() <= MAX_EXTRA_HEADERS,
            "too many headers for an embedded file"
        );
        let extra = headers.len().min(MAX_EXTRA_HEADERS);
        all[..extra].copy_from_slice(&headers[..extra]);
        all[extra] = ("Vary", "Accept-Encoding");
        all[extra + 1] = ("ETag", chosen.etag.as_str());
        all[extra + 2] = ("Content-Encoding", "gzip");
        // The 304 describes the representation the request would get, without its coding.
        let without_coding = &all[..extra + 2];
        // SAFETY (caller): a valid request.
        if unsafe { request_header(req, "If-None-Match") }
            .is_some_and(|tags| none_match_names(tags, &chosen.etag))
        {
            // SAFETY (caller): a valid request whose response has not been sent.
            return unsafe { send(r, 304, without_coding, b"") };
        }
        let sent = if gzip { &all[..extra + 3] } else { without_coding };
        // SAFETY (caller): a valid request whose response has not been sent.
        unsafe { send_typed(r, 200, sent, self.content_type, &chosen.body) }
    }
}

/// FNV-1a: a fixed, dependency-free content hash, enough to tell versions of a file apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
