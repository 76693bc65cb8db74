//! Business time: the hours a team is expected to answer in. Several intervals a day
//! (a lunch break), a weekly pattern, public holidays, and China's make-up working days
//! (调休: a Saturday or Sunday worked to bridge a holiday). Business seconds between two
//! instants count only the open moments between them, so a question asked at 21:00 starts
//! its clock at the next opening.

use std::collections::BTreeSet;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

/// `[sla.calendar]` of the pipeline file. Times are local to the dataset's zone.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// Open hours per weekday as "HH:MM-HH:MM" intervals; a day left out is closed.
    /// Default: Monday to Friday 09:00-12:00 and 13:30-18:00, weekends closed.
    pub weekly: WeeklyHours,
    /// Closed all day (public holidays), "YYYY-MM-DD".
    pub holidays: Vec<NaiveDate>,
    /// Worked although the weekly pattern says closed (调休), "YYYY-MM-DD"; they keep
    /// `make_up_hours`.
    pub make_up_workdays: Vec<NaiveDate>,
    /// Open hours of a make-up working day. Default: Monday's.
    pub make_up_hours: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct WeeklyHours {
    pub mon: Vec<String>,
    pub tue: Vec<String>,
    pub wed: Vec<String>,
    pub thu: Vec<String>,
    pub fri: Vec<String>,
    pub sat: Vec<String>,
    pub sun: Vec<String>,
}

impl Default for WeeklyHours {
    fn default() -> WeeklyHours {
        let office = || vec!["09:00-12:00".to_owned(), "13:30-18:00".to_owned()];
        WeeklyHours {
            mon: office(),
            tue: office(),
            wed: office(),
            thu: office(),
            fri: office(),
            sat: Vec::new(),
            sun: Vec::new(),
        }
    }
}

type Intervals = Vec<(NaiveTime, NaiveTime)>;

/// A validated calendar in a zone.
#[derive(Debug, Clone)]
pub struct Calendar {
    zone: Tz,
    /// Monday first.
    weekly: [Intervals; 7],
    holidays: BTreeSet<NaiveDate>,
    make_up: BTreeSet<NaiveDate>,
    make_up_hours: Intervals,
}

fn parse_intervals(day: &str, specs: &[String]) -> Result<Intervals> {
    let mut intervals: Intervals = Vec::with_capacity(specs.len());
    for spec in specs {
        let (open, close) = spec
            .split_once('-')
            .with_context(|| format!("{day}: `{spec}` is not an interval like 09:00-12:00"))?;
        let time = |text: &str| {
            NaiveTime::parse_from_str(text.trim(), "%H:%M")
                .with_context(|| format!("{day}: `{text}` in `{spec}` is not a time like 09:00"))
        };
        let (open, close) = (time(open)?, time(close)?);
        if open >= close {
            bail!("{day}: `{spec}` closes before it opens");
        }
        if intervals
            .last()
            .is_some_and(|(_, last_close)| open < *last_close)
        {
            bail!("{day}: `{spec}` overlaps or precedes the interval before it");
        }
        intervals.push((open, close));
    }
    Ok(intervals)
}

impl Calendar {
    pub fn new(config: &CalendarConfig, zone: Tz) -> Result<Calendar> {
        let w = &config.weekly;
        let weekly = [
            parse_intervals("mon", &w.mon)?,
            parse_intervals("tue", &w.tue)?,
            parse_intervals("wed", &w.wed)?,
            parse_intervals("thu", &w.thu)?,
            parse_intervals("fri", &w.fri)?,
            parse_intervals("sat", &w.sat)?,
            parse_intervals("sun", &w.sun)?,
        ];
        let make_up_hours = match &config.make_up_hours {
            Some(specs) => parse_intervals("make_up_hours", specs)?,
            None => weekly[0].clone(),
        };
        if let Some(both) = config
            .holidays
            .iter()
            .find(|day| config.make_up_workdays.contains(day))
        {
            bail!("{both} is listed both as a holiday and as a make-up working day");
        }
        Ok(Calendar {
            zone,
            weekly,
            holidays: config.holidays.iter().copied().collect(),
            make_up: config.make_up_workdays.iter().copied().collect(),
            make_up_hours,
        })
    }

    /// The open intervals of a local date.
    fn hours(&self, date: NaiveDate) -> &[(NaiveTime, NaiveTime)] {
        if self.holidays.contains(&date) {
            &[]
        } else if self.make_up.contains(&date) {
            &self.make_up_hours
        } else {
            &self.weekly[date.weekday().num_days_from_monday() as usize]
        }
    }

