//! One pass over a `User-Agent`, word by word, looking for a robot's marks.
//!
//! A `User-Agent` is a list of products (`Chrome/126.0.0.0`) and comments in parentheses whose
//! parts are separated by `;` (`(compatible; Googlebot/2.1; +http://www.google.com/bot.html)`).
//! The scanner reads it as:
//! - tokens: runs of bytes between delimiters (space, `/`, `;`, `,`, parentheses, brackets, `:`,
//!   `=`, quotes), such as a product name `Go-http-client` or a model `CUBOT_X30`;
//! - words: runs of ASCII letters and digits inside a token (`Go`, `http`, `client`).
//!
//! A robot is recognised by any of:
//! - a URL (`://`): robots name their home page, browsers never do;
//! - an e-mail address (`crawler@example.org`), which robots give as a contact;
//! - a word that ends in `bot` or `Bot` (`Googlebot`, `UptimeRobot`, `bot`), but not `BOT` (the
//!   brand `CUBOT`), or in what a robot does (`Baiduspider`, `SiteMonitor`, `BingPreview`, see
//!   [`ROBOT_ENDINGS`]) in any case;
//! - a word or a whole token that is a name of [`super::markers`] (`curl`, `HeadlessChrome`,
//!   `python-requests`), or a product of its product names with a version or alone
//!   (`Java/17.0.6`, `node`, but not the word `Java` in a feature phone's comment);
//! - a hyphenated token one of whose words is `Google` (`Mediapartners-Google`,
//!   `Google-InspectionTool`): Google names its fetchers so, and no browser does.
//!
//! A phone's model is not a name the phone chose to send, so its words are not judged: in
//! `(Linux; Android 7.0; M bot 54)` or `(Linux; U; Android 4.4.2; en-us; CUBOT X6 Build/KOT49H)`
//! the part after `Android …` (and after the language tag older Androids put first) is the model,
//! and only a URL in it counts. The parts after it are judged again:
//! `(Linux; Android 8.0; Pixel 2 Build/OPD3.170816.012; Storebot-Google/1.0)` is a robot.
//!
//! The scan allocates nothing and reads the header once, byte by byte, one table load each; a
//! word (or a token with punctuation, such as `Go-http-client`) is then looked up by a key made of
//! two loads of its ends, after a one-load filter that rules out almost every word of a browser.

use std::ops::Range;

use super::markers::{robot_name, Place};

/// What a byte is to the scanner.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Ends a token: space, `/`, `;`, `,`, parentheses, brackets, `:`, `=`, quotes.
    Delimiter,
    /// An ASCII letter or digit: part of a word.
    Alphanumeric,
    /// Any other byte (`-_.+!@`, bytes of non-ASCII text): part of a token, between words.
    Punctuation,
}

/// Bytes that end a token.
const DELIMITERS: &[u8] = b" \t;,/:=()[]{}<>\"'\\|";

/// The class of every byte, so that the scan costs one load per byte.
static CLASSES: [Class; 256] = classes();

const fn classes() -> [Class; 256] {
    let mut classes = [Class::Punctuation; 256];
    let mut byte = 0;
    while byte < 256 {
        if (byte as u8).is_ascii_alphanumeric() {
            classes[byte] = Class::Alphanumeric;
        }
        byte += 1;
    }
    let mut at = 0;
    while at < DELIMITERS.len() {
        classes[DELIMITERS[at] as usize] = Class::Delimiter;
        at += 1;
    }
    classes
}

#[cfg(test)]
pub(super) fn is_delimiter(byte: u8) -> bool {
    CLASSES[usize::from(byte)] == Class::Delimiter
}

/// What the scanner knows of the header so far, between tokens.
#[derive(Default)]
struct Scanner {
    /// Nesting depth of parentheses.
    depth: u32,
    /// Tokens read in the current comment part (the text between `(`, `;` and `)`) so far.
    part_tokens: u32,
    /// The first word of the current comment part is `Android`.
    part_says_android: bool,
    /// The current comment part is one language tag (`en-us`).
    part_is_language: bool,
    /// The current comment part is the device's model (it follows `Android …`, or a language
    /// tag that follows it): its words are not judged.
    in_model: bool,
}

