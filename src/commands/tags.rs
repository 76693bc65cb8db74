//! `kefu tags check`: what the tag rules make of a message; `kefu tags push`: the
//! snapshot to WeChat.

use std::path::Path;

use anyhow::Result;
use chrono::NaiveDate;

use super::{Context, LOCK_WAIT};
use crate::cli::TagsCommand;
use crate::jobs::tags::{Denied, TagRules};
use crate::text::normalize::view_text;

const DEFAULT_RULES: &str = "pipelines/rules/tags.toml";

pub fn run(context: &Context, command: &TagsCommand) -> Result<()> {
    match command {
        TagsCommand::Check { texts, rules } => check(texts, rules.as_deref()),
        TagsCommand::Push { date, apply } => push(context, *date, *apply),
    }
}

fn push(context: &Context, date: NaiveDate, apply: bool) -> Result<()> {
    use crate::outputs::push;
    let dataset = crate::store::Dataset::open(&context.data)?;
    if !apply {
        let (plan, _) = push::plan_for(&dataset, date)?;
        println!("dry run: nothing is sent to WeChat; add --apply to make these calls");
        print!("{}", push::render(&plan));
        return Ok(());
    }
    let lock = dataset.lock("tags push", LOCK_WAIT)?;
    let sealed = dataset.seal_push_journals(&lock)?;
    if sealed > 0 {
        println!("resuming: sealed {sealed} push log journal(s) an interrupted push left");
    }
    let (plan, ledger) = push::plan_for(&dataset, date)?;
    print!("{}", push::render(&plan));
    if plan.is_empty() {
        println!("WeChat already matches the snapshot of {date}: no call made");
        push::settle_forgotten(&dataset, &lock)?;
        return Ok(());
    }
    let client = crate::wechat::client_from_env(&dataset)?;
    let report = push::apply(&dataset, &lock, &client, &plan, &ledger)?;
    let settled = push::settle_forgotten(&dataset, &lock)?;
    if settled.rows > 0 {
        println!("push log: forgotten users now untagged on WeChat are kept only as pseudonyms ({} rows)", settled.rows);
    }
    println!(
        "pushed {date}: {} calls; {} tags created, {} users tagged, {} untagged (push {})",
        report.calls,
        report.created.len() + report.adopted.len(),
        report.tagged,
        report.untagged,
        report.push_id
    );
    for (name, other) in &report.conflicts {
        let id = other.map(|id| format!(" (id {id})")).unwrap_or_default();
        eprintln!(
            "kefu: the tag name {name} is taken on WeChat by a tag kefu did not create{id}; \
             left alone: rename the tag in the tag rules, or delete the manual tag"
        );
    }
    for name in &report.no_room {
        eprintln!("kefu: the account already holds 100 tags; {name} was not created");
    }
    if !report.rejected.is_empty() {
        let mut by_code = std::collections::BTreeMap::<i64, usize>::new();
        for (_, _, errcode) in &report.rejected {
            *by_code.entry(*errcode).or_default() += 1;
        }
        let counts: Vec<String> = by_code
            .iter()
            .map(|(errcode, n)| format!("{n} × {errcode} ({})", refusal(*errcode)))
            .collect();
        eprintln!(
            "kefu: WeChat refused {} user assignments: {}; they are in the push log and are tried again with the next date",
            report.rejected.len(),
            counts.join(", ")
        );
    }
    Ok(())
}

fn refusal(errcode: i64) -> &'static str {
    match errcode {
        40003 => "not a follower or not a valid openid",
        49003 => "an openid of another account",
        45059 => "the user already holds 20 tags",
        _ => "refused",
    }
}

fn check(texts: &[String], rules: Option<&Path>) -> Result<()> {
    let rules = match rules {
        Some(path) => TagRules::load(path)?,
        None if Path::new(DEFAULT_RULES).exists() => TagRules::load(Path::new(DEFAULT_RULES))?,
        None => TagRules::built_in(),
    };
    println!(
        "rules       {} (version {})",
        rules.path.display(),
        rules.version
    );
    for text in texts {
        let view = view_text(text);
        println!();
        println!("message     {text}");
        println!("normalised  {view}");
        let judged = rules.judge(&view);
        if judged.is_empty() {
            println!("tags        none pointed at");
        }
        for (tag, denied) in judged {
            let tag = &rules.tags[tag];
            let verdict = match denied {
                None => "earned".to_owned(),
                Some(Denied::Negated) => "not earned: negated".to_owned(),
                Some(Denied::Past) => "not earned: in the past".to_owned(),
                Some(Denied::SomeoneElse) => "not earned: about someone else".to_owned(),
                Some(Denied::Proxy) => "not earned: asked for someone else".to_owned(),
            };
            println!("tag         {} ({}): {verdict}", tag.name, tag.id);
        }
        if rules.opts_out(text) {
            println!("opt-out     yes: this user is never tagged for marketing again");
        }
    }
    Ok(())
}
