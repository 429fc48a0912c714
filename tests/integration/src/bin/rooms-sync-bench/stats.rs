//! Samples, their median and 99th percentile, and how they are printed.

use std::time::Duration;

/// The samples of one measured thing.
#[derive(Debug, Default, Clone)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn with_capacity(n: usize) -> Samples {
        Samples(Vec::with_capacity(n))
    }

    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    fn sorted(&self) -> Vec<Duration> {
        let mut s = self.0.clone();
        s.sort_unstable();
        s
    }

    /// The median (the mean of the two middle samples for an even count).
    pub fn median(&self) -> Duration {
        let s = self.sorted();
        match s.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => s[n / 2],
            n => (s[n / 2 - 1] + s[n / 2]) / 2,
        }
    }

    /// The 99th percentile by nearest rank: with fewer than 100 samples it is
    /// the largest one.
    pub fn p99(&self) -> Duration {
        let s = self.sorted();
        if s.is_empty() {
            return Duration::ZERO;
        }
        let rank = (s.len() * 99).div_ceil(100);
        s[rank.max(1) - 1]
    }

    /// `median / p99 (n=..)`.
    pub fn median_p99(&self) -> String {
        format!(
            "{} / {}  (n={})",
            duration(self.median()),
            duration(self.p99()),
            self.len()
        )
    }
}

/// A duration with three significant digits and a fitting unit.
pub fn duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1e6 {
        format!("{:.2} s", us / 1e6)
    } else if us >= 100_000.0 {
        format!("{:.0} ms", us / 1000.0)
    } else if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else if us >= 100.0 {
        format!("{us:.0} µs")
    } else {
        format!("{us:.1} µs")
    }
}

/// `a / b` as `1.23x`.
pub fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        return "n/a".into();
    }
    format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64())
}

/// `a - b`, or zero.
pub fn minus(a: Duration, b: Duration) -> Duration {
    a.saturating_sub(b)
}

/// A section title.
pub fn section(title: &str) {
    println!("\n{title}");
}

/// The method line(s) of a section, wrapped at about 100 columns.
pub fn method(text: &str) {
    let mut line = String::from("   method:");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > 100 {
            println!("{line}");
            line = String::from("          ");
        }
        line.push(' ');
        line.push_str(word);
    }
    println!("{line}");
}

/// One figure.
pub fn row(what: &str, value: impl std::fmt::Display) {
    println!("   {what:<62} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Samples {
        let mut s = Samples::default();
        for x in v {
            s.push(Duration::from_millis(*x));
        }
        s
    }

    #[test]
    fn median_and_p99() {
        assert_eq!(ms(&[3, 1, 2]).median(), Duration::from_millis(2));
        assert_eq!(ms(&[4, 1, 2, 3]).median(), Duration::from_micros(2500));
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(ms(&hundred).p99(), Duration::from_millis(99));
        assert_eq!(ms(&[5, 9, 1]).p99(), Duration::from_millis(9));
    }
}
