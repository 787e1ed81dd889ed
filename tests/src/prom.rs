//! lonc's metrics read as Prometheus reads them: the exposition parsed by a real parser of the
//! text format (`openmetrics-parser`), which rejects what Prometheus would (bad escapes, a
//! histogram that is not cumulative or has no `+Inf` bucket, samples of one family with
//! different label names, a negative counter), and its samples looked up by name and labels.

use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};

/// A parsed exposition.
pub struct Scraped {
    /// The text as it came.
    pub text: String,
    exposition: MetricsExposition<PrometheusType, PrometheusValue>,
}

impl Scraped {
    /// Parses `text`; panics, showing it, if it is not a valid exposition, if a family has no
    /// `# HELP`, or if a counter's name does not end in `_total`.
    #[track_caller]
    pub fn parse(text: &str) -> Scraped {
        let exposition = parse_prometheus(text)
            .unwrap_or_else(|e| panic!("not Prometheus' text format: {e:?}\n{text}"));
        for (name, family) in &exposition.families {
            assert!(!family.help.is_empty(), "{name} has no HELP\n{text}");
            if family.family_type == PrometheusType::Counter {
                assert!(name.ends_with("_total"), "counter {name}");
            }
        }
        Scraped {
            text: text.to_owned(),
            exposition,
        }
    }

    /// The type of the family `name`.
    #[track_caller]
    pub fn kind(&self, name: &str) -> PrometheusType {
        self.family(name).family_type.clone()
    }

    #[track_caller]
    fn family(
        &self,
        name: &str,
    ) -> &openmetrics_parser::MetricFamily<PrometheusType, PrometheusValue> {
        self.exposition
            .families
            .get(name)
            .unwrap_or_else(|| panic!("no family {name} in\n{}", self.text))
    }

    /// The sample of the family `name` whose labels are exactly `labels`.
    #[track_caller]
    pub fn sample(&self, name: &str, labels: &[(&str, &str)]) -> &PrometheusValue {
        let found = self.family(name).iter_samples().find(|s| {
            s.get_labelset().is_ok_and(|set| {
                set.iter().count() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| set.get_label_value(k) == Some(*v))
            })
        });
        &found
            .unwrap_or_else(|| panic!("no {name}{labels:?} in\n{}", self.text))
            .value
    }

    /// The value of a counter or gauge sample.
    #[track_caller]
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        match self.sample(name, labels) {
            PrometheusValue::Counter(c) => c.value.as_f64(),
            PrometheusValue::Gauge(g) => g.as_f64(),
            PrometheusValue::Unknown(u) => u.as_f64(),
            other => panic!("{name}{labels:?} is {other:?}"),
        }
    }

    /// A histogram's `(upper bound, cumulative count)` buckets, its count and its sum.
    #[track_caller]
    pub fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> (Vec<(f64, f64)>, u64, f64) {
        match self.sample(name, labels) {
            PrometheusValue::Histogram(h) => (
                h.buckets
                    .iter()
                    .map(|b| (b.upper_bound, b.count.as_f64()))
                    .collect(),
                h.count.unwrap_or_default(),
                h.sum.as_ref().map(|s| s.as_f64()).unwrap_or_default(),
            ),
            other => panic!("{name}{labels:?} is {other:?}"),
        }
    }
}
