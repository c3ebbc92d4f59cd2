//! A code's rules and A/B split, compiled for the edge: the first rule whose conditions all hold
//! picks the target; otherwise the split does (sticky per visitor); otherwise the code's answer.

use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Tz;
use hyper::header::HeaderValue;

use super::visitor::Visitor;
use crate::model::redirect::{minutes_of_day, Behaviour, Rule, WEEKDAYS};

#[derive(Debug, Default)]
pub struct Rules {
    rules: Vec<CompiledRule>,
    split: Vec<(u64, HeaderValue)>,
    /// The sum of the split's weights.
    split_total: u64,
    /// Mixed into the visitor's hash so that each code splits its visitors independently.
    split_seed: u64,
}

#[derive(Debug)]
struct CompiledRule {
    target: HeaderValue,
    devices: Vec<Box<str>>,
    os: Vec<Box<str>>,
    countries: Vec<Box<str>>,
    languages: Vec<Box<str>>,
    start_at: Option<i64>,
    end_at: Option<i64>,
    /// Bit i: WEEKDAYS[i].
    weekdays: u8,
    /// Minutes after local midnight, [from, to); wraps past midnight when from > to.
    hours: Option<(u16, u16)>,
    zone: Tz,
}

fn header(url: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(url).map_err(|e| format!("{url:?}: {e}"))
}

fn boxed(values: &[String]) -> Vec<Box<str>> {
    values.iter().map(|v| v.as_str().into()).collect()
}

impl Rules {
    pub fn compile(behaviour: &Behaviour, qr_id: &str) -> Result<Rules, String> {
        let rules = behaviour
            .rules
            .iter()
            .map(CompiledRule::compile)
            .collect::<Result<_, _>>()?;
        let split = behaviour
            .ab_split
            .iter()
            .map(|v| Ok((u64::from(v.weight), header(&v.url)?)))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Rules {
            split_total: split.iter().map(|(w, _)| w).sum(),
            split,
            rules,
            split_seed: fnv1a(qr_id.as_bytes(), FNV_OFFSET),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.split.is_empty()
    }

    /// The target the rules or the split pick for this visitor, if any.
    pub fn target(&self, visitor: &mut Visitor, now_ms: i64) -> Option<&HeaderValue> {
        if let Some(rule) = self.rules.iter().find(|r| r.matches(visitor, now_ms)) {
            return Some(&rule.target);
        }
        if self.split_total == 0 {
            return None;
        }
        let mut point = visitor.sticky_hash(self.split_seed) % self.split_total;
        for (weight, target) in &self.split {
            if point < *weight {
                return Some(target);
            }
            point -= weight;
        }
        None
    }
}

impl CompiledRule {
    fn compile(rule: &Rule) -> Result<CompiledRule, String> {
        let weekdays = rule
            .weekdays
            .iter()
            .filter_map(|d| WEEKDAYS.iter().position(|w| w == d))
            .fold(0u8, |bits, i| bits | 1 << i);
        let hours = match (&rule.from_time, &rule.to_time) {
            (Some(from), Some(to)) => Some((
                minutes_of_day(from).ok_or("bad fromTime")?,
                minutes_of_day(to).ok_or("bad toTime")?,
            )),
            _ => None,
        };
        Ok(CompiledRule {
            target: header(&rule.url)?,
            devices: boxed(&rule.devices),
            os: boxed(&rule.os),
            countries: boxed(&rule.countries),
            languages: boxed(&rule.languages),
            start_at: rule.start_at,
            end_at: rule.end_at,
            weekdays,
            hours,
            zone: rule
                .time_zone
                .as_deref()
                .unwrap_or("UTC")
                .parse()
                .map_err(|_| "bad timeZone")?,
        })
    }

    fn matches(&self, visitor: &mut Visitor, now_ms: i64) -> bool {
        if self.start_at.is_some_and(|at| now_ms < at) || self.end_at.is_some_and(|at| now_ms >= at)
        {
            return false;
        }
        if self.weekdays != 0 || self.hours.is_some() {
            let Some(local) = self.zone.timestamp_millis_opt(now_ms).single() else {
                return false;
            };
            let day = local.weekday().num_days_from_monday();
            if self.weekdays != 0 && self.weekdays & (1 << day) == 0 {
                return false;
            }
            if let Some((from, to)) = self.hours {
                let minute = (local.hour() * 60 + local.minute()) as u16;
                let inside = if from <= to {
                    (from..to).contains(&minute)
                } else {
                    minute >= from || minute < to
                };
                if !inside {
                    return false;
                }
            }
        }
        let any = |wanted: &[Box<str>], have: &str| wanted.iter().any(|w| **w == *have);
        if !self.devices.is_empty() && !any(&self.devices, visitor.device()) {
            return false;
        }
        if !self.os.is_empty() && !any(&self.os, visitor.os()) {
            return false;
        }
        if !self.languages.is_empty() && !any(&self.languages, visitor.language()) {
            return false;
        }
        if !self.countries.is_empty() && !any(&self.countries, visitor.country()) {
            return false;
        }
        true
    }
}

pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a: a hash every edge computes alike, on every platform and Rust version, so a visitor
/// gets the same variant from any edge.
pub fn fnv1a(bytes: &[u8], mut hash: u64) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
