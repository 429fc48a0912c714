//! Where the host and the component write their log lines.
//!
//! A [`LogSink`] is cheap to clone and shared by everything that runs for a
//! tenant. The CLI writes to stderr; tests use [`LogSink::memory`] to assert on
//! what was logged (for example that no secret ever appears). Log lines never
//! carry secret values: the component promises that in the WIT `log`
//! interface, and the host only logs names, never values.

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

type Writer = dyn Fn(Level, &str) + Send + Sync;

/// A destination for log lines with a minimum level and a context prefix.
#[derive(Clone)]
pub struct LogSink {
    writer: Arc<Writer>,
    min: Level,
    context: Arc<str>,
}

impl fmt::Debug for LogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogSink")
            .field("min", &self.min)
            .field("context", &self.context)
            .finish()
    }
}

impl LogSink {
    /// Lines at `min` or above go to stderr.
    pub fn stderr(min: Level) -> LogSink {
        LogSink {
            writer: Arc::new(|level, line| eprintln!("{level:5} {line}")),
            min,
            context: Arc::from(""),
        }
    }

    /// Every line is kept in memory; the returned [`MemoryLog`] reads them.
    pub fn memory() -> (LogSink, MemoryLog) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink_lines = lines.clone();
        let sink = LogSink {
            writer: Arc::new(move |level, line| {
                sink_lines
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("{level} {line}"))
            }),
            min: Level::Trace,
            context: Arc::from(""),
        };
        (sink, MemoryLog { lines })
    }

    /// Drops everything.
    pub fn discard() -> LogSink {
        LogSink {
            writer: Arc::new(|_, _| {}),
            min: Level::Error,
            context: Arc::from(""),
        }
    }

    /// The same sink with `context` (for example `tenant=contoso`) in front of
    /// every line.
    pub fn with_context(&self, context: impl fmt::Display) -> LogSink {
        let context = if self.context.is_empty() {
            context.to_string()
        } else {
            format!("{} {context}", self.context)
        };
        LogSink {
            writer: self.writer.clone(),
            min: self.min,
            context: Arc::from(context),
        }
    }

    /// True when a line at `level` would be written: lets a caller skip
    /// building a line that would be dropped.
    pub fn enabled(&self, level: Level) -> bool {
        level >= self.min
    }

    /// Writes one line if `level` is at or above the sink's minimum.
    pub fn write(&self, level: Level, message: &str) {
        if level < self.min {
            return;
        }
        if self.context.is_empty() {
            (self.writer)(level, message);
        } else {
            (self.writer)(level, &format!("[{}] {message}", self.context));
        }
    }
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

        let quiet = LogSink {
            min: Level::Warn,
            ..sink
        };
        quiet.write(Level::Info, "dropped");
        quiet.write(Level::Error, "kept");
        assert_eq!(log.lines().len(), 2);
        assert_eq!(Level::parse("WARNING"), Some(Level::Warn));
        assert_eq!(Level::parse("loud"), None);
    }
}
