//! Where the host and the component write their log lines.
//!
//! A [`LogSink`] is cheap to clone and shared by everything that runs for a
//! tenant. The CLI writes to stderr; tests use [`LogSink::memory`] to assert on
//! what was logged (for example that no secret ever appears). Log lines never
//! carry secret values: the component promises that in the WIT `log`
//! interface, and the host only logs names, never values.
//!
//! # Context and formats
//!
//! A sink carries a context: `key=value` fields such as `tenant=contoso` and
//! `person=adele@contoso.com` ([`LogSink::with_field`]), and bare words such
//! as `component` ([`LogSink::with_context`] splits `k=v` words into fields).
//! Every line written through the sink carries them.
//!
//! - [`LogFormat::Text`] (the default): `LEVEL [tenant=contoso person=..] message`.
//! - [`LogFormat::Json`] (`serve --log-format json`): one JSON object per
//!   line, `{"ts":"2026-05-04T09:00:00.123Z","level":"info","tenant":"contoso","person":"adele@contoso.com","msg":".."}`;
//!   `tenant` and `person` are left out when the line is about none, other
//!   fields follow them under their own key, bare words are joined under
//!   `source`. `ts` is UTC, RFC 3339 with milliseconds.

use std::fmt;
use std::sync::{Arc, Mutex};

/// Severity of a log line, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Step-by-step detail.
    Trace,
    /// Detail for investigating a problem.
    Debug,
    /// Normal progress.
    Info,
    /// Something was wrong but work went on.
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    /// Parses `trace`, `debug`, `info`, `warn` or `error` (any case).
    pub fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_lowercase().as_str() {
            "trace" => Some(Level::Trace),
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" | "warning" => Some(Level::Warn),
            "error" => Some(Level::Error),
            _ => None,
        }
    }

    /// The lower-case name used in JSON lines.
    pub fn as_lower(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        })
    }
}

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `LEVEL [context] message`.
    #[default]
    Text,
    /// One JSON object per line (see the [module documentation](self)).
    Json,
}

/// One piece of a sink's context: a `key=value` field or a bare word.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    key: Option<Arc<str>>,
    value: Arc<str>,
}

type Writer = dyn Fn(Level, &str) + Send + Sync;

/// A destination for log lines with a minimum level and a context.
#[derive(Clone)]
pub struct LogSink {
    writer: Arc<Writer>,
    min: Level,
    format: LogFormat,
    context: Arc<[Field]>,
    /// The persons a line may be about: a line without a `person` field
    /// that names exactly one of them gets it.
    persons: Option<PersonIndex>,
}

/// The addresses of a tenant's persons, shared by every sink of the tenant
/// and kept current by the service ([`LogSink::with_person_index`]).
#[derive(Clone, Debug, Default)]
pub struct PersonIndex(Arc<std::sync::RwLock<std::collections::HashSet<String>>>);

impl PersonIndex {
    /// An empty index.
    pub fn new() -> PersonIndex {
        PersonIndex::default()
    }

    /// Replaces the addresses (compared case-insensitively).
    pub fn set(&self, persons: impl IntoIterator<Item = String>) {
        let set = persons
            .into_iter()
            .map(|p| p.to_ascii_lowercase())
            .collect();
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = set;
    }

    /// The one person of the index that `message` names, if exactly one.
    pub fn named_in(&self, message: &str) -> Option<String> {
        let persons = self.0.read().unwrap_or_else(|e| e.into_inner());
        if persons.is_empty() {
            return None;
        }
        let mut found: Option<String> = None;
        let words = message.split(|c: char| {
            c.is_whitespace()
                || matches!(
                    c,
                    ',' | ';'
                        | ':'
                        | '('
                        | ')'
                        | '<'
                        | '>'
                        | '"'
                        | '\''
                        | '['
                        | ']'
                        | '{'
                        | '}'
                        | '/'
                        | '='
                )
        });
        for word in words.filter(|w| w.contains('@')) {
            let word = word.trim_end_matches('.').to_ascii_lowercase();
            if persons.contains(&word) {
                match &found {
                    Some(other) if *other != word => return None,
                    _ => found = Some(word),
                }
            }
        }
        found
    }
}

impl fmt::Debug for LogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogSink")
            .field("min", &self.min)
            .field("format", &self.format)
            .field("context", &self.text_context())
            .finish()
    }
}

impl LogSink {
    /// Lines at `min` or above go to stderr, as text.
    pub fn stderr(min: Level) -> LogSink {
        LogSink::stderr_as(min, LogFormat::Text)
    }

    /// Lines at `min` or above go to stderr in `format`.
    pub fn stderr_as(min: Level, format: LogFormat) -> LogSink {
        LogSink {
            writer: Arc::new(move |level, line| match format {
                LogFormat::Text => eprintln!("{level:5} {line}"),
                LogFormat::Json => eprintln!("{line}"),
            }),
            min,
            format,
            context: Arc::from([]),
            persons: None,
        }
    }

