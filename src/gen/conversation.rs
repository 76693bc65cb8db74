//! One generated user's month: sessions with bursts of questions, queueing, agents of
//! different speeds and styles, the kf greeting, after-hours auto replies, late and
//! missing answers, planted traits, denials, opt-outs and bad replies.

use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::json;

use super::bank::{bank, fill, pick};
use super::schedule::{next_open, on_shift, Plan};
use super::{GenConfig, ReplyTruth, UserTruth};
use crate::model::{Event, Role, Source};

/// A human agent's working pattern and habits.
#[derive(Debug)]
pub struct Agent {
    pub kf_prefix: &'static str,
    pub name: &'static str,
    /// Median seconds from taking a question to answering it.
    pub median_reply_s: f64,
    /// Spread of reply times (log-normal sigma): larger is less predictable.
    pub reply_sigma: f64,
    pub shift_start_h: u32,
    pub shift_end_h: u32,
    pub works_weekdays: bool,
    pub works_weekends: bool,
    /// Multiplies the configured bad-reply share: a careless agent writes more of them.
    pub bad_reply_factor: f64,
    /// Casual agents open with 亲亲~ style lines more often.
    pub chatty: f64,
}

pub static AGENT_PROFILES: [Agent; 5] = [
    Agent {
        kf_prefix: "kf2001",
        name: "小美",
        median_reply_s: 40.0,
        reply_sigma: 0.5,
        shift_start_h: 9,
        shift_end_h: 18,
        works_weekdays: true,
        works_weekends: false,
        bad_reply_factor: 0.4,
        chatty: 0.5,
    },
    Agent {
        kf_prefix: "kf2002",
        name: "阿杰",
        median_reply_s: 120.0,
        reply_sigma: 0.8,
        shift_start_h: 9,
        shift_end_h: 18,
        works_weekdays: true,
        works_weekends: false,
        bad_reply_factor: 1.0,
        chatty: 0.1,
    },
    Agent {
        kf_prefix: "kf2003",
        name: "小雨",
        median_reply_s: 70.0,
        reply_sigma: 0.6,
        shift_start_h: 12,
        shift_end_h: 21,
        works_weekdays: true,
        works_weekends: true,
        bad_reply_factor: 0.8,
        chatty: 0.4,
    },
    Agent {
        kf_prefix: "kf2004",
        name: "大伟",
        median_reply_s: 300.0,
        reply_sigma: 1.1,
        shift_start_h: 12,
        shift_end_h: 21,
        works_weekdays: true,
        works_weekends: false,
        bad_reply_factor: 3.0,
        chatty: 0.05,
    },
    Agent {
        kf_prefix: "kf2005",
        name: "晓琳",
        median_reply_s: 90.0,
        reply_sigma: 0.7,
        shift_start_h: 10,
        shift_end_h: 20,
        works_weekdays: false,
        works_weekends: true,
        bad_reply_factor: 1.0,
        chatty: 0.3,
    },
];

/// How often each bad-reply category is planted, relative to the others.
const BAD_CATEGORIES: [(&str, f64); 5] = [
    ("promise", 0.25),
    ("rude", 0.20),
    ("absolute", 0.20),
    ("privacy", 0.15),
    ("deflection", 0.20),
];

/// Share of users holding each trait, in the bank's trait order (roughly: 敏感肌, 孕期,
/// 学生, 宝妈, 价格敏感, 油皮, 干皮, 男士); traits beyond the list use the last rate.
const TRAIT_RATES: [f64; 8] = [0.08, 0.03, 0.06, 0.05, 0.07, 0.06, 0.06, 0.04];

