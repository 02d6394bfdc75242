//! The browser family, the operating system family and the device class of a visitor, from the
//! request's `User-Agent` and client hints (`Sec-CH-UA`, `Sec-CH-UA-Mobile`,
//! `Sec-CH-UA-Platform`). Each is one value of a closed list, so no header text is ever stored:
//! a free-form value would be most of a fingerprint.
//!
//! Client hints win over the `User-Agent` when they say something: Chromium browsers freeze
//! much of their `User-Agent` (Android model `K`, Windows always `10.0`) and say the truth in the
//! hints. The `User-Agent` is read once, token by token (see [`scan_user_agent`]); nothing is
//! allocated.

use super::platform::{normalise_platform, Device, Platform};

/// Header values longer than this are not read: no browser sends one, and the scan of a
/// hostile header stays bounded.
pub const MAX_HEADER_LEN: usize = 1024;

/// The browser family, as written in the `browser` tag. Brave reports itself only through
/// client hints; Vivaldi only through its `User-Agent` on some platforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    Chrome,
    Edge,
    Firefox,
    Safari,
    Opera,
    Samsung,
    Yandex,
    Uc,
    Vivaldi,
    Brave,
    /// A page shown inside an app's web view (Facebook, Instagram, TikTok, the Google app,
    /// Android WebView, an iOS app without Safari).
    InApp,
    /// A browser, but none of the above.
    Other,
}

impl Browser {
    pub const ALL: [Browser; 12] = [
        Browser::Chrome,
        Browser::Edge,
        Browser::Firefox,
        Browser::Safari,
        Browser::Opera,
        Browser::Samsung,
        Browser::Yandex,
        Browser::Uc,
        Browser::Vivaldi,
        Browser::Brave,
        Browser::InApp,
        Browser::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Browser::Chrome => "Chrome",
            Browser::Edge => "Edge",
            Browser::Firefox => "Firefox",
            Browser::Safari => "Safari",
            Browser::Opera => "Opera",
            Browser::Samsung => "Samsung",
            Browser::Yandex => "Yandex",
            Browser::Uc => "UC",
            Browser::Vivaldi => "Vivaldi",
            Browser::Brave => "Brave",
            Browser::InApp => "InApp",
            Browser::Other => "other",
        }
    }

    /// When several products are named (`Chrome/… Safari/… Edg/…`), the one with the highest
    /// rank is the browser: the engine's and the look-alikes' names come first in the list.
    fn rank(self) -> u8 {
        match self {
            Browser::Other => 0,
            Browser::Safari => 1,
            Browser::Chrome => 2,
            Browser::Firefox => 3,
            Browser::InApp => 4,
            Browser::Brave => 5,
            Browser::Vivaldi => 6,
            Browser::Uc => 7,
            Browser::Yandex => 8,
            Browser::Samsung => 9,
            Browser::Opera => 10,
            Browser::Edge => 11,
        }
    }
}

/// The request headers families are read from; each `None` when absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientHeaders<'a> {
    pub user_agent: Option<&'a str>,
    /// `Sec-CH-UA`: `"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"`.
    pub brands: Option<&'a str>,
    /// `Sec-CH-UA-Mobile`: `?1` or `?0`.
    pub mobile: Option<&'a str>,
    /// `Sec-CH-UA-Platform`: `"Windows"`.
    pub platform: Option<&'a str>,
}

/// What the headers say of the visitor's software and device; `None` where they say nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Families {
    pub browser: Option<Browser>,
    pub platform: Option<Platform>,
    pub device: Option<Device>,
}

/// The families of a request: the client hints where they say something, the `User-Agent`
/// otherwise. Without a `User-Agent` and hints, everything is `None`.
pub fn client_families(headers: &ClientHeaders) -> Families {
    families_with_agent(headers, agent_families(headers.user_agent))
}

/// What the `User-Agent` alone says (`from_agent` of [`families_with_agent`]): nothing for a
/// missing, blank or over-long header.
pub fn agent_families(user_agent: Option<&str>) -> AgentFamilies {
    user_agent
        .filter(|ua| ua.len() <= MAX_HEADER_LEN && !ua.trim().is_empty())
        .map(scan_user_agent)
        .unwrap_or_default()
}

