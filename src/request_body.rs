//! Reading a request body: straight from nginx's header buffer when it came whole with the
//! headers (a beacon does), else what nginx's body reading received, from memory buffers or from
//! the temporary file nginx spooled it to (a large body, or `client_body_in_file_only`).

use std::borrow::Cow;

use nginx_sys::{ngx_buf_t, ngx_http_request_t, ngx_read_file, NGX_HTTP_VERSION_20};

pub enum BodyError {
    /// Larger than the configured cap.
    TooLarge,
    /// The temporary file could not be read.
    Unreadable,
}

fn in_memory(buf: &ngx_buf_t) -> bool {
    buf.temporary() != 0 || buf.memory() != 0 || buf.mmap() != 0
}

/// The body of an HTTP/1 request with a `Content-Length` of at most `max` bytes, when all of it
/// already sits in nginx's header buffer (read with the headers): the bytes are taken from there
/// and marked read, as nginx's own discarding of a body does, without nginx's body-reading
/// machinery (its buffers, filters, and the post-handler round trip). `None` for every other
/// request, which goes through [`read_body`]: chunked bodies, bodies still on the way, HTTP/2 and
/// HTTP/3, `Expect: 100-continue` (nginx answers it), `client_body_in_file_only`, and a body that
/// nginx began to read or discard before.
///
/// # Safety
/// `r` must be a valid main request whose body nobody has read yet; the slice must be used before
/// the handler returns (the buffer is the connection's, reused for the next request).
pub unsafe fn take_preread_body<'a>(r: *mut ngx_http_request_t, max: usize) -> Option<&'a [u8]> {
    // SAFETY (caller): a valid request, ours during the handler.
    let req = unsafe { &mut *r };
    let length = usize::try_from(req.headers_in.content_length_n).ok()?;
    // A subrequest (`mirror`) shares the main request's header buffer but not its
    // `content_length_n`: taking the bytes there would leave the main request waiting for them.
    if length > max
        || r != req.main
        || req.http_version >= NGX_HTTP_VERSION_20 as usize
        || req.headers_in.chunked() != 0
        || !req.headers_in.expect.is_null()
        || req.request_body_in_file_only() != 0
        || !req.request_body.is_null()
        || req.discard_body() != 0
        || req.header_in.is_null()
    {
        return None;
    }
    // SAFETY: an HTTP/1 request's `header_in` is the buffer its headers were read into; pos..last
    // is what was read past them.
    let buf = unsafe { &mut *req.header_in };
    // SAFETY: as above, both point into the same buffer.
    let preread = usize::try_from(unsafe { buf.last.offset_from(buf.pos) }).ok()?;
    if preread < length {
        return None;
    }
    // SAFETY: pos..pos+length lies within pos..last, readable memory of the connection's buffer,
    // which stays until the next request on the connection is read (after this handler).
    let body = unsafe { std::slice::from_raw_parts(buf.pos, length) };
    // Marked read, as ngx_http_discard_request_body_filter does: what follows is the next
    // pipelined request, and a later discard (an error page) finds nothing left to read.
    // SAFETY: pos + length <= last, within the buffer.
    buf.pos = unsafe { buf.pos.add(length) };
    req.request_length += length as i64;
    req.headers_in.content_length_n = 0;
    Some(body)
}

/// The body as one slice, refusing it once it passes `max` bytes. A body in one memory buffer (the
/// usual case for a beacon, which arrives with its headers) is borrowed, not copied.
///
/// # Safety
/// `r` must be a request whose body nginx has finished reading (called from the body handler);
/// the result must not outlive the request.
pub unsafe fn read_body<'r>(r: &'r ngx_http_request_t, max: usize) -> Result<Cow<'r, [u8]>, BodyError> {
    if r.request_body.is_null() {
        return Ok(Cow::Borrowed(&[]));
    }
    // SAFETY (caller): request_body and its chain are valid once reading has finished.
    let first = unsafe { (*r.request_body).bufs };
    if first.is_null() {
        return Ok(Cow::Borrowed(&[]));
    }
    // SAFETY: a non-null chain link holds a valid buffer.
    let (buf, next) = unsafe { (&*(*first).buf, (*first).next) };
    if next.is_null() && in_memory(buf) {
        // SAFETY: for an in-memory buffer, pos..last is readable memory owned by the request.
        let len =
            usize::try_from(unsafe { buf.last.offset_from(buf.pos) }).map_err(|_| BodyError::Unreadable)?;
        if len > max {
            return Err(BodyError::TooLarge);
        }
        // SAFETY: as above; the request (and so the buffer) outlives 'r.
        return Ok(Cow::Borrowed(unsafe { std::slice::from_raw_parts(buf.pos, len) }));
    }
    let mut body = Vec::new();
    let mut link = first;
    while !link.is_null() {
        // SAFETY: every link of the chain nginx built holds a valid buffer.
        let buf = unsafe { &*(*link).buf };
        if in_memory(buf) {
            // SAFETY: for in-memory buffers, pos..last is readable memory owned by the request.
            let len = usize::try_from(unsafe { buf.last.offset_from(buf.pos) })
                .map_err(|_| BodyError::Unreadable)?;
            if body.len().saturating_add(len) > max {
                return Err(BodyError::TooLarge);
            }
            // SAFETY: see above.
            body.extend_from_slice(unsafe { std::slice::from_raw_parts(buf.pos, len) });
        } else if buf.in_file() != 0 {
            let len = buf
                .file_last
                .checked_sub(buf.file_pos)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or(BodyError::Unreadable)?;
            if body.len().saturating_add(len) > max {
                return Err(BodyError::TooLarge);
            }
            let start = body.len();
            body.resize(start + len, 0);
            // SAFETY: `buf.file` is the request's open temporary file; we read `len` bytes into
            // memory we own. The read is of at most `max` bytes from a local disk, as nginx's own
            // modules do when they read a spooled body.
            let n = unsafe { ngx_read_file(buf.file, body[start..].as_mut_ptr(), len, buf.file_pos) };
            if n != len as isize {
                return Err(BodyError::Unreadable);
            }
        }
        // SAFETY: as above, the chain is valid.
        link = unsafe { (*link).next };
    }
    Ok(Cow::Owned(body))
}
