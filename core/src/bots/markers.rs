//! The names that only robots, tools and automation put in a `User-Agent`, and their lookup.
//!
//! A name is compared with a whole word or a whole token of the header (see `scan.rs`), never
//! searched for inside one: `curl` is a robot, `Curlew` is not. Names are lower case and matched
//! without regard to case. Words that end in `bot`, `spider` or `crawler` need no entry here: the
//! scanner knows them by their ending.

use std::sync::OnceLock;

/// Names of robots, tools and headless browsers, compared with whole words (runs of letters and
/// digits) and with whole tokens (a product name such as `Go-http-client`, up to the `/` before
/// its version). Each was seen in a real `User-Agent` of the robot corpus
/// (`core/tests/data/robots.txt`), and none is a word or token of the people corpus.
const NAMES: &[&str] = &[
    // Link previewers and social fetchers that do not call themselves bots.
    "facebookexternalhit",
    "facebookcatalog",
    "meta-externalagent",
    "meta-externalfetcher",
    "meta-externalads",
    "whatsapp",
    "viberurldownloader",
    "skypeuripreview",
    "slack-imgproxy",
    "vkshare",
    "embedly",
    "iframely",
    "onebox",
    "outbrain",
    "disqus",
    "qwantify",
    "cardyb",
    "imgproxy",
    "github-camo",
    "favicon",
    // Search engines, archives, AI fetchers and feed fetchers with a name of their own.
    "slurp",
    "ia_archiver",
    "mediapartners-google",
    "googleother",
    "googleimageproxy",
    "googleassociationservice",
    "googleagent-mariner",
    "feedfetcher",
    "feedburner",
    "feedly",
    "feedbin",
    "newsblur",
    "inoreader",
    "anthropic-ai",
    "cohere-ai",
    "spawning-ai",
    "chatgpt-user",
    "claude-user",
    "claude-web",
    "perplexity-user",
    "mistralai-user",
    "amzn-user",
    "manus-user",
    "firecrawlagent",
    "crawl4ai",
    "datanyze",
    "netcraft",
    // SEO tools, site auditors, validators and scanners.
    "barkrowler",
    "seokicks",
    "sitebulb",
    "siteimprove",
    "seobility",
    "brokenlinkcheck.com",
    "silktide",
    "dareboost",
    "securityheaders",
    "hardenize",
    "httrack",
    "sitesucker",
    "webcopier",
    "xenu",
    "w3c",
    "dcv",
    "zgrab",
    "nikto",
    "zmeu",
    "acunetix",
    "openvas",
    "whatweb",
    "l9explore",
    "colly",
    // Monitors and health checks.
    "pingdom",
    "pingdomtms",
    "statuscake",
    "uptrends",
    "uptimia",
    "site24x7",
    "newrelicpinger",
    "monitoring",
    "datadog",
    "thousandeyes",
    "catchpoint",
    "rigor",
    "nodeping",
    "panopta",
    "appinsights",
    "zabbix",
    "check_http",
    "kube-probe",
    "elb-healthchecker",
    "googlehc",
    "updown.io",
    "cloudfront",
    "zapier",
    "integromat",
    // Headless browsers, renderers, automation and page-speed tools.
    "headlesschrome",
    "phantomjs",
    "jsdom",
    "playwright",
    "selenium",
    "lighthouse",
    "ptst",
    "gtmetrix",
    "prerender",
    "hotjar",
    "httpunit",
    // HTTP libraries and command-line clients.
    "curl",
    "wget",
    "httpie",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "httpx",
    "aiohttp",
    "urllib3",
    "scrapy",
    "go-http-client",
    "apache-httpclient",
    "java-http-client",
    "httpurlconnection",
    "node-fetch",
    "node.js",
    "axios",
    "undici",
    "postmanruntime",
    "libwww-perl",
    "lwp-trivial",
    "mechanize",
    "guzzlehttp",
    "faraday",
    "http.rb",
    "http_get",
    "pcore-http",
    "lua-resty-http",
    "ocaml-cohttp",
    "winhttp",
    "powershell",
    "windowspowershell",
    "dalvik",
];

/// Names that are robots only as a product with a version (`Java/17.0.6`, `Deno/2.1.7`) or as the
/// whole header (`node`, what Node.js's `fetch` sends): as a word elsewhere they can be a
/// person's (`(Java; U; MIDP-2.0; …) UCBrowser/9.5` is a feature phone's browser).
const PRODUCTS: &[&str] = &[
    "java",
    "python",
    "node",
    "deno",
    "bun",
    "ruby",
    "php",
    "perl",
    "dart",
    "okhttp",
    "ahc",
    "ning",
    "jetty",
    "hackney",
    "needle",
    "newspaper",
];

/// Where a name marks a robot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// As any word or token.
    Anywhere,
    /// Only as a product name followed by `/` and a version, or as the whole header.
    Product,
}

/// The lookup key of a word or token, whatever its case: made of its first and its last eight
/// bytes (each `| 0x20`, which lower-cases ASCII letters) and its length, so that it costs two
/// loads and a multiplication per word, not work per byte. Words that share both ends and the
/// length share a key; the names are then compared byte by byte.
pub const fn key_of(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let (first, last) = if n < 8 {
        (load(bytes, 0, n), 0)
    } else {
        (load(bytes, 0, 8), load(bytes, n - 8, 8))
    };
    mix(first, last, n)
}