/// [`client_families`], given what the `User-Agent` says (`agent_families(headers.user_agent)`,
/// which a worker remembers for the headers it sees again and again).
pub fn families_with_agent(headers: &ClientHeaders, from_agent: AgentFamilies) -> Families {
    let hinted_browser = headers.brands.and_then(browser_from_brands);
    let hinted_platform = headers.platform.and_then(platform_from_hint);
    let device = match (mobile_hint(headers.mobile), from_agent.device) {
        (Some(true), _) => Some(Device::Mobile),
        // A tablet says `?0` too: the `User-Agent` tells it from a desktop.
        (Some(false), Some(Device::Tablet)) => Some(Device::Tablet),
        (Some(false), _) => Some(Device::Desktop),
        (None, from_agent) => from_agent,
    };
    Families {
        browser: hinted_browser.or(from_agent.browser),
        platform: hinted_platform.or(from_agent.platform),
        device,
    }
}

/// `?1` / `?0` (a structured-field boolean), anything else says nothing.
fn mobile_hint(value: Option<&str>) -> Option<bool> {
    match value?.trim() {
        "?1" => Some(true),
        "?0" => Some(false),
        _ => None,
    }
}

/// `Sec-CH-UA-Platform` is one quoted string; `"Unknown"` (or an empty one) says nothing.
fn platform_from_hint(value: &str) -> Option<Platform> {
    if value.len() > MAX_HEADER_LEN {
        return None;
    }
    let name = unquote(value.trim())?;
    if name.eq_ignore_ascii_case("unknown") {
        return None;
    }
    normalise_platform(Some(name))
}

fn unquote(value: &str) -> Option<&str> {
    value.strip_prefix('"')?.strip_suffix('"')
}

/// The browser named by a brand list, skipping the engine (`Chromium`) and the made-up GREASE
/// brands (`Not-A.Brand`, `Not)A;Brand`, …); `None` when only those are listed (plain Chromium,
/// Vivaldi, a browser that names no brand): the `User-Agent` then decides.
fn browser_from_brands(value: &str) -> Option<Browser> {
    if value.len() > MAX_HEADER_LEN {
        return None;
    }
    let mut found: Option<Browser> = None;
    // A brand is a quoted string (`"Google Chrome"`), followed by parameters (`;v="124"`). A
    // GREASE brand may hold `;`, `,`, `(` or `)`, but never a quote.
    let mut rest = value;
    while let Some(open) = rest.find('"') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('"') else { break };
        let brand = &after[..close];
        rest = after[close + 1..]
            .find(',')
            .map_or("", |comma| &after[close + 1 + comma + 1..]);
        let browser = match brand {
            "Google Chrome" => Browser::Chrome,
            "Microsoft Edge" => Browser::Edge,
            "Opera" | "Opera GX" | "Opera Mobile" => Browser::Opera,
            "Samsung Internet" => Browser::Samsung,
            "YaBrowser" | "Yandex" => Browser::Yandex,
            "Brave" => Browser::Brave,
            "Vivaldi" => Browser::Vivaldi,
            _ => continue,
        };
        if found.is_none_or(|f| browser.rank() > f.rank()) {
            found = Some(browser);
        }
    }
    found
}

/// What one pass over a `User-Agent` found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentFamilies {
    pub browser: Option<Browser>,
    pub platform: Option<Platform>,
    pub device: Option<Device>,
}

/// What a product name or comment word of a `User-Agent` tells.
#[derive(Clone, Copy)]
enum Mark {
    Browser(Browser),
    Os(Platform),
    /// `Safari/…`: Safari, when nothing else claims the page and `Version/…` is there too.
    Safari,
    /// `Version/…`, which Safari (and only browsers built on its engine) sends.
    Version,
    /// `Mobile`, `Mobi`: a phone, unless the rest says tablet.
    Mobile,
    Tablet,
    /// `iPhone` and `iPod`: iOS on a phone.
    Phone,
    /// `iPad`: iOS on a tablet.
    IPad,
    /// `Android`: Android, a phone when `Mobile` is there too, a tablet otherwise.
    Android,
    /// `AppleWebKit`: with iOS and no `Safari/`, an app's web view.
    WebKit,
    /// Operating systems that also say `Linux` or `Android` but are neither.
    OtherOs,
    /// A browser outside the list that names the engine it is built on too (`Chrome/…`).
    OtherBrowser,
    /// Android's WebView (`; wv)`).
    WebView,
    /// A television (or a stick plugged into one): a desktop, whatever else it says.
    Tv,
    /// `like`, as in `like Gecko`, `like Mac OS X`, `like iPhone`: the next word names another.
    Like,
}

