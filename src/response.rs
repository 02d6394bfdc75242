//! Sending short responses: a status, a few headers, and an optional plain-text body.

use nginx_sys::{
    ngx_chain_t, ngx_create_temp_buf, ngx_http_output_filter, ngx_http_request_t, ngx_http_send_header,
    ngx_int_t, ngx_list_push, ngx_str_t, ngx_table_elt_t, NGX_ERROR, NGX_OK,
};

/// A header whose name and value live as long as the request (static text or the request pool).
pub type Header<'a> = (&'static str, &'a str);

pub const TEXT: &str = "text/plain; charset=utf-8";
pub const JSON: &str = "application/json";

/// Sends a response with a plain-text body (or none) and returns the code to finalize the request
/// with.
///
/// # Safety
/// `r` must be a valid main request whose response has not been sent yet.
pub unsafe fn send(r: *mut ngx_http_request_t, status: usize, headers: &[Header], body: &[u8]) -> ngx_int_t {
    // SAFETY (caller): as required by send_typed.
    unsafe { send_typed(r, status, headers, TEXT, body) }
}

/// As [`send`], with the body's content type.
///
/// # Safety
/// `r` must be a valid main request whose response has not been sent yet.
pub unsafe fn send_typed(
    r: *mut ngx_http_request_t,
    status: usize,
    headers: &[Header],
    content_type: &'static str,
    body: &[u8],
) -> ngx_int_t {
    // SAFETY (caller): `r` is valid and exclusively ours during the handler.
    let req = unsafe { &mut *r };
    for (name, value) in headers {
        // SAFETY: `r` is valid; add_header copies into the request pool.
        if unsafe { add_header(req, name, value) }.is_none() {
            return NGX_ERROR as ngx_int_t;
        }
    }
    req.headers_out.status = status;
    req.headers_out.content_length_n = body.len() as i64;
    if status == 304 {
        // A 304 describes the cached representation: no length of its own, no body.
        req.headers_out.content_length_n = -1;
    }
    if body.is_empty() {
        // Without a body no last buffer would ever be sent: a header-only answer is finished by
        // its header (nginx does this itself for 204 only).
        req.set_header_only(1);
    }
    if !body.is_empty() {
        req.headers_out.content_type = ngx_str_t {
            len: content_type.len(),
            data: content_type.as_ptr().cast_mut(),
        };
        // nginx's content_type_len covers the MIME type without its parameters (the charset).
        req.headers_out.content_type_len = content_type.find(';').unwrap_or(content_type.len());
    }
    // SAFETY: `r` is valid and its headers are set.
    let rc = unsafe { ngx_http_send_header(r) };
    if rc == NGX_ERROR as ngx_int_t || rc > NGX_OK as ngx_int_t || req.header_only() != 0 {
        return rc;
    }
    // SAFETY: allocates from the request pool, freed with the request.
    let buf = unsafe { ngx_create_temp_buf(req.pool, body.len()) };
    if buf.is_null() {
        return NGX_ERROR as ngx_int_t;
    }
    // SAFETY: `buf` is a fresh buffer of `body.len()` writable bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(body.as_ptr(), (*buf).pos, body.len());
        (*buf).last = (*buf).pos.add(body.len());
        (*buf).set_last_buf(1);
        (*buf).set_last_in_chain(1);
    }
    let mut out = ngx_chain_t {
        buf,
        next: std::ptr::null_mut(),
    };
    // SAFETY: `out` is a valid one-link chain; the output filter copies what it keeps.
    unsafe { ngx_http_output_filter(r, &mut out) }
}

/// # Safety
/// `r` must be a valid request.
unsafe fn add_header(r: &mut ngx_http_request_t, name: &'static str, value: &str) -> Option<()> {
    // SAFETY: `headers_out.headers` is the request's initialised header list.
    let h = unsafe { ngx_list_push(&mut r.headers_out.headers) }.cast::<ngx_table_elt_t>();
    // SAFETY: ngx_list_push returns null or room for one element; the value is copied into the
    // request pool so it outlives this call.
    unsafe {
        let h = h.as_mut()?;
        let value = ngx_str_t::from_bytes(r.pool, value.as_bytes())?;
        h.hash = 1;
        h.key = ngx_str_t {
            len: name.len(),
            data: name.as_ptr().cast_mut(),
        };
        h.value = value;
        h.lowcase_key = std::ptr::null_mut();
        // nginx 1.23.0 chains headers of the same name.
        #[cfg(nginx1_23_0)]
        {
            h.next = std::ptr::null_mut();
        }
        // nginx's gzip filter reads the coding from here: a body already gzipped is left alone.
        if name.eq_ignore_ascii_case("Content-Encoding") {
            r.headers_out.content_encoding = h;
        }
    }
    Some(())
}

/// The value of a request header, if present and valid UTF-8.
///
/// # Safety
/// `r` must be a valid request.
pub unsafe fn request_header<'a>(r: &'a ngx_http_request_t, name: &str) -> Option<&'a str> {
    // SAFETY (caller): valid request.
    let [value] = unsafe { request_headers(r, [name]) };
    value
}

/// The values of several request headers (the first of each name, if valid UTF-8), found in one
/// pass over the request's header list.
///
/// # Safety
/// `r` must be a valid request.
pub unsafe fn request_headers<'a, const N: usize>(
    r: &'a ngx_http_request_t,
    names: [&str; N],
) -> [Option<&'a str>; N] {
    let mut values = [None; N];
    let mut seen = [false; N];
    // SAFETY (caller): the request's header list is valid for its lifetime.
    let mut part = &r.headers_in.headers.part;
    loop {
        let elts = if part.nelts == 0 {
            &[][..]
        } else {
            // SAFETY: a part with elements holds `nelts` initialised ones at `elts`.
            unsafe { std::slice::from_raw_parts(part.elts.cast::<ngx_table_elt_t>(), part.nelts) }
        };
        for h in elts {
            for (i, name) in names.iter().enumerate() {
                if !seen[i] && h.key.as_bytes().eq_ignore_ascii_case(name.as_bytes()) {
                    seen[i] = true;
                    values[i] = h.value.to_str().ok();
                    if seen.iter().all(|&s| s) {
                        return values;
                    }
                }
            }
        }
        // SAFETY: `next` is null or the next valid part.
        match unsafe { part.next.as_ref() } {
            Some(next) => part = next,
            None => return values,
        }
    }
}
