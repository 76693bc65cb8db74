//! `sla_daily`: the day's turns and sessions folded into percentiles and ratios per
//! agent and for everyone, with polars. Percentiles interpolate linearly over answered
//! turns, as DuckDB's `quantile_cont` does, so a manager's SQL gives the same numbers.

use anyhow::{Context, Result};
use polars::prelude::*;
use serde::Deserialize;

use crate::model::{AnsweredBy, Session, SlaDaily, Turn};

/// Which clock a target is measured on.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Only the business calendar's open hours count.
    #[default]
    Business,
    Wall,
}

/// `[sla.targets]` of the pipeline file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Targets {
    /// A turn's reply counts as on time within this many seconds. Default 1800 (30 min).
    pub reply_s: i64,
    /// A session's first human reply counts as on time within this many seconds.
    /// Default 900 (15 min).
    pub first_response_s: i64,
    /// Which clock both targets are measured on. Default business.
    pub clock: Clock,
}

impl Default for Targets {
    fn default() -> Targets {
        Targets {
            reply_s: 1800,
            first_response_s: 900,
            clock: Clock::Business,
        }
    }
}

/// The key of the everyone row; agent ids are kf accounts and never empty.
const EVERYONE: &str = "";

fn quantiles(column: &str, qs: &[(f64, &str)]) -> Vec<Expr> {
    qs.iter()
        .map(|(q, name)| {
            col(column)
                .cast(DataType::Float64)
                .quantile(lit(*q), QuantileMethod::Linear)
                .alias(*name)
        })
        .collect()
}