    /// A local wall time as an instant. A time skipped by a daylight-saving jump maps to
    /// the jump; an ambiguous one to its first occurrence.
    fn instant(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let local = date.and_time(time);
        match self.zone.from_local_datetime(&local) {
            chrono::LocalResult::Single(at) | chrono::LocalResult::Ambiguous(at, _) => {
                at.with_timezone(&Utc)
            }
            chrono::LocalResult::None => self
                .zone
                .from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
                .map_or_else(
                    || Utc.from_utc_datetime(&local),
                    |at| at.with_timezone(&Utc),
                ),
        }
    }

    /// Open seconds in `[from, to)`; 0 when `to` is not after `from`.
    pub fn business_seconds(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        let first = from.with_timezone(&self.zone).date_naive();
        let last = to.with_timezone(&self.zone).date_naive();
        let mut total = 0;
        let mut date = first;
        while date <= last {
            for &(open, close) in self.hours(date) {
                let start = self.instant(date, open).max(from);
                let end = self.instant(date, close).min(to);
                if end > start {
                    total += (end - start).num_seconds();
                }
            }
            date = match date.succ_opt() {
                Some(next) => next,
                None => break,
            };
        }
        total
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    /// China's 2026 National Day week as the State Council set it: 1–7 October off,
    /// Sunday 27 September and Saturday 10 October worked.
    fn national_day() -> Calendar {
        let config = CalendarConfig {
            holidays: (1..=7).map(|d| day(&format!("2026-10-0{d}"))).collect(),
            make_up_workdays: vec![day("2026-09-27"), day("2026-10-10")],
            ..CalendarConfig::default()
        };
        Calendar::new(&config, chrono_tz::Asia::Shanghai).unwrap()
    }

    #[test]
    fn the_lunch_break_does_not_count() {
        let calendar = national_day();
        // Thursday 24 September 2026: 11:50 → 13:40 is 10 min before lunch, 10 after.
        let seconds = calendar.business_seconds(
            at("2026-09-24T11:50:00+08:00"),
            at("2026-09-24T13:40:00+08:00"),
        );
        assert_eq!(seconds, 20 * 60);
    }

    #[test]
    fn an_evening_question_starts_its_clock_at_the_next_opening() {
        let calendar = national_day();
        // Thursday 21:00 → Friday 09:15: only Friday's first 15 minutes are business time.
        let seconds = calendar.business_seconds(
            at("2026-09-24T21:00:00+08:00"),
            at("2026-09-25T09:15:00+08:00"),
        );
        assert_eq!(seconds, 15 * 60);
    }

    #[test]
    fn holidays_are_closed_and_make_up_days_open() {
        let calendar = national_day();
        // Friday 2 October (holiday) all day: nothing.
        assert_eq!(
            calendar.business_seconds(
                at("2026-10-02T00:00:00+08:00"),
                at("2026-10-03T00:00:00+08:00")
            ),
            0
        );
        // Saturday 10 October is worked with Monday's hours: 3 h + 4.5 h.
        assert_eq!(
            calendar.business_seconds(
                at("2026-10-10T00:00:00+08:00"),
                at("2026-10-11T00:00:00+08:00")
            ),
            (3 * 60 + 4 * 60 + 30) * 60
        );
        assert_eq!(day("2026-09-27").weekday(), Weekday::Sun);
        assert_eq!(
            calendar.business_seconds(
                at("2026-09-27T00:00:00+08:00"),
                at("2026-09-28T00:00:00+08:00")
            ),
            (3 * 60 + 4 * 60 + 30) * 60,
            "the 调休 Sunday is worked"
        );
        // Wednesday 30 September 17:00 → Thursday 8 October 09:30: 1 h + 30 min.
        assert_eq!(
            calendar.business_seconds(
                at("2026-09-30T17:00:00+08:00"),
                at("2026-10-08T09:30:00+08:00")
            ),
            90 * 60
        );
    }

    #[test]
    fn mistakes_in_the_hours_are_named() {
        let config = |mon: &[&str]| CalendarConfig {
            weekly: WeeklyHours {
                mon: mon.iter().map(|s| s.to_string()).collect(),
                ..WeeklyHours::default()
            },
            ..CalendarConfig::default()
        };
        let err = |mon: &[&str]| {
            Calendar::new(&config(mon), chrono_tz::Asia::Shanghai)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&["9-12"]),
            "mon: `9` in `9-12` is not a time like 09:00"
        );
        assert_eq!(
            err(&["12:00-09:00"]),
            "mon: `12:00-09:00` closes before it opens"
        );
        assert_eq!(
            err(&["09:00-12:00", "11:00-13:00"]),
            "mon: `11:00-13:00` overlaps or precedes the interval before it"
        );
    }
}
