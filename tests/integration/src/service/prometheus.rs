//! Reading the Prometheus text format of `/metrics`: samples with their
//! labels, sums over the samples matching some labels, and whether a family
//! is declared.

use std::collections::BTreeMap;

/// One sample of the Prometheus text format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's name (`rooms_sync_syncs_total`, `..._bucket`).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// Every sample of a Prometheus text exposition (comments skipped).
pub fn parse_metrics(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(parse_sample)
        .collect()
}

fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let mut key = String::new();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '}' => {
                    end = Some(i);
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    // A quoted value follows.
                    let (_, quote) = chars.next()?;
                    if quote != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        let (_, c) = chars.next()?;
                        match c {
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            '"' => break,
                            other => value.push(other),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                other => key.push(other),
            }
        }
        rest = &inner[end? + 1..];
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// The sum of the samples named `name` whose labels include `labels`.
pub fn metric_in(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    parse_metrics(text)
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
        })
        .map(|s| s.value)
        // `+ 0.0`: an empty sum of floats is -0.0, shown as such in failures.
        .sum::<f64>()
        + 0.0
}

/// True when the exposition declares the family `name` (a `# TYPE` line
/// for it, or for it without a `_total` suffix).
pub fn has_family(text: &str, name: &str) -> bool {
    let bare = name.strip_suffix("_total").unwrap_or(name);
    text.lines().any(|l| {
        let mut words = l.split_whitespace();
        words.next() == Some("#")
            && words.next() == Some("TYPE")
            && words.next().is_some_and(|n| n == name || n == bare)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_samples_with_labels() {
        let text = "# HELP rooms_sync_syncs Syncs.\n# TYPE rooms_sync_syncs counter\n\
                    rooms_sync_syncs_total{tenant=\"a\",outcome=\"ok\"} 3\n\
                    rooms_sync_syncs_total{tenant=\"b\",outcome=\"ok\"} 2\n\
                    rooms_sync_syncs_total{tenant=\"a\",outcome=\"failed\"} 1\n\
                    rooms_sync_tenants{state=\"running\"} 2\n\
                    rooms_sync_x_bucket{le=\"+Inf\"} 7\n\
                    odd{v=\"q\\\"uote, }\"} 1.5\n";
        assert_eq!(metric_in(text, "rooms_sync_syncs_total", &[]), 6.0);
        assert_eq!(
            metric_in(text, "rooms_sync_syncs_total", &[("tenant", "a")]),
            4.0
        );
        assert_eq!(
            metric_in(
                text,
                "rooms_sync_syncs_total",
                &[("tenant", "a"), ("outcome", "ok")]
            ),
            3.0
        );
        assert_eq!(
            metric_in(text, "rooms_sync_tenants", &[("state", "broken")]),
            0.0
        );
        assert_eq!(
            metric_in(text, "rooms_sync_x_bucket", &[("le", "+Inf")]),
            7.0
        );
        assert_eq!(metric_in(text, "odd", &[("v", "q\"uote, }")]), 1.5);
        assert!(metric_in(text, "absent", &[]).is_sign_positive());
        assert!(has_family(text, "rooms_sync_syncs_total"));
        assert!(!has_family(text, "rooms_sync_items_total"));
    }
}
