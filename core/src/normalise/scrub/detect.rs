//! One detector per identifier class. Each looks anywhere in the text, not only at the whole of
//! it, so that `profile-bob@example.com` or `order-123456789` are found as well as the bare forms.
//! The thresholds are chosen so that the paths of an ordinary site pass untouched (`/2024/05/post`,
//! `/page/2`, `/products/shoes-42`, `/blog/rust-1.80-released`, `/how-to-install-python-3-12`);
//! the unit tests of `super` hold both sides.

/// Fewest consecutive digits taken for an identifier. Years (4 digits), page and post numbers,
/// and postal codes (up to 5) are content; from 6 digits on, a number in a URL is an order,
/// account, customer or ticket number, a phone number without separators, or a timestamp.
pub const MIN_ID_DIGITS: usize = 6;

/// Fewest digits in a phone number. The shortest subscriber numbers in use have 7 digits.
pub const MIN_PHONE_DIGITS: usize = 7;

/// Shortest run of hex digits taken for a token (a hash, a session id, a key). Shorter hex runs
/// are colour codes, short commit hashes, words such as `decade` or `facade`.
pub const MIN_HEX_TOKEN: usize = 16;

/// Shortest word (letters, digits and `-_+=`) that the random-text rule looks at. Below 16
/// characters a random id cannot be told from a product code or a word with a number
/// (`iPhone15ProMax`); the structure-based detectors still apply to shorter text.
pub const MIN_TOKEN_LEN: usize = 16;

/// At-signs: `@`, and its full-width and small forms, which read the same.
const AT_SIGNS: [char; 3] = ['@', '\u{FF20}', '\u{FE6B}'];

/// An `@` with a local-part character before it and a letter or digit after it. Handles such as
/// `/@alice` (nothing before the `@`) are public profile pages and stay.
pub fn contains_email(text: &str) -> bool {
    text.match_indices(AT_SIGNS).any(|(at, sign)| {
        let before = text[..at].chars().next_back();
        let after = text[at + sign.len()..].chars().next();
        before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-' | '\''))
            && after.is_some_and(char::is_alphanumeric)
    })
}

/// `8-4-4-4-12` hex digits with dashes, in either case.
pub fn contains_uuid(text: &str) -> bool {
    const DASHES: [usize; 4] = [8, 13, 18, 23];
    let bytes = text.as_bytes();
    bytes.len() >= 36
        && (0..=bytes.len() - 36).any(|start| {
            let candidate = &bytes[start..start + 36];
            candidate.iter().enumerate().all(|(i, &b)| {
                if DASHES.contains(&i) {
                    b == b'-'
                } else {
                    b.is_ascii_hexdigit()
                }
            })
        })
}

/// The longest run of consecutive digits (of any script: `１２３` and `١٢٣` count too).
pub fn longest_digit_run(text: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c.is_numeric() {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// A phone number: a run of digits, spaces, `+-().` holding at least [`MIN_PHONE_DIGITS`] digits
/// that is either international (`+` before a digit: `+49-151-2345678`, `+4915123456789`) or split
/// into groups (`(555) 123-4567`, `0151 2345678`), unless the groups spell a date
/// (`2024-05-17`, `17.05.2024`, `2024-05-17-10-30`).
pub fn contains_phone(text: &str) -> bool {
    let mut groups: Vec<usize> = Vec::new();
    let mut group = 0;
    let mut international = false;
    let mut after_plus = false;
    // A trailing NUL ends the last run.
    for c in text.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_digit() {
            international |= after_plus;
            after_plus = false;
            group += 1;
            continue;
        }
        if group > 0 {
            groups.push(group);
            group = 0;
        }
        if matches!(c, '+' | '-' | '(' | ')' | '.') || c.is_whitespace() {
            after_plus = c == '+';
            continue;
        }
        let digits: usize = groups.iter().sum();
        if digits >= MIN_PHONE_DIGITS && (international || (groups.len() >= 2 && !is_date(&groups))) {
            return true;
        }
        groups.clear();
        international = false;
        after_plus = false;
    }
    false
}

/// Digit groups of a date, with or without a time: a 4-digit year first or last, every other
/// group of one or two digits.
fn is_date(groups: &[usize]) -> bool {
    let short = |gs: &[usize]| gs.iter().all(|&g| g <= 2);
    match groups {
        [4, rest @ ..] => short(rest),
        [rest @ .., 4] => short(rest),
        _ => false,
    }
}

/// A long hex run: at least [`MIN_HEX_TOKEN`] hex digits mixing digits and letters (hashes,
/// session ids, undashed UUIDs; all digits is an `:id`), or `0x` and at least 8 hex digits (an
/// address or key in hex notation).
pub fn contains_hex_token(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut run = 0;
    let mut run_has_digit = false;
    let mut run_has_letter = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b.is_ascii_hexdigit() {
            run += 1;
            run_has_digit |= b.is_ascii_digit();
            run_has_letter |= !b.is_ascii_digit();
            if run >= MIN_HEX_TOKEN && run_has_digit && run_has_letter {
                return true;
            }
        } else {
            if (b == b'x' || b == b'X')
                && i > 0
                && bytes[i - 1] == b'0'
                && bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_hexdigit())
                    .count()
                    >= 8
            {
                return true;
            }
            run = 0;
            run_has_digit = false;
            run_has_letter = false;
        }
    }
    false
}