    /// Every line is kept in memory, as text; the returned [`MemoryLog`]
    /// reads them.
    pub fn memory() -> (LogSink, MemoryLog) {
        LogSink::memory_as(LogFormat::Text)
    }

    /// Every line is kept in memory in `format` (text lines start with the
    /// level).
    pub fn memory_as(format: LogFormat) -> (LogSink, MemoryLog) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink_lines = lines.clone();
        let sink = LogSink {
            writer: Arc::new(move |level, line| {
                let line = match format {
                    LogFormat::Text => format!("{level} {line}"),
                    LogFormat::Json => line.to_string(),
                };
                sink_lines
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(line)
            }),
            min: Level::Trace,
            format,
            context: Arc::from([]),
            persons: None,
        };
        (sink, MemoryLog { lines })
    }

    /// Drops everything.
    pub fn discard() -> LogSink {
        LogSink {
            writer: Arc::new(|_, _| {}),
            min: Level::Error,
            format: LogFormat::Text,
            context: Arc::from([]),
            persons: None,
        }
    }

    /// The same sink with `context` added to every line. Each
    /// space-separated `key=value` word becomes a field (`tenant=contoso`),
    /// any other word stays a bare word (`component`).
    pub fn with_context(&self, context: impl fmt::Display) -> LogSink {
        let text = context.to_string();
        let mut sink = self.clone();
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            sink = match word.split_once('=') {
                Some((key, value)) if !key.is_empty() => sink.with_field(key, value),
                _ => sink.push(Field {
                    key: None,
                    value: Arc::from(word),
                }),
            };
        }
        sink
    }

    /// The same sink with the field `key=value` on every line; a field of
    /// the same key is replaced.
    pub fn with_field(&self, key: &str, value: impl fmt::Display) -> LogSink {
        let field = Field {
            key: Some(Arc::from(key)),
            value: Arc::from(value.to_string()),
        };
        if let Some(i) = self
            .context
            .iter()
            .position(|f| f.key.as_deref() == Some(key))
        {
            let mut context = self.context.to_vec();
            context[i] = field;
            return LogSink {
                context: Arc::from(context),
                ..self.clone()
            };
        }
        self.push(field)
    }

    /// The same sink with `index`: a line without a `person` field that
    /// names exactly one person of the index gets that person.
    pub fn with_person_index(&self, index: PersonIndex) -> LogSink {
        LogSink {
            persons: Some(index),
            ..self.clone()
        }
    }

    fn push(&self, field: Field) -> LogSink {
        let mut context = self.context.to_vec();
        context.push(field);
        LogSink {
            context: Arc::from(context),
            ..self.clone()
        }
    }

    /// True when a line at `level` would be written: lets a caller skip
    /// building a line that would be dropped.
    pub fn enabled(&self, level: Level) -> bool {
        level >= self.min
    }

    /// The format of the sink's lines.
    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// Writes one line if `level` is at or above the sink's minimum.
    pub fn write(&self, level: Level, message: &str) {
        if level < self.min {
            return;
        }
        if let Some(index) = &self.persons
            && !self
                .context
                .iter()
                .any(|f| f.key.as_deref() == Some("person"))
            && let Some(person) = index.named_in(message)
        {
            let sink = LogSink {
                persons: None,
                ..self.with_field("person", person)
            };
            return sink.write(level, message);
        }
        match self.format {
            LogFormat::Text if self.context.is_empty() => (self.writer)(level, message),
            LogFormat::Text => {
                (self.writer)(level, &format!("[{}] {message}", self.text_context()))
            }
            LogFormat::Json => {
                let ts = jiff::Timestamp::now();
                (self.writer)(level, &json_line(ts, level, &self.context, message))
            }
        }
    }

    fn text_context(&self) -> String {
        let words: Vec<String> = self
            .context
            .iter()
            .map(|f| match &f.key {
                Some(key) => format!("{key}={}", f.value),
                None => f.value.to_string(),
            })
            .collect();
        words.join(" ")
    }
}

/// One JSON log line (without the newline): `ts`, `level`, `tenant` and
/// `person` when set, the other fields, `source` for bare words, `msg`.
fn json_line(ts: jiff::Timestamp, level: Level, context: &[Field], message: &str) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let ts = format!("{:.3}", ts);
    let mut line = format!("{{\"ts\":{},\"level\":\"{}\"", quote(&ts), level.as_lower());
    let field = |key: &str| {
        context
            .iter()
            .find(|f| f.key.as_deref() == Some(key))
            .map(|f| f.value.clone())
    };
    for key in ["tenant", "person"] {
        if let Some(value) = field(key) {
            line.push_str(&format!(",{}:{}", quote(key), quote(&value)));
        }
    }
    for f in context {
        if let Some(key) = &f.key
            && !matches!(
                &**key,
                "tenant" | "person" | "ts" | "level" | "msg" | "source"
            )
        {
            line.push_str(&format!(",{}:{}", quote(key), quote(&f.value)));
        }
    }
    let words: Vec<&str> = context
        .iter()
        .filter(|f| f.key.is_none())
        .map(|f| &*f.value)
        .collect();
    if !words.is_empty() {
        line.push_str(&format!(",\"source\":{}", quote(&words.join(" "))));
    }
    line.push_str(&format!(",\"msg\":{}}}", quote(message)));
    line
}