/// What the scanner learnt of the token it has just read.
struct Token {
    start: usize,
    end: usize,
    /// Words in the token.
    words: u32,
    /// One of its words is `google`.
    has_google: bool,
    /// It holds a byte other than a letter or digit.
    has_punctuation: bool,
    /// It holds a byte other than a letter, a digit or `-`.
    has_other_punctuation: bool,
    /// Where its last `@` is.
    last_at_sign: Option<usize>,
}

const ANDROID: &[u8] = b"android";
const GOOGLE: &[u8] = b"google";

/// Endings of words that name what a robot does, in any case (`Baiduspider`, `SiteMonitor`,
/// `BingPreview`, `DatadogSynthetics`). No word of a browser ends so; a phone's model may, and is
/// not judged.
const ROBOT_ENDINGS: &[&[u8]] = &[
    b"spider",
    b"crawl",
    b"crawler",
    b"indexer",
    b"archiver",
    b"scraper",
    b"scanner",
    b"fetcher",
    b"checker",
    b"validator",
    b"monitor",
    b"preview",
    b"synthetic",
    b"synthetics",
    b"inspector",
    b"auditor",
    b"uptime",
    b"webhook",
    b"webhooks",
    b"screenshot",
];

/// One bit for the last three letters of each of [`ROBOT_ENDINGS`], in 1,024: most words are
/// ruled out by one load.
static MAYBE_ENDING: [u64; 16] = ending_filter();

/// The word and bit of [`MAYBE_ENDING`] for a word whose last three bytes are `tail`.
const fn tail_place(tail: [u8; 3]) -> (usize, u64) {
    let key = ((tail[0].to_ascii_lowercase() as usize) << 6
        ^ (tail[1].to_ascii_lowercase() as usize) << 3
        ^ tail[2].to_ascii_lowercase() as usize)
        & 1023;
    (key >> 6, 1 << (key & 63))
}

const fn ending_filter() -> [u64; 16] {
    let mut filter = [0u64; 16];
    let mut at = 0;
    while at < ROBOT_ENDINGS.len() {
        let ending = ROBOT_ENDINGS[at];
        let n = ending.len();
        let (word, bit) = tail_place([ending[n - 3], ending[n - 2], ending[n - 1]]);
        filter[word] |= bit;
        at += 1;
    }
    filter
}

/// Whether `word` ends in `bot` or `Bot` (not `BOT`: the brand `CUBOT`), or in one of
/// [`ROBOT_ENDINGS`].
#[inline]
fn has_robot_ending(word: &[u8]) -> bool {
    if word.ends_with(b"bot") || word.ends_with(b"Bot") {
        return true;
    }
    let [.., a, b, c] = *word else {
        return false;
    };
    let (filter_word, bit) = tail_place([a, b, c]);
    MAYBE_ENDING[filter_word] & bit != 0
        && ROBOT_ENDINGS.iter().any(|ending| {
            word.len() >= ending.len() && word[word.len() - ending.len()..].eq_ignore_ascii_case(ending)
        })
}

/// Whether `token` is a language tag as older Androids put before the model: `de`, `en-us`,
/// `zh_CN`, `es-419`.
fn is_language_tag(token: &[u8]) -> bool {
    let (language, region) = match token.iter().position(|b| *b == b'-' || *b == b'_') {
        Some(at) => (&token[..at], Some(&token[at + 1..])),
        None => (token, None),
    };
    (2..=3).contains(&language.len())
        && language.iter().all(u8::is_ascii_alphabetic)
        && region.is_none_or(|r| (2..=4).contains(&r.len()) && r.iter().all(u8::is_ascii_alphanumeric))
}