/// Random-looking text: base64, base64url, base32 and base36 tokens, API keys, JWT parts, web-mail
/// message ids. A "word" is a run of letters, digits and `-_+=` (the base64 alphabets); its
/// "pieces" are the letter-and-digit runs between those separators. A word is a token when:
/// - the word, or a piece of it, starts with `eyJ` (base64 of `{"`: a JWT header or payload)
///   followed by 9 characters or more; or
/// - one piece has 32 or more letters and digits of both kinds: no slug runs that long unbroken; or
/// - the word has at least [`MIN_TOKEN_LEN`] characters and at least [`MIN_ODD_PERCENT`] % of the
///   neighbouring pairs inside its pieces (of 3 or more) are "odd": a lower-case letter followed
///   by an upper-case one, a letter next to a digit, or two consonants that rarely meet in words
///   (`COMMON_CONSONANT_PAIRS`). Random base64, base62, base36 and base32 text has 40–80 % odd
///   pairs (a 16-character token falls under 25 % in 0.1–1.6 % of cases, a 20-character one in
///   0.02–0.8 %); words, slugs and CamelCase titles mostly stay under 20 %: none of 620,000 English,
///   German, French and Spanish dictionary words is taken for a token, nor are 99.99 % of 200,000
///   random concatenations of two to five of them (joined, hyphenated or CamelCase). Names glued
///   to several numbers without separators (`iphone15promax256gb`) can be: sites hyphenate.
pub fn contains_random_token(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '=')))
        .any(|word| word.len() >= 12 && random_word(word))
}

/// The share of odd pairs (in percent) from which a word is taken for random text.
pub const MIN_ODD_PERCENT: usize = 25;

fn random_word(word: &str) -> bool {
    let bytes = word.as_bytes();
    let jwt_part = (0..bytes.len().saturating_sub(11)).any(|at| {
        (at == 0 || matches!(bytes[at - 1], b'-' | b'_' | b'+' | b'='))
            && bytes[at..at + 3].eq_ignore_ascii_case(b"eyj")
    });
    if jwt_part {
        return true;
    }
    let mut pairs = 0;
    let mut odd = 0;
    // Neighbours are counted inside each piece only: a separator starts a new word of a slug.
    for piece in word.split(['-', '_', '+', '=']) {
        let bytes = piece.as_bytes();
        if bytes.len() >= 32
            && bytes.iter().any(u8::is_ascii_alphabetic)
            && bytes.iter().any(u8::is_ascii_digit)
        {
            return true;
        }
        if bytes.len() >= 3 {
            pairs += bytes.len() - 1;
            odd += bytes.windows(2).filter(|w| odd_pair(w[0], w[1])).count();
        }
    }
    word.len() >= MIN_TOKEN_LEN && pairs >= 8 && odd * 100 >= pairs * MIN_ODD_PERCENT
}

fn odd_pair(a: u8, b: u8) -> bool {
    (a.is_ascii_digit() != b.is_ascii_digit())
        || (a.is_ascii_lowercase() && b.is_ascii_uppercase())
        || (is_consonant(a) && is_consonant(b) && !common_consonant_pair(a, b))
}

