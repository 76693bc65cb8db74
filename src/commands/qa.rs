//! `kefu qa check TEXT` and `kefu qa backtest RULES --from D --to D`: how a QA team
//! understands a rule's verdict and tries a rule change before switching it on.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::Context;
use crate::cli::QaCommand;
use crate::jobs::qa::{flag_replies, Reviews, Rules};
use crate::model::{QaFlag, Role};
use crate::outputs::mask::{mask, masked_span};
use crate::store::Dataset;
use crate::text::segment::Segmenter;

/// Where `kefu run` and these commands look for the rules unless told otherwise.
const DEFAULT_RULES: &str = "pipelines/rules/qa.toml";

fn load_rules(path: Option<&Path>) -> Result<Rules> {
    match path {
        Some(path) => Rules::load(path),
        None if Path::new(DEFAULT_RULES).exists() => Rules::load(Path::new(DEFAULT_RULES)),
        None => Ok(Rules::built_in()),
    }
}

fn segmenter() -> Result<Segmenter> {
    let (dict, stopwords) = (
        PathBuf::from("pipelines/dict/userdict.txt"),
        PathBuf::from("pipelines/dict/stopwords.txt"),
    );
    if dict.exists() && stopwords.exists() {
        Segmenter::load(&dict, &stopwords)
    } else {
        Segmenter::built_in()
    }
}

pub fn run(context: &Context, command: &QaCommand) -> Result<()> {
    match command {
        QaCommand::Check { text, rules, role } => check(text, rules.as_deref(), role),
        QaCommand::Backtest {
            rules,
            from,
            to,
            current,
            limit,
        } => backtest(context, rules, *from, *to, current.as_deref(), *limit),
    }
}

fn check(text: &str, rules: Option<&Path>, role: &str) -> Result<()> {
    let rules = load_rules(rules)?;
    let role = if role == "bot" {
        Role::Bot
    } else {
        Role::Agent
    };
    let check = rules.check(text, role);
    println!(
        "rules       {} (version {})",
        rules.path.display(),
        rules.version
    );
    println!("reply       {text}");
    println!("normalised  {}", check.normalized.text);
    let folds = check.normalized.folds_of(0, check.normalized.source.len());
    if !folds.describe().is_empty() {
        println!("            ({})", folds.describe());
    }
    println!("tokens      {}", segmenter()?.tokens(text).join(" / "));
    println!();
    if check.hits.is_empty() {
        println!("matches     none");
    }
    for hit in &check.hits {
        let rule = rules.rule(hit.rule);
        println!(
            "match       {} [{}, {}] chars {}..{}: {}{}",
            hit.rule_id,
            hit.category,
            hit.severity.as_str(),
            hit.start_char,
            hit.end_char,
            hit.matched,
            if hit.normalisation.is_empty() {
                String::new()
            } else {
                format!(" ({})", hit.normalisation)
            }
        );
        println!("            {}", rule.description);
    }
    for cancelled in &check.cancelled {
        println!(
            "cancelled   {} on {}: {}",
            cancelled.rule_id, cancelled.matched, cancelled.reason
        );
    }
    println!();
    let categories: BTreeSet<&str> = check.hits.iter().map(|h| h.category.as_str()).collect();
    if categories.is_empty() {
        println!("verdict     clean");
    } else {
        let list: Vec<&str> = categories.into_iter().collect();
        println!("verdict     flagged: {}", list.join(", "));
    }
    Ok(())
}

/// A flag's identity across two rule files: the same reply, rule and span.
fn key(flag: &QaFlag) -> (String, String, u32, u32) {
    (
        flag.event_id.clone(),
        flag.rule_id.clone(),
        flag.start_char,
        flag.end_char,
    )
}

fn backtest(
    context: &Context,
    candidate: &Path,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    current: Option<&Path>,
    limit: usize,
) -> Result<()> {
    // Both files are validated before any work starts.
    let candidate = Rules::load(candidate)?;
    let current = load_rules(current)?;
    let dataset = Dataset::open(&context.data)?;
    let reviews = Reviews::default();
    let (mut only_new, mut only_current) = (Vec::new(), Vec::new());
    let (mut replies, mut new_total, mut current_total) = (0, 0, 0);
    let mut day = from;
    while day <= to {
        let events = dataset.read_event_rows(day.pred_opt().unwrap_or(day), day)?;
        let (new_flags, summary) = flag_replies(&candidate, &reviews, &events, dataset.zone(), day);
        let (old_flags, _) = flag_replies(&current, &reviews, &events, dataset.zone(), day);
        replies += summary.replies;
        new_total += new_flags.len();
        current_total += old_flags.len();
        let new_keys: BTreeSet<_> = new_flags.iter().map(key).collect();
        let old_keys: BTreeSet<_> = old_flags.iter().map(key).collect();
        only_new.extend(
            new_flags
                .into_iter()
                .filter(|f| !old_keys.contains(&key(f))),
        );
        only_current.extend(
            old_flags
                .into_iter()
                .filter(|f| !new_keys.contains(&key(f))),
        );
        day = day.succ_opt().expect("a date before 2100");
    }
    println!(
        "{replies} replies from {from} to {to}: {} flags {current_total} times, {} flags {new_total} times",
        current.path.display(),
        candidate.path.display()
    );
    for (title, flags) in [
        (
            format!("only {} would flag", candidate.path.display()),
            &only_new,
        ),
        (
            format!(
                "only {} flags (the change drops these)",
                current.path.display()
            ),
            &only_current,
        ),
    ] {
        println!("\n{title}: {}", flags.len());
        for flag in flags.iter().take(limit) {
            // Stored replies may hold personal numbers; what is printed is masked.
            println!(
                "  {} {} {:<28} {} | {}",
                flag.event_id,
                flag.agent.as_deref().unwrap_or("-"),
                flag.rule_id,
                masked_span(&flag.text, flag.start_char as usize, flag.end_char as usize),
                mask(&flag.text)
            );
        }
        if flags.len() > limit {
            println!("  … and {} more (--limit)", flags.len() - limit);
        }
    }
    Ok(())
}