/// [`key_of`] at run time: the same key, with whole 8-byte loads where the word is long enough.
#[inline]
pub fn key(bytes: &[u8]) -> u64 {
    const CASE: u64 = 0x2020_2020_2020_2020;
    match (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        (Some(first), Some(last)) => mix(
            u64::from_le_bytes(*first) | CASE,
            u64::from_le_bytes(*last) | CASE,
            bytes.len(),
        ),
        _ => key_of(bytes),
    }
}

/// `len` bytes of `bytes` from `from`, each `| 0x20`, as a little-endian number.
const fn load(bytes: &[u8], from: usize, len: usize) -> u64 {
    let mut value = 0u64;
    let mut at = 0;
    while at < len {
        value |= ((bytes[from + at] | 0x20) as u64) << (8 * at);
        at += 1;
    }
    value
}

#[inline]
const fn mix(first: u64, last: u64, len: usize) -> u64 {
    let mixed = (first ^ last.rotate_left(29) ^ (len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_mul(0xff51_afd7_ed55_8ccd);
    mixed ^ (mixed >> 29)
}

/// One bit for each name's key, in 4,096: almost every word of a browser's header is ruled out
/// by one load, before any search.
static MAYBE_NAME: [u64; 64] = name_filter();

/// The word and bit of [`MAYBE_NAME`] for `key`.
const fn filter_place(key: u64) -> (usize, u64) {
    let bit = (key as usize) & 4095;
    (bit >> 6, 1 << (bit & 63))
}

const fn name_filter() -> [u64; 64] {
    let mut filter = [0u64; 64];
    let lists: [&[&str]; 2] = [NAMES, PRODUCTS];
    let mut list = 0;
    while list < lists.len() {
        let mut at = 0;
        while at < lists[list].len() {
            let (word, bit) = filter_place(key_of(lists[list][at].as_bytes()));
            filter[word] |= bit;
            at += 1;
        }
        list += 1;
    }
    filter
}

type Entry = (u64, &'static str, Place);

/// The names by key, sorted for a binary search.
fn table() -> &'static [Entry] {
    static TABLE: OnceLock<Vec<Entry>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let anywhere = NAMES.iter().map(|n| (key_of(n.as_bytes()), *n, Place::Anywhere));
        let products = PRODUCTS
            .iter()
            .map(|n| (key_of(n.as_bytes()), *n, Place::Product));
        let mut table: Vec<Entry> = anywhere.chain(products).collect();
        table.sort_unstable_by_key(|(key, _, _)| *key);
        table
    })
}

/// Where `word` marks a robot, if it is a name.
pub fn robot_name(word: &[u8]) -> Option<Place> {
    let wanted = key(word);
    let (filter_word, bit) = filter_place(wanted);
    if MAYBE_NAME[filter_word] & bit == 0 {
        return None;
    }
    let table = table();
    let first = table.partition_point(|(k, _, _)| *k < wanted);
    table[first..]
        .iter()
        .take_while(|(k, _, _)| *k == wanted)
        .find(|(_, name, _)| name.as_bytes().eq_ignore_ascii_case(word))
        .map(|(_, _, place)| *place)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for name in NAMES.iter().chain(PRODUCTS) {
            assert_eq!(*name, name.to_ascii_lowercase(), "{name}");
            assert!(seen.insert(*name), "{name} twice");
        }
    }

    #[test]
    fn a_name_is_found_whatever_its_case_and_nothing_else_is() {
        for (names, place) in [(NAMES, Place::Anywhere), (PRODUCTS, Place::Product)] {
            for name in names {
                let upper = name.to_ascii_uppercase();
                assert_eq!(robot_name(upper.as_bytes()), Some(place), "{name}");
            }
        }
        for word in ["Curlew", "Chrome", "cur", "curl2", ""] {
            assert_eq!(robot_name(word.as_bytes()), None, "{word}");
        }
    }

    #[test]
    fn the_run_time_key_is_the_key_of_the_tables() {
        let words = [
            "",
            "a",
            "Chrome",
            "AppleWebKit",
            "Go-http-client",
            "HeadlessChrome",
            "x86_64",
        ];
        for word in NAMES.iter().chain(PRODUCTS).chain(&words) {
            for spelling in [word.to_string(), word.to_ascii_uppercase()] {
                assert_eq!(key(spelling.as_bytes()), key_of(word.as_bytes()), "{spelling}");
            }
        }
    }

    /// A name no robot of the corpus sends is a guess that could hide a person one day.
    #[test]
    fn every_name_is_sent_by_a_robot_of_the_corpus() {
        let corpus = include_str!("../../tests/data/robots.txt");
        let robots: Vec<&str> = corpus.lines().filter(|line| !line.starts_with('#')).collect();
        let sends = |agent: &str, name: &str| {
            agent
                .split(|c: char| u8::try_from(c).is_ok_and(super::super::scan::is_delimiter))
                .any(|token| {
                    token.eq_ignore_ascii_case(name)
                        || token
                            .split(|c: char| !c.is_ascii_alphanumeric())
                            .any(|word| word.eq_ignore_ascii_case(name))
                })
        };
        for name in NAMES.iter().chain(PRODUCTS) {
            assert!(
                robots.iter().any(|agent| sends(agent, name)),
                "no robot of the corpus sends {name}"
            );
        }
    }
}