fn is_consonant(b: u8) -> bool {
    b.is_ascii_alphabetic() && !matches!(b.to_ascii_lowercase(), b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

/// Consonant pairs (besides doubled letters) common inside words of English, German, French,
/// Spanish and the other languages of European slugs (`y` counts as a vowel). Random letters meet
/// outside this list in about 65 % of their consonant pairs.
const COMMON_CONSONANT_PAIRS: &[&[u8; 2]] = &[
    b"bb", b"bl", b"br", b"bs", b"cc", b"ch", b"ck", b"cl", b"cr", b"cs", b"ct", b"cz", b"dd", b"dg", b"dl",
    b"dr", b"ds", b"dt", b"dw", b"dz", b"ff", b"fl", b"fr", b"fs", b"ft", b"gg", b"gh", b"gl", b"gn", b"gr",
    b"gs", b"gt", b"hl", b"hm", b"hn", b"hr", b"hs", b"ht", b"hw", b"kk", b"kl", b"kn", b"kr", b"ks", b"kt",
    b"lb", b"lc", b"ld", b"lf", b"lg", b"lk", b"ll", b"lm", b"ln", b"lp", b"ls", b"lt", b"lv", b"lw", b"mb",
    b"mm", b"mn", b"mp", b"ms", b"nc", b"nd", b"nf", b"ng", b"nk", b"nl", b"nn", b"ns", b"nt", b"nv", b"nz",
    b"pf", b"ph", b"pl", b"pp", b"pr", b"ps", b"pt", b"rb", b"rc", b"rd", b"rf", b"rg", b"rh", b"rk", b"rl",
    b"rm", b"rn", b"rp", b"rr", b"rs", b"rt", b"rv", b"rw", b"rz", b"sc", b"sh", b"sk", b"sl", b"sm", b"sn",
    b"sp", b"sq", b"ss", b"st", b"sw", b"sz", b"tc", b"th", b"tl", b"tm", b"tn", b"tr", b"ts", b"tt", b"tw",
    b"tz", b"wh", b"wl", b"wn", b"wr", b"ws", b"wt", b"xc", b"xp", b"xt", b"zw",
];

fn common_consonant_pair(a: u8, b: u8) -> bool {
    let pair = [a.to_ascii_lowercase(), b.to_ascii_lowercase()];
    // Doubled letters (`ll`, `ss`, `xx`) are common in words of every language.
    pair[0] == pair[1] || COMMON_CONSONANT_PAIRS.iter().any(|common| **common == pair)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for t in [
            "bob@example.com",
            "profile-bob@example.com",
            "a.b+c@d.io",
            "bøb@exämple.com",
            "x\u{FF20}y.org",
        ] {
            assert!(contains_email(t), "{t}");
        }
        for t in ["@alice", "alice@", "a @ b", "mail"] {
            assert!(!contains_email(t), "{t}");
        }
    }

    #[test]
    fn uuids() {
        assert!(contains_uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(contains_uuid("id-ABCDEFAB-ABCD-ABCD-ABCD-ABCDEFABCDEF.json"));
        assert!(!contains_uuid("123e4567-e89b-12d3-a456-42661417400"));
        assert!(!contains_uuid("a-b-c-d-e"));
    }

    #[test]
    fn phones() {
        for t in [
            "+49-151-2345678",
            "(555) 123-4567",
            "+4915123456789",
            "555-123-4567",
            "0151 2345678",
            "+1 555 123 4567",
            "call-+44.20.7946.0958-now",
        ] {
            assert!(contains_phone(t), "{t}");
        }
        for t in [
            "2024-05-17",
            "17.05.2024",
            "2024-05-17-10-30",
            "1-800-flowers",
            "rust-1.80-released",
            "shoes-42",
            "top-100-movies-of-2023",
            "+49",
        ] {
            assert!(!contains_phone(t), "{t}");
        }
    }

    #[test]
    fn digit_runs() {
        assert_eq!(longest_digit_run("order-123456789x12"), 9);
        assert_eq!(longest_digit_run("２０２４１２３"), 7);
        assert_eq!(longest_digit_run("2024"), 4);
    }

    #[test]
    fn hex_tokens() {
        for t in [
            "d41d8cd98f00b204e9800998ecf8427e",
            "commit-da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "0xC0A80101",
            "123E4567E89B12D3A456426614174000",
        ] {
            assert!(contains_hex_token(t), "{t}");
        }
        for t in [
            "deadbeef",
            "facade",
            "#ff00aa",
            "abcdefabcdefabcdef",
            "1234567890123456",
            "0x1F",
        ] {
            assert!(!contains_hex_token(t), "{t}");
        }
    }

    #[test]
    fn random_tokens() {
        for t in [
            "eyJhbGciOiJIUzI1NiJ9",
            "eyJ_a-A--_AaA",
            "eyjhbgcioijiuzi1nij9",
            "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
            "dGhpcyBpcyBhIHNlY3JldCB0b2tlbg==",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "el4ukv0kqbvoirg7nkp4dncpk3",
            "FMfcgzGwHLfxkjhSjtDqLKBhZrFGpQhX",
            "aB3-dE5fG6h_Ij7kL8mN9o",
            "JBSWY3DPEHPK3PXP4Q2W",
        ] {
            assert!(contains_random_token(t), "{t}");
        }
        for t in [
            "hello-world",
            "how-to-install-python-3-12-on-windows-11",
            "covid19vaccine-rollout",
            "iphone-15-pro-max-256gb",
            "galaxys24ultra-review",
            "iPhone15ProMax",
            "List_of_Apollo_11_astronauts",
            "ThisIsAVeryLongCamelCaseTitle",
            "Donaudampfschifffahrtsgesellschaft",
            "2023-annual-report-final-v2",
            "top-10-tips-for-h2o-and-co2-in-2024",
            "dQw4w9WgXcQ",
        ] {
            assert!(!contains_random_token(t), "{t}");
        }
    }
}