/// Whether `token`, whose last `@` is at `at`, is an e-mail address (`crawler@example.org`),
/// which robots give as a contact and browsers never send. `android@88.0.4324.181` (Ecosia's
/// version) is not one: the domain must end in a label of letters.
fn is_email_address(token: &[u8], at: usize) -> bool {
    let domain = &token[at + 1..];
    let Some(dot) = domain.iter().rposition(|b| *b == b'.') else {
        return false;
    };
    let top = &domain[dot + 1..];
    at > 0
        && domain.first().is_some_and(u8::is_ascii_alphanumeric)
        && top.len() >= 2
        && top.iter().all(u8::is_ascii_alphabetic)
}

impl Scanner {
    /// Whether the words being read are judged.
    fn judging(&self) -> bool {
        !(self.depth > 0 && self.in_model)
    }

    /// Judges the word `agent[start..end]`, the `index`-th of its token; its place if it marks a
    /// robot.
    #[inline]
    fn judge_word(&mut self, agent: &[u8], start: usize, end: usize, index: u32) -> Option<Range<usize>> {
        let word = &agent[start..end];
        if index == 0 && self.part_tokens == 0 && word.eq_ignore_ascii_case(ANDROID) {
            self.part_says_android = true;
        }
        let marks = self.judging() && (has_robot_ending(word) || robot_name(word) == Some(Place::Anywhere));
        marks.then_some(start..end)
    }

    /// Reads the token that starts at `start`: its place and what it holds, or the place of a
    /// word of it that marks a robot.
    fn read_token(&mut self, agent: &[u8], start: usize) -> Result<Token, Range<usize>> {
        // Kept in locals (registers) while the bytes are read: each byte costs a load and a
        // table look-up.
        let mut end = agent.len();
        let mut words = 0;
        let mut has_google = false;
        let mut has_punctuation = false;
        let mut has_other_punctuation = false;
        let mut last_at_sign = None;
        let mut word_start = None;
        for (at, &byte) in agent.iter().enumerate().skip(start) {
            match CLASSES[usize::from(byte)] {
                Class::Delimiter => {
                    end = at;
                    break;
                }
                Class::Alphanumeric => {
                    word_start.get_or_insert(at);
                }
                Class::Punctuation => {
                    if let Some(word) = word_start.take() {
                        has_google |= agent[word..at].eq_ignore_ascii_case(GOOGLE);
                        if let Some(mark) = self.judge_word(agent, word, at, words) {
                            return Err(mark);
                        }
                        words += 1;
                    }
                    has_punctuation = true;
                    has_other_punctuation |= byte != b'-';
                    if byte == b'@' {
                        last_at_sign = Some(at - start);
                    }
                }
            }
        }
        if let Some(word) = word_start {
            has_google |= agent[word..end].eq_ignore_ascii_case(GOOGLE);
            if let Some(mark) = self.judge_word(agent, word, end, words) {
                return Err(mark);
            }
            words += 1;
        }
        Ok(Token {
            start,
            end,
            words,
            has_google,
            has_punctuation,
            has_other_punctuation,
            last_at_sign,
        })
    }

    /// Judges a token read whole; its place if it marks a robot. `is_product`: the token is
    /// followed by `/` and a version, or is the whole header.
    fn judge_token(&mut self, agent: &[u8], token: &Token, is_product: bool) -> Option<Range<usize>> {
        let text = &agent[token.start..token.end];
        self.part_is_language = self.in_model && self.part_tokens == 0 && is_language_tag(text);
        self.part_tokens += 1;
        if !self.judging() {
            return None;
        }
        // A token that is one word was judged as that word; no name begins with a digit (a
        // version such as `537.36` is not looked up).
        let named = (token.has_punctuation || is_product)
            && !text.first().is_some_and(u8::is_ascii_digit)
            && match robot_name(text) {
                Some(Place::Anywhere) => token.has_punctuation,
                Some(Place::Product) => is_product,
                None => false,
            };
        let marks = named
            || (token.has_google && token.words > 1 && !token.has_other_punctuation)
            || token.last_at_sign.is_some_and(|at| is_email_address(text, at));
        marks.then_some(token.start..token.end)
    }