/// The mark of a token's name (the part before `/`), if any. Names are matched exactly and in
/// the case browsers send them.
fn mark(name: &[u8]) -> Option<Mark> {
    use Browser::*;
    Some(match name {
        b"Edg" | b"EdgA" | b"EdgiOS" | b"Edge" => Mark::Browser(Edge),
        b"OPR" | b"OPiOS" | b"OPT" | b"Opera" | b"OPX" | b"OPRGX" => Mark::Browser(Opera),
        b"SamsungBrowser" => Mark::Browser(Samsung),
        b"YaBrowser"
        | b"YaSearchBrowser"
        | b"Yowser"
        | b"YaApp_Android"
        | b"YaApp_iOS"
        | b"YandexSearch"
        | b"YandexSearchBrowser"
        | b"YaSearchApp" => Mark::Browser(Yandex),
        b"UCBrowser" | b"UBrowser" | b"UCWEB" | b"UCMini" | b"UCTurbo" => Mark::Browser(Uc),
        b"Vivaldi" => Mark::Browser(Vivaldi),
        b"Brave" => Mark::Browser(Brave),
        b"Firefox" | b"FxiOS" | b"Focus" | b"Klar" => Mark::Browser(Firefox),
        b"Chrome" | b"CriOS" => Mark::Browser(Chrome),
        b"FBAN" | b"FBAV" | b"FB_IAB" | b"FBIOS" | b"Instagram" | b"TikTok" | b"BytedanceWebview"
        | b"Snapchat" | b"Twitter" | b"TwitterAndroid" | b"GSA" | b"Pinterest" | b"LinkedInApp" | b"Line"
        | b"MicroMessenger" | b"Telegram" | b"WhatsApp" | b"Threads" | b"Barcelona" | b"KAKAOTALK"
        | b"NAVER" | b"Zalo" | b"BingWeb" | b"BingSapphire" | b"baiduboxapp" => Mark::Browser(InApp),
        // Browsers of their own that also name the engine they are built on.
        b"XiaoMi" | b"Quark" | b"Silk" | b"Whale" | b"Ecosia" | b"Ddg" | b"DuckDuckGo" | b"Epiphany"
        | b"Falkon" | b"LibreWolf" | b"Waterfox" | b"Wolvic" | b"Puffin" | b"Maxthon" | b"Midori" => {
            Mark::OtherBrowser
        }
        // Android's WebView: an app's page, unless a browser built on it names itself.
        b"wv" | b"WebView" => Mark::WebView,
        b"TV" | b"SMART-TV" | b"SmartTV" | b"HbbTV" | b"BRAVIA" | b"CrKey" | b"GoogleTV" | b"AndroidTV" => {
            Mark::Tv
        }
        b"like" => Mark::Like,
        b"Safari" => Mark::Safari,
        b"Version" => Mark::Version,
        b"Mobile" | b"Mobi" => Mark::Mobile,
        b"Tablet" | b"Kindle" => Mark::Tablet,
        b"iPhone" | b"iPod" => Mark::Phone,
        b"iPad" => Mark::IPad,
        b"Android" => Mark::Android,
        b"AppleWebKit" => Mark::WebKit,
        b"Windows" | b"Win64" | b"WOW64" => Mark::Os(Platform::Windows),
        b"Macintosh" => Mark::Os(Platform::MacOs),
        b"CrOS" => Mark::Os(Platform::ChromeOs),
        b"Linux" | b"X11" | b"Ubuntu" | b"Fedora" => Mark::Os(Platform::Linux),
        b"FreeBSD" | b"OpenBSD" | b"NetBSD" => Mark::Os(Platform::Bsd),
        b"Tizen" | b"KAIOS" | b"KaiOS" | b"HarmonyOS" | b"PlayStation" | b"Nintendo" | b"Xbox" | b"Web0S"
        | b"webOS" | b"Fuchsia" => Mark::OtherOs,
        _ => return mark_of_prefix(name),
    })
}

/// Marks of names that carry a model or version in the same token (`iPad13,10`,
/// `musical_ly_34.3.1`, Fire TV's `AFTKADE001`), and browsers named `…Browser` (`HuaweiBrowser`,
/// `MQQBrowser`, `coc_coc_browser`) that are none of the known ones.
fn mark_of_prefix(name: &[u8]) -> Option<Mark> {
    if name.starts_with(b"iPad") {
        Some(Mark::IPad)
    } else if name.starts_with(b"iPhone") || name.starts_with(b"iPod") {
        Some(Mark::Phone)
    } else if name.starts_with(b"musical_ly") {
        Some(Mark::Browser(Browser::InApp))
    } else if name.starts_with(b"AFT") && name.len() > 3 {
        Some(Mark::Tv)
    } else if name.len() > 7 && name[name.len() - 7..].eq_ignore_ascii_case(b"browser") {
        Some(Mark::OtherBrowser)
    } else {
        None
    }
}