/// The lines captured by a [`LogSink::memory`] sink.
#[derive(Clone, Debug)]
pub struct MemoryLog {
    lines: Arc<Mutex<Vec<String>>>,
}

impl MemoryLog {
    /// A copy of every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// All lines joined by newlines.
    pub fn text(&self) -> String {
        self.lines().join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_prefixed_and_levels_filter() {
        let (sink, log) = LogSink::memory();
        let tenant = sink.with_context("tenant=contoso");
        tenant.write(Level::Info, "hello");
        assert_eq!(log.lines(), vec!["INFO [tenant=contoso] hello"]);
        tenant
            .with_context("component")
            .with_field("person", "adele@contoso.com")
            .write(Level::Warn, "x");
        assert_eq!(
            log.lines()[1],
            "WARN [tenant=contoso component person=adele@contoso.com] x"
        );

        let quiet = LogSink {
            min: Level::Warn,
            ..sink
        };
        quiet.write(Level::Info, "dropped");
        quiet.write(Level::Error, "kept");
        assert_eq!(log.lines().len(), 3);
        assert_eq!(Level::parse("WARNING"), Some(Level::Warn));
        assert_eq!(Level::parse("loud"), None);
    }

    #[test]
    fn a_line_naming_one_person_of_the_index_gets_that_person() {
        let (sink, log) = LogSink::memory();
        let index = PersonIndex::new();
        index.set(["a@x.com".to_string(), "AB@x.com".to_string()]);
        let tenant = sink
            .with_context("tenant=t")
            .with_person_index(index.clone());
        tenant.write(Level::Info, "GetEvents for A@x.com: waiting");
        tenant.write(Level::Info, "committed a page of ab@x.com.");
        tenant.write(Level::Info, "GetEvents for a@x.com and ab@x.com");
        tenant.write(Level::Info, "a batch of 2, ba@x.com is no person");
        tenant.write(Level::Info, "a@x.com twice: a@x.com");
        tenant
            .with_field("person", "c@x.com")
            .write(Level::Info, "about a@x.com");
        assert_eq!(
            log.lines(),
            vec![
                "INFO [tenant=t person=a@x.com] GetEvents for A@x.com: waiting",
                "INFO [tenant=t person=ab@x.com] committed a page of ab@x.com.",
                "INFO [tenant=t] GetEvents for a@x.com and ab@x.com",
                "INFO [tenant=t] a batch of 2, ba@x.com is no person",
                "INFO [tenant=t person=a@x.com] a@x.com twice: a@x.com",
                "INFO [tenant=t person=c@x.com] about a@x.com",
            ]
        );
        // The index is shared: a person added later is found too.
        index.set(["d@x.com".to_string()]);
        tenant.write(Level::Info, "d@x.com");
        assert_eq!(log.lines()[6], "INFO [tenant=t person=d@x.com] d@x.com");
    }

    #[test]
    fn a_field_of_the_same_key_is_replaced() {
        let (sink, log) = LogSink::memory();
        sink.with_field("person", "a@x.com")
            .with_field("person", "b@x.com")
            .write(Level::Info, "m");
        assert_eq!(log.lines(), vec!["INFO [person=b@x.com] m"]);
    }

    #[test]
    fn json_lines_have_the_documented_shape() {
        let (sink, log) = LogSink::memory_as(LogFormat::Json);
        sink.with_context("tenant=contoso component")
            .with_field("person", "adele@contoso.com")
            .write(Level::Warn, "said \"hi\"\nthen left");
        sink.write(Level::Info, "listening");
        let lines = log.lines();
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["level"], "warn");
        assert_eq!(first["tenant"], "contoso");
        assert_eq!(first["person"], "adele@contoso.com");
        assert_eq!(first["source"], "component");
        assert_eq!(first["msg"], "said \"hi\"\nthen left");
        let ts = first["ts"].as_str().unwrap();
        assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{ts}");
        assert!(ts.ends_with('Z'), "{ts}");
        // The keys come in the documented order, one line each.
        let order: Vec<usize> = ["\"ts\"", "\"level\"", "\"tenant\"", "\"person\"", "\"msg\""]
            .iter()
            .map(|k| lines[0].find(k).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", lines[0]);
        assert!(!lines[0].contains('\n'));
        // A line about no tenant has neither tenant nor person.
        let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(second["msg"], "listening");
        assert!(second.get("tenant").is_none() && second.get("person").is_none());
    }
}