    /// Starts a comment part: after `(` (`starts_comment`) or `;`.
    fn next_part(&mut self, starts_comment: bool) {
        self.in_model = !starts_comment
            && (self.part_says_android || (self.in_model && self.part_is_language && self.part_tokens == 1));
        self.part_tokens = 0;
        self.part_says_android = false;
        self.part_is_language = false;
    }

    fn scan(&mut self, agent: &[u8]) -> Option<Range<usize>> {
        let mut at = 0;
        while let Some(&byte) = agent.get(at) {
            if CLASSES[usize::from(byte)] != Class::Delimiter {
                let token = match self.read_token(agent, at) {
                    Ok(token) => token,
                    Err(mark) => return Some(mark),
                };
                let after = &agent[token.end..];
                // A header that is one token is a product name alone.
                let is_product = (after.first() == Some(&b'/')
                    && after.get(1).is_some_and(u8::is_ascii_digit))
                    || (token.start == 0 && token.end == agent.len());
                if let Some(mark) = self.judge_token(agent, &token, is_product) {
                    return Some(mark);
                }
                at = token.end;
                continue;
            }
            match byte {
                b':' if agent[at + 1..].starts_with(b"//") => return Some(at..at + 3),
                b'(' => {
                    self.depth += 1;
                    self.next_part(true);
                }
                b')' => {
                    self.depth = self.depth.saturating_sub(1);
                    self.next_part(true);
                }
                b';' if self.depth > 0 => self.next_part(false),
                _ => {}
            }
            at += 1;
        }
        None
    }
}

