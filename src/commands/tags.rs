//! `kefu tags check`: what the tag rules make of a message. (`kefu tags push` is the
//! WeChat client's, issue 4.)

use std::path::Path;

use anyhow::Result;

use super::{not_yet, Context};
use crate::cli::TagsCommand;
use crate::jobs::tags::{Denied, TagRules};
use crate::text::normalize::view_text;

const DEFAULT_RULES: &str = "pipelines/rules/tags.toml";

pub fn run(_context: &Context, command: &TagsCommand) -> Result<()> {
    match command {
        TagsCommand::Check { texts, rules } => check(texts, rules.as_deref()),
        TagsCommand::Push { .. } => not_yet("tags push"),
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