/// Bytes that end a token of a `User-Agent`.
fn is_delimiter(byte: u8) -> bool {
    matches!(byte, b' ' | b';' | b'(' | b')' | b'[' | b']' | b',')
}

/// The browser, OS and device a `User-Agent` names, in one pass over its tokens.
pub fn scan_user_agent(agent: &str) -> AgentFamilies {
    let bytes = agent.as_bytes();
    let mut browser: Option<Browser> = None;
    let (mut safari, mut version, mut mobile, mut tablet, mut webkit) = (false, false, false, false, false);
    let (mut phone, mut ipad, mut android, mut other_os) = (false, false, false, false);
    let (mut other_browser, mut webview, mut tv) = (false, false, false);
    // The previous token was `like`, or `Tablet` (`Tablet PC` is a Windows laptop's mark).
    let (mut after_like, mut after_tablet) = (false, false);
    let mut os: Option<Platform> = None;
    let mut at = 0;
    while at < bytes.len() {
        if is_delimiter(bytes[at]) {
            at += 1;
            continue;
        }
        let start = at;
        let mut name_end = None;
        while at < bytes.len() && !is_delimiter(bytes[at]) {
            if bytes[at] == b'/' && name_end.is_none() {
                name_end = Some(at);
            }
            at += 1;
        }
        let name = &bytes[start..name_end.unwrap_or(at)];
        let mark = mark(name);
        if std::mem::take(&mut after_like) {
            continue;
        }
        if std::mem::take(&mut after_tablet) && name == b"PC" {
            tablet = false;
        }
        match mark {
            None => {}
            Some(Mark::Like) => after_like = true,
            Some(Mark::OtherBrowser) => other_browser = true,
            Some(Mark::WebView) => webview = true,
            Some(Mark::Tv) => tv = true,
            Some(Mark::Browser(b)) if browser.is_none_or(|f| b.rank() > f.rank()) => browser = Some(b),
            Some(Mark::Browser(_)) => {}
            // Windows, macOS, ChromeOS and BSD say so before any `Linux`/`X11` of theirs.
            Some(Mark::Os(p)) if os.is_none() || os == Some(Platform::Linux) => os = Some(p),
            Some(Mark::Os(_)) => {}
            Some(Mark::Safari) => safari = true,
            Some(Mark::Version) => version = true,
            Some(Mark::Mobile) => mobile = true,
            Some(Mark::Tablet) => {
                tablet = true;
                after_tablet = true;
            }
            Some(Mark::Phone) => phone = true,
            Some(Mark::IPad) => ipad = true,
            Some(Mark::Android) => android = true,
            Some(Mark::WebKit) => webkit = true,
            Some(Mark::OtherOs) => other_os = true,
        }
    }
    let ios = phone || ipad;
    let platform = if ios {
        Some(Platform::Ios)
    } else if other_os {
        Some(Platform::Other)
    } else if android {
        Some(Platform::Android)
    } else {
        // No operating system named: the beacon's own platform (if any) decides.
        os
    };
    let browser = match browser {
        Some(b) if b.rank() >= Browser::InApp.rank() => b,
        _ if other_browser => Browser::Other,
        _ if webview => Browser::InApp,
        Some(b) => b,
        None if safari && (version || ios) => Browser::Safari,
        // An iOS app's web view names the engine and `Mobile/…`, not Safari.
        None if ios && webkit && !safari => Browser::InApp,
        None => Browser::Other,
    };
    let device = if tv {
        Some(Device::Desktop)
    } else if ipad || tablet || (android && !mobile) {
        Some(Device::Tablet)
    } else if phone || mobile {
        Some(Device::Mobile)
    } else if platform.is_some() {
        Some(Device::Desktop)
    } else {
        // Neither a device nor a system named: the beacon's own hint (if any) decides.
        None
    };
    AgentFamilies {
        browser: Some(browser),
        platform,
        device,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(ua: &str) -> (Browser, Platform, Device) {
        let f = client_families(&ClientHeaders {
            user_agent: Some(ua),
            ..Default::default()
        });
        (f.browser.unwrap(), f.platform.unwrap(), f.device.unwrap())
    }

    #[test]
    fn reads_common_user_agents() {
        use Browser::*;
        for (ua, expected) in [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
                (Edge, Platform::Windows, Device::Desktop),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                (Safari, Platform::Ios, Device::Mobile),
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1",
                (Chrome, Platform::Ios, Device::Tablet),
            ),
            (
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
                (Chrome, Platform::Android, Device::Mobile),
            ),
            (
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
                (Chrome, Platform::Android, Device::Tablet),
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                (Firefox, Platform::Linux, Device::Desktop),
            ),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
                (Chrome, Platform::ChromeOs, Device::Desktop),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
                (Safari, Platform::MacOs, Device::Desktop),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 330.0.0.0",
                (InApp, Platform::Ios, Device::Mobile),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
                (InApp, Platform::Ios, Device::Mobile),
            ),
        ] {
            assert_eq!(agent(ua), expected, "{ua}");
        }
        // Nothing said of the system or the device: left to the beacon.
        let f = scan_user_agent("Mozilla/5.0");
        assert_eq!((f.browser, f.platform, f.device), (Some(Other), None, None));
    }

    #[test]
    fn client_hints_win_over_the_user_agent() {
        let chrome_ua = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";
        let f = client_families(&ClientHeaders {
            user_agent: Some(chrome_ua),
            brands: Some(r#""Not/A)Brand";v="8", "Chromium";v="126", "Microsoft Edge";v="126""#),
            mobile: Some("?0"),
            platform: Some(r#""Windows""#),
        });
        assert_eq!(
            f,
            Families {
                browser: Some(Browser::Edge),
                platform: Some(Platform::Windows),
                device: Some(Device::Desktop)
            }
        );
        // Only the engine and GREASE: the User-Agent names the browser.
        let f = client_families(&ClientHeaders {
            user_agent: Some(chrome_ua),
            brands: Some(r#""Chromium";v="126", "Not;A=Brand";v="24""#),
            mobile: Some("?1"),
            platform: Some(r#""Unknown""#),
        });
        assert_eq!(
            (f.browser, f.platform, f.device),
            (
                Some(Browser::Chrome),
                Some(Platform::Android),
                Some(Device::Mobile)
            )
        );
        // Hints alone.
        let f = client_families(&ClientHeaders {
            brands: Some(r#""Brave";v="126", "Chromium";v="126", "Not-A.Brand";v="99""#),
            mobile: Some("?1"),
            platform: Some(r#""Android""#),
            ..Default::default()
        });
        assert_eq!(
            (f.browser, f.platform, f.device),
            (
                Some(Browser::Brave),
                Some(Platform::Android),
                Some(Device::Mobile)
            )
        );
        // An Android tablet says ?0.
        let tablet = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
        let f = client_families(&ClientHeaders {
            user_agent: Some(tablet),
            mobile: Some("?0"),
            ..Default::default()
        });
        assert_eq!(f.device, Some(Device::Tablet));
    }

    #[test]
    fn hostile_hints_say_nothing() {
        for brands in [
            "",
            "\"",
            "\"Google Chrome",
            "Google Chrome",
            ",,,;;;\"\"",
            "\"Google Chrome\u{0}\"",
            "\"Chromium\";v=\"1\", \"Evil,\\\"Brand\"",
        ] {
            assert_eq!(browser_from_brands(brands), None, "{brands:?}");
        }
        let long = format!("\"Google Chrome\";v=\"1\"{}", " ".repeat(MAX_HEADER_LEN));
        assert_eq!(browser_from_brands(&long), None);
        for platform in ["Windows", "\"\"", "\"", "\"Unknown\"", "\"Windows"] {
            assert_eq!(platform_from_hint(platform), None, "{platform:?}");
        }
        assert_eq!(platform_from_hint("\"PlayStation\""), Some(Platform::Other));
        for mobile in ["?2", "1", "", "?1?1", "true"] {
            assert_eq!(mobile_hint(Some(mobile)), None, "{mobile:?}");
        }
        let long_agent = format!(
            "Mozilla/5.0 (Windows NT 10.0) Chrome/1 {}",
            "x".repeat(MAX_HEADER_LEN)
        );
        assert_eq!(
            client_families(&ClientHeaders {
                user_agent: Some(&long_agent),
                ..Default::default()
            }),
            Families::default()
        );
    }

    #[test]
    fn browser_names_are_plain_tag_values() {
        for b in Browser::ALL {
            assert!(b.as_str().bytes().all(|c| c.is_ascii_alphanumeric()), "{b:?}");
        }
        let mut ranks: Vec<u8> = Browser::ALL.iter().map(|b| b.rank()).collect();
        ranks.sort_unstable();
        ranks.dedup();
        assert_eq!(ranks.len(), Browser::ALL.len());
    }
}
