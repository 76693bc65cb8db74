//! The text bank `kefu gen` draws from (`bank.toml`, embedded): user questions by
//! intent, agent replies, bad replies by QA category, hard negatives, trait statements.

use std::sync::LazyLock;

use rand::seq::IndexedRandom;
use rand::Rng;
use serde::Deserialize;

use super::fake;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bank {
    pub intent: Vec<Intent>,
    #[serde(rename = "trait")]
    pub traits: Vec<Trait>,
    pub bad: BadReplies,
    pub hard_negative: HardNegatives,
    pub bot: BotTexts,
    pub agent_common: AgentCommon,
    pub user_common: UserCommon,
    pub slots: Slots,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    pub id: String,
    /// The topic category, as the topics taxonomy names it.
    pub topic: String,
    pub weight: f64,
    pub user: Vec<String>,
    pub followup: Vec<String>,
    pub agent: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trait {
    pub tag: String,
    pub hit: Vec<String>,
    pub negated: Vec<String>,
}

/// Replies a QA team must flag, one list per DESIGN.md category.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BadReplies {
    pub promise: Vec<String>,
    pub rude: Vec<String>,
    pub absolute: Vec<String>,
    pub privacy: Vec<String>,
    pub deflection: Vec<String>,
}

impl BadReplies {
    pub fn category(&self, category: &str) -> &[String] {
        match category {
            "promise" => &self.promise,
            "rude" => &self.rude,
            "absolute" => &self.absolute,
            "privacy" => &self.privacy,
            _ => &self.deflection,
        }
    }
}

/// Replies that look bad and are not; a good QA job leaves them alone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardNegatives {
    pub negated_promise: Vec<String>,
    pub masked_phone: Vec<String>,
    pub ordinal_advice: Vec<String>,
    pub pointer_with_answer: Vec<String>,
}

