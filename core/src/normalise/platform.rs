//! Platform normalisation: the operating system family, from a closed list, and a mobile/desktop
//! class. The raw string a client sends is never stored: a free-form value would let a client
//! write most of a User-Agent (a fingerprint) into a tag.

/// The operating system family, as written in the `platform` tag. Nothing else is ever written
/// there; without a platform in the beacon, the tag is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Windows,
    MacOs,
    Linux,
    Android,
    Ios,
    ChromeOs,
    Bsd,
    /// Sent, but none of the above (game consoles, feature phones, Fuchsia, anything unknown).
    Other,
}

impl Platform {
    pub const ALL: [Platform; 8] = [
        Platform::Windows,
        Platform::MacOs,
        Platform::Linux,
        Platform::Android,
        Platform::Ios,
        Platform::ChromeOs,
        Platform::Bsd,
        Platform::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Windows => "Windows",
            Platform::MacOs => "macOS",
            Platform::Linux => "Linux",
            Platform::Android => "Android",
            Platform::Ios => "iOS",
            Platform::ChromeOs => "ChromeOS",
            Platform::Bsd => "BSD",
            Platform::Other => "other",
        }
    }
}

/// The platform family of what a browser reports, either as `navigator.platform` (`Win32`,
/// `MacIntel`, `Linux x86_64`, `iPhone`, `CrOS x86_64`, `FreeBSD amd64`, …) or as the client hint
/// `navigator.userAgentData.platform` (`Windows`, `macOS`, `Chrome OS`, `Android`, `iOS`, …).
/// `None` when nothing (or only white space) was sent.
///
/// `Linux` on ARM (`Linux armv8l`, `Linux aarch64`) is what Android browsers report as
/// `navigator.platform`; desktop Linux on ARM (a Raspberry Pi, say) is rare next to it, so it
/// counts as Android.
pub fn normalise_platform(raw: Option<&str>) -> Option<Platform> {
    let raw = raw?.trim();
    if raw.is_empty() {
        return None;
    }
    let starts = |prefix: &str| {
        raw.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    let is = |name: &str| raw.eq_ignore_ascii_case(name);
    Some(if starts("win") {
        Platform::Windows
    } else if starts("mac") {
        Platform::MacOs
    } else if starts("iphone") || starts("ipad") || starts("ipod") || is("ios") || is("ipados") {
        Platform::Ios
    } else if starts("android") || (starts("linux") && is_arm(raw)) {
        Platform::Android
    } else if starts("cros") || is("chrome os") || is("chromium os") || is("chromeos") {
        Platform::ChromeOs
    } else if starts("linux") || starts("x11") || is("ubuntu") || is("fedora") {
        Platform::Linux
    } else if ["freebsd", "openbsd", "netbsd", "dragonfly"]
        .iter()
        .any(|bsd| starts(bsd))
    {
        Platform::Bsd
    } else {
        Platform::Other
    })
}

fn is_arm(raw: &str) -> bool {
    contains_ignoring_case(raw, "arm") || contains_ignoring_case(raw, "aarch64")
}

/// `needle` must be lower-case ASCII.
fn contains_ignoring_case(text: &str, needle: &str) -> bool {
    text.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The coarse device class recorded with every page view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Mobile,
    /// Only the request headers tell a tablet; the beacon's own hints do not.
    Tablet,
    Desktop,
}

impl Device {
    pub const ALL: [Device; 3] = [Device::Mobile, Device::Tablet, Device::Desktop];

    pub fn as_str(self) -> &'static str {
        match self {
            Device::Mobile => "mobile",
            Device::Tablet => "tablet",
            Device::Desktop => "desktop",
        }
    }
}

/// The browser's own hint wins (`navigator.userAgentData.mobile`); otherwise the raw platform
/// string decides (before it is reduced to a [`Platform`]). Without either, the class is unknown
/// and no tag is written.
pub fn classify_device(mobile_hint: Option<bool>, raw_platform: Option<&str>) -> Option<Device> {
    if let Some(mobile) = mobile_hint {
        return Some(if mobile { Device::Mobile } else { Device::Desktop });
    }
    let platform = raw_platform?;
    const MOBILE_MARKERS: [&str; 5] = ["android", "iphone", "ipad", "ipod", "mobile"];
    let linux = platform.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("linux"));
    let mobile =
        MOBILE_MARKERS.iter().any(|m| contains_ignoring_case(platform, m)) || (linux && is_arm(platform));
    Some(if mobile { Device::Mobile } else { Device::Desktop })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_what_browsers_report() {
        for (raw, platform) in [
            ("Win32", Platform::Windows),
            ("Win64", Platform::Windows),
            ("Windows", Platform::Windows),
            ("MacIntel", Platform::MacOs),
            ("MacPPC", Platform::MacOs),
            ("macOS", Platform::MacOs),
            ("Linux x86_64", Platform::Linux),
            ("Linux i686", Platform::Linux),
            ("Linux", Platform::Linux),
            ("X11", Platform::Linux),
            ("Linux armv8l", Platform::Android),
            ("Linux aarch64", Platform::Android),
            ("Linux armv7l", Platform::Android),
            ("Android", Platform::Android),
            ("iPhone", Platform::Ios),
            ("iPad", Platform::Ios),
            ("iPod touch", Platform::Ios),
            ("iPhone Simulator", Platform::Ios),
            ("iOS", Platform::Ios),
            ("CrOS x86_64", Platform::ChromeOs),
            ("CrOS aarch64", Platform::ChromeOs),
            ("Chrome OS", Platform::ChromeOs),
            ("Chromium OS", Platform::ChromeOs),
            ("FreeBSD amd64", Platform::Bsd),
            ("OpenBSD amd64", Platform::Bsd),
            ("NetBSD", Platform::Bsd),
            ("  win32 ", Platform::Windows),
            ("Fuchsia", Platform::Other),
            ("Unknown", Platform::Other),
            ("PlayStation 4", Platform::Other),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0.0.0",
                Platform::Other,
            ),
            ("evil,tag=x \"q\"\n", Platform::Other),
        ] {
            assert_eq!(normalise_platform(Some(raw)), Some(platform), "{raw:?}");
        }
        assert_eq!(normalise_platform(Some("  \t ")), None);
        assert_eq!(normalise_platform(Some("")), None);
        assert_eq!(normalise_platform(None), None);
    }

    #[test]
    fn platform_names_are_plain_tag_values() {
        for p in Platform::ALL {
            assert!(p.as_str().bytes().all(|b| b.is_ascii_alphanumeric()), "{p:?}");
        }
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
