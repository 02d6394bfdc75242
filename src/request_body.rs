//! Reading a request body that nginx has received: from memory buffers, or from the temporary file
//! nginx spooled it to (a large body, or `client_body_in_file_only`).

use nginx_sys::{ngx_http_request_t, ngx_read_file};

pub enum BodyError {
    /// Larger than the configured cap.
    TooLarge,
    /// The temporary file could not be read.
    Unreadable,
}

/// Copies the body into one buffer, refusing it once it passes `max` bytes.
///
/// # Safety
/// `r` must be a request whose body nginx has finished reading (called from the body handler).
pub unsafe fn read_body(r: &ngx_http_request_t, max: usize) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    if r.request_body.is_null() {
        return Ok(body);
    }
    // SAFETY (caller): request_body and its chain are valid once reading has finished.
    let mut link = unsafe { (*r.request_body).bufs };
    while !link.is_null() {
        // SAFETY: every link of the chain nginx built holds a valid buffer.
        let buf = unsafe { &*(*link).buf };
        let in_memory = buf.temporary() != 0 || buf.memory() != 0 || buf.mmap() != 0;
        if in_memory {
            // SAFETY: for in-memory buffers, pos..last is readable memory owned by the request.
            let len = unsafe { buf.last.offset_from(buf.pos) } as usize;
            if body.len() + len > max {
                return Err(BodyError::TooLarge);
            }
            // SAFETY: see above.
            body.extend_from_slice(unsafe { std::slice::from_raw_parts(buf.pos, len) });
        } else if buf.in_file() != 0 {
            let len = (buf.file_last - buf.file_pos) as usize;
            if body.len() + len > max {
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
    Ok(body)
}
