//! The browser script's own events (`analytics_agent features=`): what is kept of an outbound
//! link's host, of a downloaded file, and of the time a page was visible.

use std::borrow::Cow;

use crate::beacon::BeaconError;
use crate::normalise::domain::{host_core, host_without_identifiers, is_ip_literal, lower_case};
use crate::normalise::page::{normalise_path, split_page};
use crate::normalise::scrub::{classify, Placeholder};

/// Longest file extension kept.
pub const MAX_EXTENSION_LEN: usize = 10;

/// What an event line carries besides its domain, page and name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EventDetail<'a> {
    /// A custom event: nothing more.
    #[default]
    None,
    /// A click on a link to another site: that site's host, nothing else of the address.
    Outbound { target_domain: String },
    /// A click on a link to a file: its extension and its path, scrubbed like a page.
    Download { extension: String, file: Cow<'a, str> },
    /// The time the page was visible, in milliseconds.
    Engagement { engaged_ms: u32 },
}

/// The host of an outbound link, as `referrer_domain` keeps a referrer's: lower case, without a
/// port; an IP address becomes `:ip`, a label holding an identifier its placeholder
/// (`4915123456789.evil.org` → `:id.evil.org`). Refused when it is no host name at all.
pub fn outbound_detail(target: &str) -> Result<EventDetail<'static>, BeaconError> {
    // `[2001:db8::1]`, as `URL.hostname` writes an IPv6 host: no host name can hold brackets.
    let bracketed = target.trim().strip_prefix('[').and_then(|t| t.strip_suffix(']'));
    if bracketed.is_some_and(|inner| {
        !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
    }) {
        return Ok(EventDetail::Outbound {
            target_domain: Placeholder::Ip.as_str().to_owned(),
        });
    }
    let core = host_core(target).ok_or(BeaconError::Invalid {
        field: "target",
        reason: "is not a host name",
    })?;
    let host = lower_case(core);
    let target_domain = if is_ip_literal(&host) {
        Placeholder::Ip.as_str().to_owned()
    } else {
        host_without_identifiers(core, &host)
    };
    Ok(EventDetail::Outbound { target_domain })
}

/// A downloaded file: the path alone (a full URL loses its host, query and fragment), scrubbed
/// and capped like a page, and the extension of its last segment in lower case: 1 to
/// [`MAX_EXTENSION_LEN`] letters or digits that are no identifier. A file without one is refused:
/// the script only reports links whose path ends in a known extension.
pub fn download_detail(file: &str) -> Result<EventDetail<'_>, BeaconError> {
    let (path, _) = split_page(file);
    let no_extension = BeaconError::Invalid {
        field: "file",
        reason: "must end in an extension of 1 to 10 letters or digits",
    };
    let last_segment = path.rsplit('/').next().unwrap_or_default();
    let (_, extension) = last_segment.rsplit_once('.').ok_or(no_extension.clone())?;
    let plain = !extension.is_empty()
        && extension.len() <= MAX_EXTENSION_LEN
        && extension.bytes().all(|b| b.is_ascii_alphanumeric())
        && classify(extension).is_none();
    if !plain {
        return Err(no_extension);
    }
    let extension = extension.to_ascii_lowercase();
    let file = match path {
        Cow::Borrowed(path) => normalise_path(path, false),
        Cow::Owned(path) => Cow::Owned(normalise_path(&path, false).into_owned()),
    };
    Ok(EventDetail::Download { extension, file })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(raw: &str) -> String {
        match outbound_detail(raw).unwrap() {
            EventDetail::Outbound { target_domain } => target_domain,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn outbound_hosts_are_lower_case_hosts_without_addresses_or_identifiers() {
        for (raw, kept) in [
            ("Docs.Example.ORG", "docs.example.org"),
            ("other.net:8443", "other.net"),
            ("other.net.", "other.net"),
            ("192.168.1.1", ":ip"),
            ("3232235777", ":ip"),
            ("0x7f.1", ":ip"),
            ("[2001:db8::1]", ":ip"),
            ("4915123456789.evil.org", ":id.evil.org"),
            ("123e4567-e89b-12d3-a456-426614174000.o.org", ":uuid.o.org"),
        ] {
            assert_eq!(target(raw), kept, "{raw}");
        }
        for raw in [
            "",
            "a b",
            "x,y=z",
            "evil.org/path",
            "a\nb",
            "..",
            "[]",
            "[x,y]",
            &"a".repeat(254),
        ] {
            assert!(
                matches!(
                    outbound_detail(raw),
                    Err(BeaconError::Invalid { field: "target", .. })
                ),
                "{raw:?}"
            );
        }
    }

    fn download(raw: &str) -> (String, String) {
        match download_detail(raw).unwrap() {
            EventDetail::Download { extension, file } => (extension, file.into_owned()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn downloads_keep_a_scrubbed_path_and_a_short_lower_case_extension() {
        for (raw, extension, file) in [
            ("/files/report.pdf", "pdf", "/files/report.pdf"),
            ("/files/Report.PDF", "pdf", "/files/Report.PDF"),
            ("/a/b.tar.gz", "gz", "/a/b.tar.gz"),
            ("/x.pdf?token=secret#p2", "pdf", "/x.pdf"),
            ("https://cdn.other.org/x/y.zip?sig=abc", "zip", "/x/y.zip"),
            ("/invoice/123456789012/bill.pdf", "pdf", "/invoice/:id/bill.pdf"),
            ("/u/bob@example.com/cv.docx", "docx", "/u/:email/cv.docx"),
            ("/dl/d41d8cd98f00b204e9800998ecf8427e.pdf", "pdf", "/dl/:token"),
        ] {
            assert_eq!(download(raw), (extension.to_owned(), file.to_owned()), "{raw}");
        }
        let long = format!("/{}.pdf", "a/".repeat(400));
        let (_, file) = download(&long);
        assert!(
            file.len() <= crate::normalise::page::MAX_PAGE_LEN,
            "{}",
            file.len()
        );
    }

    #[test]
    fn a_file_without_a_plain_extension_is_refused() {
        for raw in [
            "/files/report",
            "/files.d/report",
            "/x.",
            "/x.toolongextension",
            "/x.p%64f",
            "/x.pd f",
            "/x.1234567",
            "/x.a,b=c",
            "",
        ] {
            assert!(
                matches!(
                    download_detail(raw),
                    Err(BeaconError::Invalid { field: "file", .. })
                ),
                "{raw:?}"
            );
        }
    }
}