fn normal<R: Rng>(rng: &mut R) -> f64 {
    // Box–Muller; the open interval keeps ln away from zero.
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn log_normal<R: Rng>(rng: &mut R, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

fn poisson<R: Rng>(rng: &mut R, lambda: f64) -> u32 {
    let limit = (-lambda).exp();
    let mut product: f64 = rng.random();
    let mut count = 0;
    while product > limit && count < 1000 {
        product *= rng.random::<f64>();
        count += 1;
    }
    count
}

fn openid<R: Rng>(rng: &mut R) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // Openids of one account share their first characters.
    let mut id = String::from("oQ3k");
    for _ in 0..24 {
        id.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    id
}

/// What a session opens with.
#[derive(Debug, Clone)]
enum Opening {
    Intent(usize),
    Spike(usize),
}

/// What a user says once, somewhere in their sessions.
#[derive(Debug, Clone)]
enum Mention {
    Trait(usize),
    Denial(usize),
    OptOut,
}

struct Simulation<'a, R: Rng> {
    config: &'a GenConfig,
    plan: &'a Plan,
    rng: &'a mut R,
    openid: String,
    user_index: u32,
    msg_seq: u64,
    events: Vec<Event>,
    replies: Vec<ReplyTruth>,
    truth: UserTruth,
}

pub fn simulate_user<R: Rng>(
    config: &GenConfig,
    plan: &Plan,
    user_index: u32,
    rng: &mut R,
) -> (Vec<Event>, UserTruth, Vec<ReplyTruth>) {
    let bank = bank();
    let openid = openid(rng);
    let mut mentions = Vec::new();
    for (i, _) in bank.traits.iter().enumerate() {
        let rate = TRAIT_RATES.get(i).copied().unwrap_or(0.04);
        if rng.random_bool(rate) && mentions.len() < 2 {
            mentions.push(Mention::Trait(i));
        }
    }
    let held: Vec<usize> = mentions
        .iter()
        .filter_map(|m| match m {
            Mention::Trait(i) => Some(*i),
            _ => None,
        })
        .collect();
    if rng.random_bool(0.03) {
        let i = rng.random_range(0..bank.traits.len());
        if !held.contains(&i) {
            mentions.push(Mention::Denial(i));
        }
    }
    let opted_out = rng.random_bool(0.02);
    if opted_out {
        mentions.push(Mention::OptOut);
    }
    let unsubscribes = rng.random_bool(0.03);
    let subscribes = rng.random_bool(0.25);

    // Sessions: most users come once or twice a month, a few far more often.
    let expected = f64::from(plan.days) / 30.0 * 1.3 * log_normal(rng, 1.0, 0.6);
    let count = poisson(rng, expected).max(1);
    let intents = &bank.intent;
    let total_weight: f64 = intents.iter().map(|i| i.weight).sum();
    let mut starts: Vec<(i64, Opening)> = (0..count)
        .map(|_| {
            let day = plan.sample_day(rng);
            let at = plan.sample_time(rng, day, config.zone);
            let mut x = rng.random_range(0.0..total_weight);
            let intent = intents
                .iter()
                .position(|i| {
                    x -= i.weight;
                    x < 0.0
                })
                .unwrap_or(0);
            (at, Opening::Intent(intent))
        })
        .collect();
    for (spike_index, spike) in plan.spikes.iter().enumerate() {
        for day in 0..plan.days {
            let date = plan.start + chrono::Duration::days(i64::from(day));
            let factor = if date == spike.date {
                spike.factor
            } else {
                1.0
            };
            let p = (plan.spike_base_per_day * factor / f64::from(config.users.max(1))).min(1.0);
            if rng.random_bool(p) {
                starts.push((
                    plan.sample_time(rng, date, config.zone),
                    Opening::Spike(spike_index),
                ));
            }
        }
    }
    starts.sort_by_key(|(at, _)| *at);

    let mut sim = Simulation {
        config,
        plan,
        rng,
        openid: openid.clone(),
        user_index,
        msg_seq: 0,
        events: Vec::new(),
        replies: Vec::new(),
        truth: UserTruth {
            openid,
            traits: Vec::new(),
            denied: Vec::new(),
            opted_out,
            unsubscribed: false,
            evidence: Vec::new(),
        },
    };
    let sessions = starts.len();
    let mut busy_until = i64::MIN;
    for (k, (at, opening)) in starts.into_iter().enumerate() {
        // A new session needs a quiet gap after the last one ended.
        let at = at.max(busy_until + 2 * 3600);
        // Mentions spread over sessions; when they outnumber sessions, the last takes the rest.
        let mine: Vec<Mention> = mentions
            .iter()
            .enumerate()
            .filter(|(m, _)| m % sessions == k || (k + 1 == sessions && *m >= sessions))
            .map(|(_, mention)| mention.clone())
            .collect();
        busy_until = sim.session(at, opening, &mine, k == 0 && subscribes);
    }
    if unsubscribes {
        let at = busy_until + sim.rng.random_range(3600..3 * 86_400);
        sim.system(at, "unsubscribe", None, None);
        sim.truth.unsubscribed = true;
    }
    (sim.events, sim.truth, sim.replies)
}

impl<R: Rng> Simulation<'_, R> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        ts_s: i64,
        role: Role,
        agent: Option<String>,
        kind: &str,
        event: Option<&str>,
        text: Option<String>,
        media_id: Option<String>,
        extra: Option<String>,
        msg_id: Option<u64>,
    ) -> String {
        let ts_ms = ts_s * 1000;
        let account = Some(self.config.account.clone());
        let event_id = match msg_id {
            Some(id) => Event::message_id(&id.to_string()),
            None => Event::content_id(
                account.as_deref(),
                &self.openid,
                ts_ms,
                role,
                kind,
                event,
                text.as_deref(),
            ),
        };
        self.events.push(Event {
            event_id: event_id.clone(),
            account,
            openid: self.openid.clone(),
            role,
            agent,
            kind: kind.to_string(),
            event: event.map(str::to_string),
            text,
            media_id,
            extra,
            ts_ms,
            received_ts_ms: Some(ts_ms + self.rng.random_range(20..900)),
            source: Source::Gen,
        });
        event_id
    }

    fn next_msg_id(&mut self) -> u64 {
        self.msg_seq += 1;
        6_900_000_000_000_000_000 + u64::from(self.user_index) * 100_000 + self.msg_seq
    }

    fn user_text(&mut self, ts_s: i64, text: String) -> String {
        let msg_id = self.next_msg_id();
        // One message in twenty is spoken: a voice message carrying WeChat's recognition.
        if self.rng.random_bool(0.05) {
            let media = format!("media_v{msg_id}");
            let extra = json!({"Format": "amr", "MediaId16K": format!("{media}_16k")}).to_string();
            return self.push(
                ts_s,
                Role::User,
                None,
                "voice",
                None,
                Some(text),
                Some(media),
                Some(extra),
                Some(msg_id),
            );
        }
        self.push(
            ts_s,
            Role::User,
            None,
            "text",
            None,
            Some(text),
            None,
            None,
            Some(msg_id),
        )
    }

    fn user_image(&mut self, ts_s: i64) {
        let msg_id = self.next_msg_id();
        let extra =
            json!({"PicUrl": format!("http://mmbiz.qpic.cn/mmbiz_jpg/{msg_id}/0")}).to_string();
        self.push(
            ts_s,
            Role::User,
            None,
            "image",
            None,
            None,
            Some(format!("media_i{msg_id}")),
            Some(extra),
            Some(msg_id),
        );
    }

    fn system(&mut self, ts_s: i64, event: &str, agent: Option<String>, extra: Option<String>) {
        self.push(
            ts_s,
            Role::System,
            agent,
            "event",
            Some(event),
            None,
            None,
            extra,
            None,
        );
    }

    fn agent_text(&mut self, ts_s: i64, agent: usize, text: String) -> String {
        let kf = self.kf_account(agent);
        self.push(
            ts_s,
            Role::Agent,
            Some(kf),
            "text",
            None,
            Some(text),
            None,
            None,
            None,
        )
    }

    fn bot_text(&mut self, ts_s: i64, text: String) {
        self.push(
            ts_s,
            Role::Bot,
            None,
            "text",
            None,
            Some(text),
            None,
            None,
            None,
        );
    }

    fn kf_account(&self, agent: usize) -> String {
        format!(
            "{}@{}",
            AGENT_PROFILES[agent].kf_prefix, self.config.account
        )
    }

    fn say(&mut self, texts: &[String], agent_name: &str) -> String {
        let text = pick(self.rng, texts).to_string();
        fill(self.rng, &text, agent_name)
    }

    /// Plays one session from `at`; returns when it ended.
    fn session(
        &mut self,
        at: i64,
        opening: Opening,
        mentions: &[Mention],
        subscribes_now: bool,
    ) -> i64 {
        let bank = bank();
        let mut t = at;
        if subscribes_now {
            let subscribed = t - self.rng.random_range(120..7200);
            let extra = self.rng.random_bool(0.4).then(|| json!({"EventKey": "qrscene_store_poster", "Ticket": "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xLzAy"}).to_string());
            self.system(subscribed, "subscribe", None, extra);
            let welcome = self.say(&bank.bot.auto_reply, "");
            self.bot_text(subscribed + 1, welcome);
        }
        if self.rng.random_bool(0.25) {
            let before = t - self.rng.random_range(10..90);
            if self.rng.random_bool(0.5) {
                self.system(
                    before,
                    "CLICK",
                    None,
                    Some(json!({"EventKey": "V1001_CONTACT_KF"}).to_string()),
                );
            } else {
                self.system(before, "VIEW", None, Some(json!({"EventKey": "https://shop.qinghe.example/orders", "MenuId": "421350102"}).to_string()));
            }
        }
        let intent = match opening {
            Opening::Intent(i) => i,
            Opening::Spike(_) => bank
                .intent
                .iter()
                .position(|i| i.id == "logistics")
                .unwrap_or(0),
        };
        if self.rng.random_bool(0.08) {
            self.user_image(t);
            t += self.rng.random_range(3..20);
        }
        let question = match opening {
            Opening::Intent(i) => self.say(&bank.intent[i].user, ""),
            Opening::Spike(s) => self.plan.spikes[s].question.clone(),
        };
        self.user_text(t, question);
        for mention in mentions {
            t += self.rng.random_range(4..40);
            match mention {
                Mention::Trait(i) => {
                    let text = self.say(&bank.traits[*i].hit, "");
                    let id = self.user_text(t, text);
                    let tag = bank.traits[*i].tag.clone();
                    if !self.truth.traits.contains(&tag) {
                        self.truth.traits.push(tag.clone());
                    }
                    self.truth.evidence.push((tag, id));
                }
                Mention::Denial(i) => {
                    let text = self.say(&bank.traits[*i].negated, "");
                    self.user_text(t, text);
                    self.truth.denied.push(bank.traits[*i].tag.clone());
                }
                Mention::OptOut => {
                    let text = self.say(&bank.user_common.opt_out, "");
                    self.user_text(t, text);
                }
            }
        }
        if self.rng.random_bool(0.35) {
            t += self.rng.random_range(3..40);
            let text = self.say(&bank.intent[intent].followup, "");
            self.user_text(t, text);
        }
        let last_user = t;

        // Routing: an agent on shift takes the session after a queue; out of hours the
        // bot answers and an agent may pick it up when the shift opens, or never.
        let zone = self.config.zone;
        let accept = if !on_shift(zone, t).is_empty() {
            (!self.rng.random_bool(0.03)).then(|| t + log_normal(self.rng, 35.0, 0.9) as i64 + 1)
        } else {
            let notice = self.say(&bank.bot.after_hours, "");
            self.bot_text(t + 1, notice);
            match next_open(zone, t) {
                Some(open) if self.rng.random_bool(0.7) => {
                    Some(open + log_normal(self.rng, 600.0, 0.8) as i64)
                }
                _ => None,
            }
        };
        let Some(accept) = accept else {
            if self.rng.random_bool(0.4) {
                let later = last_user + self.rng.random_range(300..3600);
                let text = self.say(&bank.user_common.impatient, "");
                self.user_text(later, text);
                return later;
            }
            return last_user;
        };
        let staff = on_shift(zone, accept);
        let mut agent = *staff.choose(self.rng).unwrap_or(&0);
        let kf = self.kf_account(agent);
        self.system(accept, "kf_create_session", Some(kf), None);
        let greeting = self.say(&bank.bot.greeting, AGENT_PROFILES[agent].name);
        self.agent_text(accept, agent, greeting);

        let profile = &AGENT_PROFILES[agent];
        let mut reply_at =
            accept + log_normal(self.rng, profile.median_reply_s, profile.reply_sigma) as i64 + 3;
        if reply_at - last_user > 150 && self.rng.random_bool(0.5) {
            let nudge = last_user + self.rng.random_range(60..(reply_at - last_user).min(140));
            let text = self.say(&bank.user_common.impatient, "");
            self.user_text(nudge, text);
        }
        if self.rng.random_bool(AGENT_PROFILES[agent].chatty) {
            let text = self.say(&bank.agent_common.opening, profile.name);
            self.agent_text(reply_at, agent, text);
            reply_at += self.rng.random_range(5..30);
        }
        let late = reply_at - at > 1800;
        self.answer(reply_at, agent, intent, late);
        t = reply_at;

        if self.rng.random_bool(0.4) {
            t += self.rng.random_range(20..180);
            let text = self.say(&bank.intent[intent].followup, "");
            self.user_text(t, text);
            if self.rng.random_bool(0.1) {
                let others: Vec<usize> = on_shift(zone, t)
                    .into_iter()
                    .filter(|a| *a != agent)
                    .collect();
                if let Some(next) = others.choose(self.rng) {
                    let extra = json!({"FromKfAccount": self.kf_account(agent)}).to_string();
                    let next = *next;
                    t += self.rng.random_range(30..120);
                    let kf = self.kf_account(next);
                    self.system(t, "kf_switch_session", Some(kf), Some(extra));
                    agent = next;
                }
            }
            let profile = &AGENT_PROFILES[agent];
            t += log_normal(self.rng, profile.median_reply_s, profile.reply_sigma) as i64 + 3;
            self.answer(t, agent, intent, false);
        }
        if self.rng.random_bool(0.5) {
            t += self.rng.random_range(10..60);
            let text = self.say(&bank.agent_common.closing, AGENT_PROFILES[agent].name);
            self.agent_text(t, agent, text);
        }
        if self.rng.random_bool(0.4) {
            t += self.rng.random_range(10..90);
            let text = self.say(&bank.user_common.thanks, "");
            self.user_text(t, text);
        }
        t += self.rng.random_range(120..900);
        let kf = self.kf_account(agent);
        self.system(t, "kf_close_session", Some(kf), None);
        t
    }

    /// An agent's answer: usually a good one for the intent, sometimes a planted bad
    /// reply or a hard negative, each recorded in the truth.
    fn answer(&mut self, at: i64, agent: usize, intent: usize, late: bool) {
        let bank = bank();
        let name = AGENT_PROFILES[agent].name;
        let share = (self.config.bad_reply_share * AGENT_PROFILES[agent].bad_reply_factor).min(1.0);
        let (text, planted) = if self.rng.random_bool(share) {
            let category = BAD_CATEGORIES
                .choose_weighted(self.rng, |(_, weight)| *weight)
                .map(|(name, _)| *name)
                .unwrap_or("promise");
            (
                self.say(bank.bad.category(category), name),
                Some(("flag", category.to_string())),
            )
        } else if self
            .rng
            .random_bool(self.config.hard_negative_share.min(1.0))
        {
            let kinds = bank.hard_negative.kinds();
            let (kind, texts) = kinds.choose(self.rng).expect("four kinds");
            (self.say(texts, name), Some(("clean", kind.to_string())))
        } else {
            (self.say(&bank.intent[intent].agent, name), None)
        };
        let text = if late {
            let apology = self.say(&bank.agent_common.late_apology, name);
            format!("{apology}，{text}")
        } else {
            text
        };
        let event_id = self.agent_text(at, agent, text.clone());
        if let Some((expected, category)) = planted {
            self.replies.push(ReplyTruth {
                event_id,
                openid: self.openid.clone(),
                agent: self.kf_account(agent),
                expected,
                category,
                text,
            });
        }
    }
}
