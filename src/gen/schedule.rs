//! When things happen in a generated month: the day and hour traffic curves, agents'
//! shifts, and the planted spikes.

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Timelike, Weekday};
use rand::seq::IndexedRandom;
use rand::Rng;

use super::bank::bank;
use super::conversation::AGENT_PROFILES;
use super::{GenConfig, SpikeTruth};

/// Relative traffic by local hour on a weekday: quiet nights, a morning rise, a lunch
/// dip and the evening peak around 21:00 when people browse after work.
const WEEKDAY_HOURS: [f64; 24] = [
    1.2, 0.6, 0.3, 0.2, 0.2, 0.3, 0.7, 1.5, 2.6, 4.0, 5.0, 5.2, 3.8, 4.2, 5.0, 5.0, 4.6, 4.2, 4.4,
    5.4, 6.6, 7.0, 5.2, 2.6,
];
/// Weekends start later and stay busy through the afternoon.
const WEEKEND_HOURS: [f64; 24] = [
    1.6, 0.9, 0.5, 0.3, 0.2, 0.2, 0.4, 0.8, 1.6, 2.8, 4.4, 5.2, 5.0, 5.2, 5.6, 5.6, 5.2, 4.8, 4.6,
    5.2, 6.0, 6.2, 5.0, 3.0,
];

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The precomputed calendar every user's simulation samples from.
pub struct Plan {
    pub start: NaiveDate,
    pub days: u32,
    /// Cumulative day weights, for sampling a day.
    day_cumulative: Vec<f64>,
    pub spikes: Vec<SpikeTruth>,
    /// Expected askings of each spike question per day, over all users, outside the spike.
    pub spike_base_per_day: f64,
}

impl Plan {
    pub fn new(config: &GenConfig, spikes: Vec<SpikeTruth>) -> Plan {
        let mut total = 0.0;
        let day_cumulative = (0..config.days)
            .map(|i| {
                let date = config.start + Duration::days(i64::from(i));
                total += if date.weekday() == Weekday::Sun {
                    0.75
                } else if date.weekday() == Weekday::Sat {
                    0.85
                } else {
                    1.0
                };
                total
            })
            .collect();
        Plan {
            start: config.start,
            days: config.days,
            day_cumulative,
            spikes,
            spike_base_per_day: (f64::from(config.users) / 500.0).max(1.5),
        }
    }

    pub fn sample_day<R: Rng>(&self, rng: &mut R) -> NaiveDate {
        let total = *self.day_cumulative.last().unwrap_or(&1.0);
        let x = rng.random_range(0.0..total);
        let index = self.day_cumulative.partition_point(|c| *c <= x);
        self.start + Duration::days(index.min(self.days as usize - 1) as i64)
    }

    /// A moment on `date` following the day type's hourly curve, as epoch seconds.
    pub fn sample_time<R: Rng>(&self, rng: &mut R, date: NaiveDate, zone: chrono_tz::Tz) -> i64 {
        let curve = if is_weekend(date) {
            &WEEKEND_HOURS
        } else {
            &WEEKDAY_HOURS
        };
        let total: f64 = curve.iter().sum();
        let mut x = rng.random_range(0.0..total);
        let mut hour = 23;
        for (h, weight) in curve.iter().enumerate() {
            if x < *weight {
                hour = h;
                break;
            }
            x -= weight;
        }
        let second = rng.random_range(0..3600u32);
        local_epoch(zone, date, hour as u32, second / 60, second % 60)
    }
}

pub fn local_epoch(
    zone: chrono_tz::Tz,
    date: NaiveDate,
    hour: u32,
    minute: u32,
    second: u32,
) -> i64 {
    let naive = date
        .and_hms_opt(hour, minute, second)
        .expect("hour, minute and second are in range");
    zone.from_local_datetime(&naive)
        .earliest()
        // A local time skipped by a DST change: an hour later exists.
        .unwrap_or_else(|| zone.from_utc_datetime(&(naive + Duration::hours(1))))
        .timestamp()
}

/// The local hour and date of an instant.
pub fn local_parts(zone: chrono_tz::Tz, epoch_s: i64) -> (NaiveDate, u32) {
    let local = zone
        .timestamp_opt(epoch_s, 0)
        .single()
        .expect("epoch seconds map to one instant");
    (local.date_naive(), local.hour())
}

/// The agents on shift at an instant (indices into `AGENT_PROFILES`).
pub fn on_shift(zone: chrono_tz::Tz, epoch_s: i64) -> Vec<usize> {
    let (date, hour) = local_parts(zone, epoch_s);
    let weekend = is_weekend(date);
    AGENT_PROFILES
        .iter()
        .enumerate()
        .filter(|(_, agent)| {
            if weekend {
                agent.works_weekends
            } else {
                agent.works_weekdays
            }
        })
        .filter(|(_, agent)| hour >= agent.shift_start_h && hour < agent.shift_end_h)
        .map(|(i, _)| i)
        .collect()
}

/// The next moment at or after `epoch_s` when some agent is on shift, if within a week.
pub fn next_open(zone: chrono_tz::Tz, epoch_s: i64) -> Option<i64> {
    let (date, hour) = local_parts(zone, epoch_s);
    let mut candidate = local_epoch(zone, date, hour, 0, 0);
    for _ in 0..(24 * 7) {
        candidate += 3600;
        if candidate > epoch_s && !on_shift(zone, candidate).is_empty() {
            return Some(candidate);
        }
    }
    None
}

/// Two spikes at least a week into the data, so the trend has a baseline to rise from.
pub fn plant_spikes<R: Rng>(config: &GenConfig, rng: &mut R) -> Vec<SpikeTruth> {
    if config.days < 9 {
        return Vec::new();
    }
    let questions = &bank().slots.spike_topics;
    let mut spikes: Vec<SpikeTruth> = Vec::new();
    for factor in [4.0, 6.0] {
        let day = rng.random_range(7..config.days);
        let date = config.start + Duration::days(i64::from(day));
        let question = questions
            .choose(rng)
            .expect("spike_topics is non-empty")
            .clone();
        if spikes
            .iter()
            .any(|s| s.date == date || s.question == question)
        {
            continue;
        }
        spikes.push(SpikeTruth {
            date,
            topic: spike_topic(&question).to_string(),
            question,
            factor,
        });
    }
    spikes
}

/// The topic category a spike question belongs to, by the first intent keyword it holds.
fn spike_topic(question: &str) -> &'static str {
    const KEYWORDS: [(&str, &str); 8] = [
        ("漏送", "物流"),
        ("快递", "物流"),
        ("配送", "物流"),
        ("券", "活动"),
        ("退", "售后/退款"),
        ("会员", "会员"),
        ("订单", "订单"),
        ("发票", "发票"),
    ];
    KEYWORDS
        .iter()
        .find(|(keyword, _)| question.contains(keyword))
        .map(|(_, topic)| *topic)
        .unwrap_or("产品咨询")
}