/// The sla_daily rows for one day's turns and sessions: everyone first, then agents
/// in order of their id.
pub fn daily(turns: &[Turn], sessions: &[Session], targets: &Targets) -> Result<Vec<SlaDaily>> {
    // Each turn counts for everyone, and for its agent when it has one.
    let mut key = Vec::new();
    let (mut reply_s, mut within, mut unanswered, mut breach, mut censored) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for turn in turns {
        let clock_s = match targets.clock {
            Clock::Business => turn.business_reply_s,
            Clock::Wall => turn.reply_s,
        };
        let scopes = std::iter::once(EVERYONE).chain(turn.agent.as_deref());
        for scope in scopes {
            key.push(scope.to_owned());
            reply_s.push(turn.reply_s);
            within.push(clock_s.is_some_and(|s| s <= targets.reply_s));
            unanswered.push(turn.answered_by != AnsweredBy::Agent);
            breach.push(turn.breach);
            censored.push(turn.censored);
        }
    }
    let turns_frame = df!(
        "agent_key" => key,
        "reply_s" => reply_s,
        "within" => within,
        "unanswered" => unanswered,
        "breach" => breach,
        "censored" => censored,
    )?;
    let (mut session_key, mut first_response_s, mut first_on_time, mut asked) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for session in sessions {
        let clock_s = match targets.clock {
            Clock::Business => session.business_first_response_s,
            Clock::Wall => session.first_response_s,
        };
        for scope in std::iter::once(EVERYONE).chain(session.agent.as_deref()) {
            session_key.push(scope.to_owned());
            first_response_s.push(session.first_response_s);
            first_on_time.push(clock_s.is_some_and(|s| s <= targets.first_response_s));
            asked.push(session.first_user_ts_ms.is_some());
        }
    }
    let sessions_frame = df!(
        "agent_key" => session_key,
        "first_response_s" => first_response_s,
        "first_on_time" => first_on_time,
        "asked" => asked,
    )?;

    let count = |name: &str| col(name).cast(DataType::UInt32).sum().alias(name);
    let mut turn_aggs = vec![
        len().cast(DataType::UInt32).alias("turns"),
        count("unanswered"),
        count("breach").alias("window_breaches"),
        count("censored"),
        (col("within").cast(DataType::Float64).sum()
            / (len().cast(DataType::Float64) - col("censored").cast(DataType::Float64).sum()))
        .alias("within_target_ratio"),
    ];
    turn_aggs.extend(quantiles(
        "reply_s",
        &[
            (0.5, "reply_p50_s"),
            (0.9, "reply_p90_s"),
            (0.95, "reply_p95_s"),
        ],
    ));
    let mut session_aggs = vec![
        len().cast(DataType::UInt32).alias("sessions"),
        (col("first_on_time").cast(DataType::Float64).sum()
            / col("asked").cast(DataType::Float64).sum())
        .alias("first_response_within_target_ratio"),
    ];
    session_aggs.extend(quantiles(
        "first_response_s",
        &[(0.5, "first_response_p50_s"), (0.9, "first_response_p90_s")],
    ));
    let joined = turns_frame
        .lazy()
        .group_by([col("agent_key")])
        .agg(turn_aggs)
        .join(
            sessions_frame
                .lazy()
                .group_by([col("agent_key")])
                .agg(session_aggs),
            [col("agent_key")],
            [col("agent_key")],
            JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
        )
        .sort(["agent_key"], Default::default())
        .collect()
        .map_err(anyhow::Error::from)
        .context("aggregating sla_daily with polars")?;

    let text = |name: &str| -> Result<Vec<Option<String>>> {
        Ok(joined
            .column(name)?
            .str()?
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect())
    };
    let number = |name: &str| -> Result<Vec<Option<f64>>> {
        let column = joined.column(name)?.cast(&DataType::Float64)?;
        Ok(column.f64()?.iter().collect())
    };
    let whole = |name: &str| -> Result<Vec<u32>> {
        Ok(number(name)?
            .into_iter()
            .map(|v| v.unwrap_or(0.0) as u32)
            .collect())
    };
    // Figures are rounded here, at the edge, so a rerun writes the same bytes.
    let round = |values: Vec<Option<f64>>, places: i32| -> Vec<Option<f64>> {
        let scale = 10f64.powi(places);
        values
            .into_iter()
            .map(|v| {
                v.filter(|v| v.is_finite())
                    .map(|v| (v * scale).round() / scale)
            })
            .collect()
    };
    let keys = text("agent_key")?;
    let (sessions_n, turns_n) = (whole("sessions")?, whole("turns")?);
    let (unanswered_n, breaches_n, censored_n) = (
        whole("unanswered")?,
        whole("window_breaches")?,
        whole("censored")?,
    );
    let fr50 = round(number("first_response_p50_s")?, 1);
    let fr90 = round(number("first_response_p90_s")?, 1);
    let r50 = round(number("reply_p50_s")?, 1);
    let r90 = round(number("reply_p90_s")?, 1);
    let r95 = round(number("reply_p95_s")?, 1);
    let ratio = round(number("within_target_ratio")?, 4);
    let first_ratio = round(number("first_response_within_target_ratio")?, 4);
    Ok((0..joined.height())
        .map(|i| SlaDaily {
            agent: keys[i].clone().filter(|key| key != EVERYONE),
            sessions: sessions_n[i],
            turns: turns_n[i],
            first_response_p50_s: fr50[i],
            first_response_p90_s: fr90[i],
            reply_p50_s: r50[i],
            reply_p90_s: r90[i],
            reply_p95_s: r95[i],
            within_target_ratio: ratio[i],
            first_response_within_target_ratio: first_ratio[i],
            unanswered: unanswered_n[i],
            window_breaches: breaches_n[i],
            censored: censored_n[i],
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(agent: Option<&str>, reply_s: Option<i64>, business_s: Option<i64>) -> Turn {
        Turn {
            session_id: "s".into(),
            openid: "o".into(),
            agent: agent.map(str::to_owned),
            answered_by: if agent.is_some() {
                AnsweredBy::Agent
            } else {
                AnsweredBy::None
            },
            first_user_ts_ms: 0,
            last_user_ts_ms: 0,
            reply_ts_ms: reply_s.map(|s| s * 1000),
            reply_dt: None,
            reply_s,
            business_reply_s: business_s,
            breach: false,
            censored: false,
        }
    }

    #[test]
    fn percentiles_interpolate_linearly_and_unanswered_turns_are_misses() {
        let mut turns = vec![
            turn(Some("kf1"), Some(60), Some(60)),
            turn(Some("kf1"), Some(120), Some(120)),
            turn(Some("kf1"), Some(2400), Some(0)),
            turn(Some("kf2"), Some(3600), Some(3600)),
            turn(None, None, None),
        ];
        let mut censored = turn(None, None, None);
        censored.censored = true;
        turns.push(censored);
        let rows = daily(&turns, &[], &Targets::default()).unwrap();
        let everyone = &rows[0];
        assert_eq!(everyone.agent, None);
        assert_eq!(
            (everyone.turns, everyone.unanswered, everyone.censored),
            (6, 2, 1)
        );
        // quantile_cont over 60, 120, 2400, 3600: p50 = 120 + 0.5 × 2280 = 1260.
        assert_eq!(everyone.reply_p50_s, Some(1260.0));
        // p90 = 2400 + 0.7 × 1200 = 3240.
        assert_eq!(everyone.reply_p90_s, Some(3240.0));
        // Within 30 business minutes: 3 of the 5 turns that are not censored.
        assert_eq!(everyone.within_target_ratio, Some(0.6));
        let kf1 = &rows[1];
        assert_eq!((kf1.agent.as_deref(), kf1.turns), (Some("kf1"), 3));
        assert_eq!(kf1.within_target_ratio, Some(1.0));
        assert_eq!(rows[2].within_target_ratio, Some(0.0));
        let wall = daily(
            &turns,
            &[],
            &Targets {
                clock: Clock::Wall,
                ..Targets::default()
            },
        )
        .unwrap();
        assert_eq!(
            wall[1].within_target_ratio,
            Some(0.6667),
            "the overnight 2400 s reply is on time in business time only"
        );
    }

    fn session(agent: Option<&str>, first_s: Option<i64>, business_s: Option<i64>) -> Session {
        Session {
            session_id: "s".into(),
            openid: "o".into(),
            agent: agent.map(str::to_owned),
            agents: agent.into_iter().map(str::to_owned).collect(),
            started_ts_ms: 0,
            ended_ts_ms: 0,
            first_user_ts_ms: Some(0),
            first_response_ts_ms: first_s.map(|s| s * 1000),
            first_response_s: first_s,
            business_first_response_s: business_s,
            accept_response_s: None,
            replies: 1,
            user_messages: 1,
            unanswered: 0,
            window_breach: false,
        }
    }

    #[test]
    fn first_responses_are_held_to_their_own_target_and_a_silent_session_misses() {
        let sessions = [
            session(Some("kf1"), Some(300), Some(300)),
            session(Some("kf1"), Some(40_000), Some(600)),
            session(Some("kf2"), Some(1_200), Some(1_200)),
            session(None, None, None),
        ];
        let rows = daily(&[], &sessions, &Targets::default()).unwrap();
        assert_eq!(rows[0].sessions, 4);
        // Within 15 business minutes: 2 of 4 (the overnight one counts, the silent one misses).
        assert_eq!(rows[0].first_response_within_target_ratio, Some(0.5));
        assert_eq!(rows[0].first_response_p50_s, Some(1200.0));
        assert_eq!(rows[1].first_response_within_target_ratio, Some(1.0));
        assert_eq!(rows[2].first_response_within_target_ratio, Some(0.0));
        let wall = daily(
            &[],
            &sessions,
            &Targets {
                clock: Clock::Wall,
                ..Targets::default()
            },
        )
        .unwrap();
        assert_eq!(wall[0].first_response_within_target_ratio, Some(0.25));
    }
}
