//! The dashboard page's settings (`analytics_dashboard`) and the HTML page that carries them.
//!
//! The dashboard is a static single-page app compiled into the module (`dashboard/`). Its settings
//! reach the browser as `data-*` attributes of the page's `<body>`, never as inline script, so the
//! page's `Content-Security-Policy` can forbid inline script altogether. Every value is
//! HTML-escaped here, although the checks below already keep quotes and markup out.

/// The page, with `{{settings}}` where the `<body>` attributes go.
const PAGE_TEMPLATE: &str = include_str!("../../dashboard/index.html");
const SETTINGS_MARK: &str = "{{settings}}";

/// What `analytics_dashboard` was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardSettings {
    /// Where InfluxQL goes: a path on this site (the page may talk to its own origin only).
    pub query: String,
    /// `None`: the `db=` of an `http://` sink's URL, else `analytics`.
    pub database: Option<String>,
    /// `None`: the `rp=` of an `http://` sink's URL, else the database's default policy.
    pub retention_policy: Option<String>,
    /// Whether the roll-up recipe of `docs/dashboard.md` is installed.
    pub rollups: bool,
}

/// The measurement names the page queries: the module's own configuration.
pub struct DashboardMeasurements<'a> {
    pub page_view: &'a str,
    pub not_found: &'a str,
    pub event: &'a str,
}

/// The database when neither the directive nor the sink names one.
pub const DEFAULT_DATABASE: &str = "analytics";

impl DashboardSettings {
    /// Parses the directive's `key=value` arguments.
    pub fn parse<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<DashboardSettings, String> {
        let mut settings = DashboardSettings {
            query: String::new(),
            database: None,
            retention_policy: None,
            rollups: false,
        };
        for arg in args {
            let (key, value) = arg
                .split_once('=')
                .ok_or_else(|| format!("unknown parameter \"{arg}\""))?;
            match key {
                "query" => {
                    if !value.starts_with('/') || value.starts_with("//") || !plain(value) {
                        return Err(format!(
                            "invalid \"query={value}\": use a path on this site, such as /influx/query"
                        ));
                    }
                    settings.query = value.to_owned();
                }
                "db" => settings.database = Some(name(key, value)?),
                "rp" => settings.retention_policy = Some(name(key, value)?),
                "rollups" => {
                    settings.rollups = match value {
                        "on" => true,
                        "off" => false,
                        _ => return Err(format!("invalid \"rollups={value}\": use on or off")),
                    }
                }
                _ => return Err(format!("unknown parameter \"{arg}\"")),
            }
        }
        if settings.query.is_empty() {
            return Err("\"query=\" is required: the location that passes InfluxQL to InfluxDB".to_owned());
        }
        Ok(settings)
    }

    /// The page for this location. `sink_query` is the query string of an `http://` sink's URL,
    /// where `db=` and `rp=` are found when the directive does not name them.
    pub fn page(&self, measurements: &DashboardMeasurements, sink_query: Option<&str>) -> String {
        // Only a value the directive itself would take: the page puts it into queries.
        let from_sink = |key: &str| {
            url::form_urlencoded::parse(sink_query?.as_bytes())
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| name(key, &v).ok())
        };
        let database = self
            .database
            .clone()
            .or_else(|| from_sink("db"))
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        let retention_policy = self.retention_policy.clone().or_else(|| from_sink("rp"));
        let mut attributes = String::new();
        for (key, value) in [
            ("query", self.query.as_str()),
            ("db", &database),
            ("rp", retention_policy.as_deref().unwrap_or("")),
            ("rollups", if self.rollups { "on" } else { "off" }),
            ("pageview", measurements.page_view),
            ("notfound", measurements.not_found),
            ("event", measurements.event),
        ] {
            attributes.push_str(" data-");
            attributes.push_str(key);
            attributes.push_str("=\"");
            attributes.push_str(&escape_attribute(value));
            attributes.push('"');
        }
        PAGE_TEMPLATE.replacen(SETTINGS_MARK, &attributes, 1)
    }
}

/// Printable ASCII without the characters that would need quoting in HTML or JavaScript.
fn plain(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 256
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\' | b'<' | b'>' | b'&' | b'`'))
}

/// A database or retention-policy name: InfluxDB allows more, but quotes and backslashes would
/// need escaping in every query the page builds.
fn name(key: &str, value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "invalid \"{key}={value}\": use 1 to 64 letters, digits, '_', '-' or '.'"
        ))
    }
}

fn escape_attribute(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEASUREMENTS: DashboardMeasurements = DashboardMeasurements {
        page_view: "pageview",
        not_found: "notfound",
        event: "event",
    };

    #[test]
    fn parses_the_parameters() {
        let s = DashboardSettings::parse(["query=/influx/query", "db=web", "rp=raw", "rollups=on"]).unwrap();
        assert_eq!(s.query, "/influx/query");
        assert_eq!(s.database.as_deref(), Some("web"));
        assert_eq!(s.retention_policy.as_deref(), Some("raw"));
        assert!(s.rollups);
    }

    #[test]
    fn refuses_what_the_page_could_not_use_safely() {
        for (args, says) in [
            (&[][..], "\"query=\" is required"),
            (&["query=http://other.example/query"][..], "a path on this site"),
            (&["query=//other.example/query"][..], "a path on this site"),
            (&["query=/q\"onload=x"][..], "a path on this site"),
            (&["query=/q", "db=a'b"][..], "invalid \"db=a'b\""),
            (&["query=/q", "rp="][..], "invalid \"rp=\""),
            (&["query=/q", "rollups=yes"][..], "use on or off"),
            (&["query=/q", "colour=red"][..], "unknown parameter"),
            (&["query"][..], "unknown parameter"),
        ] {
            let err = DashboardSettings::parse(args.iter().copied()).unwrap_err();
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }

    #[test]
    fn the_page_carries_the_settings_as_attributes() {
        let s = DashboardSettings::parse(["query=/influx/query"]).unwrap();
        let page = s.page(&MEASUREMENTS, Some("db=site&rp=raw&u=x"));
        assert!(page.contains(r#"data-query="/influx/query""#), "{page}");
        assert!(page.contains(r#"data-db="site""#));
        assert!(page.contains(r#"data-rp="raw""#));
        assert!(page.contains(r#"data-pageview="pageview""#));
        assert!(!page.contains(SETTINGS_MARK));
        let page = s.page(&MEASUREMENTS, None);
        assert!(page.contains(r#"data-db="analytics""#));
        let page = s.page(&MEASUREMENTS, Some("db=a%27b"));
        assert!(
            page.contains(r#"data-db="analytics""#),
            "a name the page cannot quote is not taken"
        );
        assert!(page.contains(r#"data-rp="""#));
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let page = DashboardSettings::parse(["query=/q"])
            .unwrap()
            .page(&MEASUREMENTS, None);
        assert_eq!(page.matches("<script").count(), 1, "{page}");
        assert!(page.contains(r#"<script src="app.js""#) || page.contains("<script defer src="));
        assert!(!page.contains(" style="), "{page}");
        assert!(!page.contains("<style"), "{page}");
        for handler in [" onload", " onclick", " onerror", " oninput", " onchange"] {
            assert!(!page.contains(handler), "no event-handler attributes");
        }
    }

    #[test]
    fn attributes_are_escaped() {
        assert_eq!(escape_attribute(r#"a"<&'>"#), "a&quot;&lt;&amp;&#39;&gt;");
    }
}
