//! nginx's own verdict on a run, as its test suite reads it: a line at `alert`, `crit` or `emerg`,
//! a worker that exited on a signal or with an error code, or a Rust panic message (nginx sends its
//! stderr to the error log) fails the test, even one that counts no lines.

use std::path::{Path, PathBuf};

/// The lines of `log` that say something went wrong, except those containing one of `allowed`.
pub fn alarming_lines(log: &str, allowed: &[String]) -> Vec<String> {
    log.lines()
        .filter(|line| is_alarming(line))
        .filter(|line| !allowed.iter().any(|a| line.contains(a.as_str())))
        .map(str::to_owned)
        .collect()
}

fn is_alarming(line: &str) -> bool {
    const MARKS: [&str; 5] = ["[alert]", "[crit]", "[emerg]", "exited on signal", "panicked"];
    MARKS.iter().any(|m| line.contains(m)) || is_abnormal_exit(line)
}

/// "worker process 123 exited with code 2" (or "with fatal code"): any code but 0. A reload or a
/// shutdown ends every worker "with code 0", which is fine.
fn is_abnormal_exit(line: &str) -> bool {
    let Some((_, after)) = line.split_once(" process ") else {
        return false;
    };
    let Some((_, code)) = after
        .split_once(" exited with code ")
        .or_else(|| after.split_once(" exited with fatal code "))
    else {
        return false;
    };
    code.trim() != "0"
}

/// Every error log of the nginx whose private directory is `dir`: `logs/error.log` (where the
/// tests send it with `-e`), and each `error_log` of its `nginx.conf` that lies inside `dir`.
pub fn error_log_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![dir.join("logs/error.log")];
    let conf = std::fs::read_to_string(dir.join("nginx.conf")).unwrap_or_default();
    let named = conf
        .split([';', '{', '}'])
        .filter_map(|statement| {
            let mut words = statement.split_whitespace();
            (words.next() == Some("error_log"))
                .then(|| words.next())
                .flatten()
        })
        .map(PathBuf::from)
        .filter(|path| path.starts_with(dir));
    for path in named {
        if !files.contains(&path) {
            files.push(path);
        }
    }
    files
}

/// The alarming lines of every error log under `dir`, each prefixed with its file's name.
pub fn alarming_lines_in(dir: &Path, allowed: &[String]) -> Vec<String> {
    error_log_files(dir)
        .iter()
        .flat_map(|file| {
            let log = std::fs::read_to_string(file).unwrap_or_default();
            alarming_lines(&log, allowed)
                .into_iter()
                .map(move |line| format!("{}: {line}", file.display()))
        })
        .collect()
}

/// `lines` for a failure message: the first 10 of them, and how many more there are.
pub fn summary(lines: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut text = lines.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("\n");
    if lines.len() > SHOWN {
        text.push_str(&format!("\n... and {} more", lines.len() - SHOWN));
    }
    text
}
