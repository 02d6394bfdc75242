//! Platform normalisation: a coarse description of the device, limited so it cannot fingerprint.

use std::borrow::Cow;

/// Longest platform string kept, in characters.
pub const MAX_PLATFORM_LEN: usize = 48;

/// The coarse device class recorded with every page view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Mobile,
    Desktop,
}

impl Device {
    pub fn as_str(self) -> &'static str {
        match self {
            Device::Mobile => "mobile",
            Device::Desktop => "desktop",
        }
    }
}

/// Keeps letters, digits, spaces and `._-()/,;:+`, collapses runs of spaces, caps the length.
/// `navigator.platform` values ("Linux x86_64", "Win32", "iPhone", "MacIntel") pass unchanged.
pub fn normalise_platform(raw: Option<&str>) -> Option<Cow<'_, str>> {
    let raw = raw?;
    let plain = !raw.is_empty()
        && raw.len() <= MAX_PLATFORM_LEN
        && !raw.starts_with(' ')
        && !raw.ends_with(' ')
        && !raw.as_bytes().windows(2).any(|pair| pair == b"  ")
        && raw.bytes().all(|b| b == b' ' || platform_byte(b));
    if plain {
        return Some(Cow::Borrowed(raw));
    }
    let mut kept = String::new();
    let mut count = 0;
    for c in raw.chars() {
        if count == MAX_PLATFORM_LEN {
            break;
        }
        if c.is_ascii() && platform_byte(c as u8) {
            kept.push(c);
            count += 1;
        } else if c.is_whitespace() && !kept.is_empty() && !kept.ends_with(' ') {
            kept.push(' ');
            count += 1;
        }
    }
    let kept = kept.trim_end().to_owned();
    (!kept.is_empty()).then_some(Cow::Owned(kept))
}

fn platform_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'.' | b'_' | b'-' | b'(' | b')' | b'/' | b',' | b';' | b':' | b'+'
        )
}

/// The browser's own hint wins (`navigator.userAgentData.mobile`); otherwise the platform string
/// decides. Without either, the class is unknown and no tag is written.
pub fn classify_device(mobile_hint: Option<bool>, platform: Option<&str>) -> Option<Device> {
    if let Some(mobile) = mobile_hint {
        return Some(if mobile { Device::Mobile } else { Device::Desktop });
    }
    let platform = platform?.to_ascii_lowercase();
    const MOBILE_MARKERS: [&str; 7] = ["android", "iphone", "ipad", "ipod", "mobile", "arm", "aarch64"];
    let mobile = MOBILE_MARKERS[..5].iter().any(|m| platform.contains(m))
        || (platform.starts_with("linux") && MOBILE_MARKERS[5..].iter().any(|m| platform.contains(m)));
    Some(if mobile { Device::Mobile } else { Device::Desktop })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_ordinary_platforms() {
        for p in ["Linux x86_64", "Win32", "MacIntel", "iPhone", "Linux armv8l"] {
            assert_eq!(normalise_platform(Some(p)).as_deref(), Some(p));
        }
    }

    #[test]
    fn limits_charset_and_length() {
        assert_eq!(
            normalise_platform(Some("Linux\n x86_64,os=evil \"q\"")).as_deref(),
            Some("Linux x86_64,osevil q")
        );
        assert_eq!(normalise_platform(Some("  \t ")), None);
        assert_eq!(
            normalise_platform(Some(&"x".repeat(500))).unwrap().len(),
            MAX_PLATFORM_LEN
        );
        assert_eq!(normalise_platform(None), None);
    }

    #[test]
    fn classifies_devices() {
        assert_eq!(classify_device(Some(true), Some("Win32")), Some(Device::Mobile));
        assert_eq!(classify_device(None, Some("iPhone")), Some(Device::Mobile));
        assert_eq!(classify_device(None, Some("Linux armv8l")), Some(Device::Mobile));
        assert_eq!(classify_device(None, Some("Linux x86_64")), Some(Device::Desktop));
        assert_eq!(classify_device(None, Some("MacIntel")), Some(Device::Desktop));
        assert_eq!(classify_device(None, None), None);
    }
}