impl HardNegatives {
    pub fn kinds(&self) -> [(&'static str, &[String]); 4] {
        [
            ("negated_promise", &self.negated_promise),
            ("masked_phone", &self.masked_phone),
            ("ordinal_advice", &self.ordinal_advice),
            ("pointer_with_answer", &self.pointer_with_answer),
        ]
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotTexts {
    pub greeting: Vec<String>,
    pub auto_reply: Vec<String>,
    pub after_hours: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentCommon {
    pub opening: Vec<String>,
    pub closing: Vec<String>,
    pub late_apology: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserCommon {
    pub thanks: Vec<String>,
    pub impatient: Vec<String>,
    pub opt_out: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slots {
    pub product: Vec<String>,
    pub agent_name: Vec<String>,
    pub city: Vec<String>,
    pub spike_topics: Vec<String>,
}

static BANK: LazyLock<Bank> = LazyLock::new(|| {
    // The bank is compiled in and checked by a unit test, so a parse failure here is a
    // build defect, not a user error.
    toml::from_str(include_str!("bank.toml")).expect("the embedded gen bank parses")
});

pub fn bank() -> &'static Bank {
    &BANK
}

/// Picks one text; the bank's lists are never empty (a test checks).
pub fn pick<'a, R: Rng>(rng: &mut R, texts: &'a [String]) -> &'a str {
    texts.choose(rng).map(String::as_str).unwrap_or("")
}

/// Fills the `{slot}` placeholders of a bank text with fresh synthetic values.
pub fn fill<R: Rng>(rng: &mut R, text: &str, agent_name: &str) -> String {
    if !text.contains('{') {
        return text.to_string();
    }
    let bank = bank();
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let slot = &rest[open + 1..open + close];
        match slot {
            "product" => out.push_str(pick(rng, &bank.slots.product)),
            "city" => out.push_str(pick(rng, &bank.slots.city)),
            "agent_name" => out.push_str(agent_name),
            "order_no" => out.push_str(&fake::order_number(rng)),
            "days" => out.push_str(&rng.random_range(1..=15).to_string()),
            "amount" => out.push_str(&fake::amount(rng).to_string()),
            "phone" => out.push_str(&fake::mobile(rng)),
            "masked_phone" => out.push_str(&fake::masked_mobile(rng)),
            "hotline" => out.push_str(&fake::hotline(rng)),
            "address" => {
                let city = pick(rng, &bank.slots.city);
                out.push_str(&fake::address(rng, city));
            }
            "id_number" => out.push_str(&fake::id_number(rng)),
            "card" => out.push_str(&fake::bank_card(rng)),
            other => {
                out.push('{');
                out.push_str(other);
                out.push('}');
            }
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const SLOTS: [&str; 12] = [
        "product",
        "order_no",
        "days",
        "amount",
        "agent_name",
        "phone",
        "masked_phone",
        "hotline",
        "address",
        "id_number",
        "card",
        "city",
    ];

    fn all_texts(bank: &Bank) -> Vec<&String> {
        let mut texts = Vec::new();
        for intent in &bank.intent {
            texts.extend(&intent.user);
            texts.extend(&intent.followup);
            texts.extend(&intent.agent);
        }
        for t in &bank.traits {
            texts.extend(&t.hit);
            texts.extend(&t.negated);
        }
        for category in ["promise", "rude", "absolute", "privacy", "deflection"] {
            texts.extend(bank.bad.category(category));
        }
        for (_, list) in bank.hard_negative.kinds() {
            texts.extend(list);
        }
        texts.extend(&bank.bot.greeting);
        texts.extend(&bank.bot.auto_reply);
        texts.extend(&bank.bot.after_hours);
        texts.extend(&bank.agent_common.opening);
        texts.extend(&bank.agent_common.closing);
        texts.extend(&bank.agent_common.late_apology);
        texts.extend(&bank.user_common.thanks);
        texts.extend(&bank.user_common.impatient);
        texts.extend(&bank.user_common.opt_out);
        texts.extend(&bank.slots.spike_topics);
        texts
    }

    #[test]
    fn bank_has_the_promised_breadth() {
        let bank = bank();
        assert!(bank.intent.len() >= 8, "at least 8 intents");
        let mut user_phrasings: HashSet<&str> = HashSet::new();
        for intent in &bank.intent {
            assert!(
                intent.user.len() >= 40,
                "{}: {} user texts",
                intent.id,
                intent.user.len()
            );
            assert!(
                !intent.followup.is_empty() && !intent.agent.is_empty(),
                "{}",
                intent.id
            );
            user_phrasings.extend(intent.user.iter().map(String::as_str));
        }
        for t in &bank.traits {
            assert!(
                t.tag.len() <= 30,
                "{} is longer than WeChat's 30 bytes",
                t.tag
            );
            assert!(!t.hit.is_empty() && !t.negated.is_empty(), "{}", t.tag);
            user_phrasings.extend(t.hit.iter().chain(&t.negated).map(String::as_str));
        }
        assert!(
            user_phrasings.len() >= 400,
            "{} distinct user phrasings",
            user_phrasings.len()
        );
        for category in ["promise", "rude", "absolute", "privacy", "deflection"] {
            assert!(bank.bad.category(category).len() >= 10, "bad.{category}");
        }
    }

    #[test]
    fn every_placeholder_is_a_known_slot_and_no_list_is_empty() {
        for text in all_texts(bank()) {
            let mut rest = text.as_str();
            while let Some(open) = rest.find('{') {
                let close = rest[open..].find('}').expect("closed placeholder");
                let slot = &rest[open + 1..open + close];
                assert!(SLOTS.contains(&slot), "unknown slot {{{slot}}} in {text}");
                rest = &rest[open + close + 1..];
            }
        }
        let bank = bank();
        for list in [
            &bank.slots.product,
            &bank.slots.agent_name,
            &bank.slots.city,
            &bank.bot.greeting,
        ] {
            assert!(!list.is_empty());
        }
    }

    #[test]
    fn fill_replaces_every_slot() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let filled = fill(
            &mut rng,
            "{agent_name}为您查{order_no}，热线{hotline}，{unknown}",
            "小美",
        );
        assert!(filled.starts_with("小美为您查"));
        assert!(!filled.contains("{order_no}") && !filled.contains("{hotline}"));
        assert!(filled.ends_with("{unknown}"));
    }
}
