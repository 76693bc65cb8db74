//! `kefu gen`: realistic synthetic conversations of one 公众号, deterministic for a
//! seed, with the ground truth of what was planted written beside the data.

pub mod bank;
mod conversation;
pub mod fake;
mod schedule;

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::model::Event;

pub use conversation::{Agent, AGENT_PROFILES};

/// What to generate. The defaults make the demo's sample month.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// First local day of data.
    pub start: NaiveDate,
    pub days: u32,
    pub users: u32,
    pub seed: u64,
    /// Share of human agent replies replaced by a bad reply of some QA category.
    pub bad_reply_share: f64,
    /// Share of human agent replies replaced by a hard negative (looks bad, is fine).
    pub hard_negative_share: f64,
    /// The dataset's zone: traffic curves and shifts are in local time.
    pub zone: Tz,
    /// The official account's original id.
    pub account: String,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            start: NaiveDate::from_ymd_opt(2026, 10, 12).expect("a valid date"),
            days: 30,
            users: 2_000,
            seed: 42,
            bad_reply_share: 0.03,
            hard_negative_share: 0.03,
            zone: chrono_tz::Asia::Shanghai,
            account: "gh_7a3c9e51d2f0".to_string(),
        }
    }
}

/// What gen planted for one user.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserTruth {
    pub openid: String,
    /// Traits the user revealed in at least one message (tags they should earn).
    pub traits: Vec<String>,
    /// Traits the user explicitly denied (我不是敏感肌): never to be tagged.
    pub denied: Vec<String>,
    /// Asked to stop marketing messages.
    pub opted_out: bool,
    pub unsubscribed: bool,
    /// Evidence: the event ids of the messages revealing each trait.
    pub evidence: Vec<(String, String)>,
}

/// One agent reply planted to test QA: a bad reply to flag, or a hard negative to leave.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReplyTruth {
    pub event_id: String,
    pub openid: String,
    pub agent: String,
    /// `flag` for a bad reply, `clean` for a hard negative.
    pub expected: &'static str,
    /// The DESIGN.md QA category for a bad reply; the hard-negative kind for a clean one.
    pub category: String,
    pub text: String,
}

/// A planted rise of one question on one day.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SpikeTruth {
    pub date: NaiveDate,
    pub topic: String,
    pub question: String,
    /// How many times the usual daily rate the question was asked that day.
    pub factor: f64,
}

#[derive(Debug, Default)]
pub struct Truth {
    pub users: Vec<UserTruth>,
    pub replies: Vec<ReplyTruth>,
    pub spikes: Vec<SpikeTruth>,
}

pub struct Generated {
    pub events: Vec<Event>,
    pub truth: Truth,
}

/// A user's random stream depends only on the seed and the user's index, so output is
/// the same whatever the thread count or the order rayon runs users in.
fn user_rng(seed: u64, index: u32) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::from(index) + 1);
    rng
}

/// Generates the whole dataset in memory.
pub fn generate(config: &GenConfig) -> Generated {
    let mut world_rng = user_rng(config.seed, u32::MAX);
    let spikes = schedule::plant_spikes(config, &mut world_rng);
    let plan = schedule::Plan::new(config, spikes.clone());
    let per_user: Vec<(Vec<Event>, UserTruth, Vec<ReplyTruth>)> = (0..config.users)
        .into_par_iter()
        .map(|index| {
            let mut rng = user_rng(config.seed, index);
            conversation::simulate_user(config, &plan, index, &mut rng)
        })
        .collect();
    let mut events = Vec::with_capacity(per_user.iter().map(|(e, _, _)| e.len()).sum());
    let mut truth = Truth {
        spikes,
        ..Truth::default()
    };
    for (user_events, user_truth, replies) in per_user {
        events.extend(user_events);
        truth.users.push(user_truth);
        truth.replies.extend(replies);
    }
    // Consume the world stream so later additions to it cannot shift users' streams.
    let _: u64 = world_rng.random();
    Generated { events, truth }
}

fn write_jsonl<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let file = fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::new(file);
    for row in rows {
        serde_json::to_writer(&mut out, row)?;
        out.write_all(b"\n")?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes `truth/users.jsonl`, `truth/qa.jsonl`, `truth/spikes.jsonl` and
/// `truth/gen.json` (the parameters) under `data_root`.
pub fn write_truth(data_root: &Path, config: &GenConfig, truth: &Truth) -> Result<()> {
    let dir = data_root.join("truth");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    write_jsonl(&dir.join("users.jsonl"), &truth.users)?;
    write_jsonl(&dir.join("qa.jsonl"), &truth.replies)?;
    write_jsonl(&dir.join("spikes.jsonl"), &truth.spikes)?;
    let params = serde_json::json!({
        "start": config.start,
        "days": config.days,
        "users": config.users,
        "seed": config.seed,
        "bad_reply_share": config.bad_reply_share,
        "hard_negative_share": config.hard_negative_share,
        "account": config.account,
        "timezone": config.zone.name(),
        "agents": AGENT_PROFILES.iter().map(|a| serde_json::json!({
            "kf_prefix": a.kf_prefix, "name": a.name,
            "median_reply_s": a.median_reply_s, "shift": [a.shift_start_h, a.shift_end_h],
            "bad_reply_factor": a.bad_reply_factor,
        })).collect::<Vec<_>>(),
    });
    let path = dir.join("gen.json");
    fs::write(&path, serde_json::to_string_pretty(&params)? + "\n")
        .with_context(|| format!("writing {}", path.display()))
}