/// The first robot's mark in `agent`, if any: the word, token or `://` that shows it.
pub fn robot_mark(agent: &str) -> Option<&str> {
    let place = Scanner::default().scan(agent.as_bytes())?;
    // Marks begin and end at ASCII bytes or at the ends of the text, so always at a char boundary.
    agent.get(place)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(agent: &str) -> Option<&str> {
        robot_mark(agent)
    }

    #[test]
    fn a_url_or_an_e_mail_address_marks_a_robot() {
        assert_eq!(
            mark("Mozilla/5.0 (compatible; Foo/1.0; +http://foo.example/)"),
            Some("://")
        );
        assert_eq!(mark("Foo/1.0 (admin@foo.example)"), Some("admin@foo.example"));
        // Ecosia puts its version after an `@`; the domain of an address ends in letters.
        assert_eq!(
            mark("Mozilla/5.0 (Linux; Android 10; K) Chrome/119.0.0.0 (Ecosia android@119)"),
            None
        );
        assert_eq!(
            mark("Mozilla/5.0 (X11; U; Linux i686; th-TH@calendar=gregorian)"),
            None
        );
    }

    #[test]
    fn words_are_judged_by_their_ending_and_bot_must_not_be_shouted() {
        for (agent, word) in [
            ("Mozilla/5.0 (compatible; Googlebot/2.1)", "Googlebot"),
            ("Slackbot-LinkExpanding 1.0", "Slackbot"),
            ("Snap URL Preview Service; bot; snapchat", "Preview"),
            ("Sogou web spider/4.0", "spider"),
            (
                "Mozilla/5.0 (compatible; Yottaa) Chrome/99.0 Safari/537.36 YottaaMonitor",
                "YottaaMonitor",
            ),
            (
                "Mozilla/5.0 Chrome/138.0 Safari/537.36 DatadogSynthetics",
                "DatadogSynthetics",
            ),
        ] {
            assert_eq!(mark(agent), Some(word), "{agent}");
        }
        // A brand in capitals, or a word that only contains "bot", is not a robot's word.
        assert_eq!(
            mark("Mozilla/5.0 (X11; Linux x86_64) CUBOT/1.0 Chrome/126.0.0.0"),
            None
        );
        assert_eq!(
            mark("Mozilla/5.0 (Linux; Android 12) Instagram (HTC; htc_botdugls; qcom)"),
            None
        );
    }

    #[test]
    fn names_count_as_whole_words_or_tokens_only() {
        assert_eq!(mark("curl/8.5.0"), Some("curl"));
        assert_eq!(mark("Go-http-client/2.0"), Some("Go-http-client"));
        assert_eq!(
            mark("Mozilla/5.0 (X11) AppleWebKit/537.36 HeadlessChrome/126.0.0.0"),
            Some("HeadlessChrome")
        );
        // `libwww-FM` is Lynx's own library, `libwww-perl` a robot's.
        assert_eq!(
            mark("Lynx/2.8.5dev.16 libwww-FM/2.14 SSL-MM/1.4.1 OpenSSL/0.9.6b"),
            None
        );
        assert_eq!(mark("libwww-perl/6.05"), Some("libwww-perl"));
        // A name inside a longer word is not the name.
        assert_eq!(
            mark("Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Curlew/1.0"),
            None
        );
    }

    #[test]
    fn product_names_count_with_a_version_or_alone() {
        assert_eq!(mark("Java/17.0.6"), Some("Java"));
        assert_eq!(mark("node"), Some("node"));
        assert_eq!(
            mark(
                "UCWEB/2.0 (Java; U; MIDP-2.0; en-US; Nokia501) U2/1.0.0 UCBrowser/9.5.0.449 U2/1.0.0 Mobile"
            ),
            None
        );
        assert_eq!(
            mark("LG/KU990i/v10a Browser/Obigo-Q05A/3.6 Java/ASVM/1.0 Profile/MIDP-2.0"),
            None
        );
    }

    #[test]
    fn a_hyphenated_google_token_is_a_google_fetcher() {
        assert_eq!(
            mark("Mozilla/5.0 (compatible; Google-InspectionTool/1.0)"),
            Some("Google-InspectionTool")
        );
        assert_eq!(
            mark("APIs-Google (+https://developers.google.com/)"),
            Some("APIs-Google")
        );
        // The Google app is a person's.
        assert_eq!(
            mark("Mozilla/5.0 (iPhone; CPU iPhone OS 26_5_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/432.9.954074404 Mobile/15E148 Safari/604.1"),
            None
        );
    }

    #[test]
    fn a_phones_model_is_not_judged_but_what_follows_it_is() {
        for agent in [
            "Mozilla/5.0 (Linux; Android 7.0; M bot 54) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.96 Mobile Safari/537.36",
            "Mozilla/5.0 (Linux; Android 13; Spider 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            "Mozilla/5.0 (Linux; Android 15; Cubot Hafury V1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Mobile Safari/537.36",
            "Mozilla/5.0 (Linux; U; Android 4.4.2; en-us; XBot Junior Build/KOT49H) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
            "Mozilla/5.0 (Linux; Android 12; HarmonyOS; GOT-AL09; HMSCore 6.6.0.369) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/92.0.4515.105 HuaweiBrowser/12.0.4.310 Safari/537.36",
        ] {
            assert_eq!(mark(agent), None, "{agent}");
        }
        assert_eq!(
            mark("Mozilla/5.0 (Linux; Android 8.0; Pixel 2 Build/OPD3.170816.012; DuplexWeb-Google/1.0) AppleWebKit/537.36"),
            Some("DuplexWeb-Google")
        );
        // Outside a comment that names Android, a robot's word counts wherever it is.
        assert_eq!(mark("Mozilla/5.0 (Spider 8; Linux)"), Some("Spider"));
    }

    #[test]
    fn language_tags_are_told_from_models() {
        for tag in ["de", "en-us", "zh_CN", "es-419", "fil"] {
            assert!(is_language_tag(tag.as_bytes()), "{tag}");
        }
        for model in ["K", "XBot", "Redmi", "SM-G991B", "en-", "e1-us"] {
            assert!(!is_language_tag(model.as_bytes()), "{model}");
        }
    }

    #[test]
    fn any_bytes_are_scanned_without_a_panic() {
        for agent in [
            "(",
            ")",
            ";;;",
            "((((;",
            "://",
            "@",
            "a@",
            "@b.cd",
            "é/1",
            "Mozilla/5.0 (Android",
            "/1",
        ] {
            let _ = mark(agent);
        }
        assert_eq!(mark("@b.cd"), None);
    }
}
