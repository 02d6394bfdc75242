//! Telling robots from people, from the request headers alone.
//!
//! Crawlers, link-preview fetchers, monitors, headless browsers and scripts do not view pages;
//! counting them would inflate every figure. The checks are cheap substring tests on the
//! `User-Agent` (lower-cased once), plus "no `User-Agent` at all", which no browser sends. The
//! header is only read here, never stored.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

/// Why a request was taken for a robot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotReason {
    /// No `User-Agent` header, or an empty one.
    NoUserAgent,
    /// The `User-Agent` names a known robot, tool or headless browser.
    UserAgent,
}

/// Lower-case fragments of `User-Agent`s that only robots, tools and automation send.
const ROBOT_MARKERS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "scrape",
    "archiver",
    "facebookexternalhit",
    "facebookcatalog",
    "embedly",
    "quora link preview",
    "whatsapp",
    "telegram",
    "skypeuripreview",
    "vkshare",
    "preview",
    "headlesschrome",
    "phantomjs",
    "selenium",
    "puppeteer",
    "playwright",
    "lighthouse",
    "pagespeed",
    "pingdom",
    "uptime",
    "monitor",
    "statuscake",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "httpx",
    "go-http-client",
    "java/",
    "okhttp",
    "apache-httpclient",
    "libwww",
    "lwp-",
    "node-fetch",
    "axios/",
    "undici",
    "postman",
    "insomnia",
    "httpie",
    "scrapy",
    "feedfetcher",
    "rss",
    "validator",
    "checker",
    "google-read-aloud",
    "mediapartners",
    "adsbot",
    "bingpreview",
    "yandex",
    "baiduspider",
    "petalbot",
    "applebot",
    "ia_archiver",
    "semrush",
    "ahrefs",
    "mj12",
];

fn markers() -> &'static AhoCorasick {
    static MARKERS: OnceLock<AhoCorasick> = OnceLock::new();
    MARKERS.get_or_init(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(ROBOT_MARKERS)
            .expect("valid markers")
    })
}

/// `None` for what looks like a person's browser.
pub fn detect_bot(user_agent: Option<&str>) -> Option<BotReason> {
    let Some(agent) = user_agent.map(str::trim).filter(|a| !a.is_empty()) else {
        return Some(BotReason::NoUserAgent);
    };
    markers().is_match(agent).then_some(BotReason::UserAgent)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROWSERS: &[&str] = &[
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
    ];

    #[test]
    fn browsers_are_people() {
        for agent in BROWSERS {
            assert_eq!(detect_bot(Some(agent)), None, "{agent}");
        }
    }

    #[test]
    fn robots_tools_and_headless_browsers_are_not() {
        for agent in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
            "curl/8.5.0",
            "python-requests/2.32.3",
            "Go-http-client/1.1",
            "WhatsApp/2.23.20.0",
            "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
        ] {
            assert_eq!(detect_bot(Some(agent)), Some(BotReason::UserAgent), "{agent}");
        }
        assert_eq!(detect_bot(None), Some(BotReason::NoUserAgent));
        assert_eq!(detect_bot(Some("  ")), Some(BotReason::NoUserAgent));
    }
}
