//! Tests of `rules.rs`, kept beside it to keep that file about the code.
use super::*;

const SEMANTICS: &str = r#"
[semantics]
clause_ends = "，。"
negators_before = ["无法"]
negators_after = ["不可能"]
not_negators = ["不用担心"]
quote_openers = ["您说的"]
not_absolute = ["第一步"]
"#;

fn problems(rules: &str) -> String {
    let source = format!("{SEMANTICS}{rules}");
    let err = Rules::parse(Path::new("qa.toml"), &source).unwrap_err();
    assert_eq!(crate::error::exit_code_for(&err), 2, "a usage error");
    format!("{err:#}")
}

#[test]
fn a_syntax_error_names_the_file_and_line() {
    let message = problems("\n[[rule]]\nid = \"promise.x\"\ncategory = promise\n");
    assert!(message.starts_with("qa.toml:12:"), "{message}");
}

#[test]
fn every_problem_is_reported_at_once_with_its_line() {
    let message = problems(
        r#"
[[rule]]
id = "promise.a"
category = "promis"
severity = "high"
description = "d"
phrases = ["终身免费"]
hit = ["终身免费"]
miss = ["好的"]

[[rule]]
id = "rude.b"
category = "rude"
severity = "high"
description = "d"
regexes = ["听不懂(吗"]
hit = ["听不懂吗"]
miss = ["好的"]
"#,
    );
    assert!(message.contains("2 problem(s)"), "{message}");
    assert!(
        message.contains("qa.toml:12: rule `promise.a`: unknown category `promis`"),
        "{message}"
    );
    assert!(
        message.contains("qa.toml:24: rule `rude.b`: invalid match regex"),
        "{message}"
    );
}

#[test]
fn a_rule_without_examples_or_with_two_detectors_is_refused() {
    let message = problems(
        r#"
[[rule]]
id = "privacy.x"
category = "privacy"
severity = "high"
description = "d"
privacy = "mobile"
phrases = ["电话"]
hit = []
miss = []
"#,
    );
    assert!(message.contains("give exactly one of"), "{message}");
    assert!(message.contains("at least one `hit`"), "{message}");
}

#[test]
fn the_version_follows_the_file_content() {
    let rule = r#"
[[rule]]
id = "promise.a"
category = "promise"
severity = "high"
description = "d"
phrases = ["終身免費"]
hit = ["终身免费"]
miss = ["好的"]
"#;
    let one = Rules::parse(Path::new("a.toml"), &format!("{SEMANTICS}{rule}")).unwrap();
    let same = Rules::parse(Path::new("b.toml"), &format!("{SEMANTICS}{rule}")).unwrap();
    let other = Rules::parse(Path::new("a.toml"), &format!("{SEMANTICS}{rule}\n")).unwrap();
    assert_eq!(one.version, same.version);
    assert_ne!(one.version, other.version);
    assert_eq!(one.version.len(), 12);
    // Phrases are normalised like the text they are matched against.
    let check = one.check("亲，终身免费哦", Role::Agent);
    assert_eq!(check.hits.len(), 1);
    assert_eq!((check.hits[0].start_char, check.hits[0].end_char), (2, 6));
    assert!(
        one.check("终身免费", Role::User).hits.is_empty(),
        "users are not QA'd"
    );
}

#[test]
fn near_pairs_not_followed_by_and_exclusions_narrow_a_rule() {
    let rule = r#"
[[rule]]
id = "promise.refund_by_date"
category = "promise"
severity = "medium"
description = "a refund tied to a date"
near = [{ a = ["退款"], b = ["今天", "明天"], within = 4 }]
not_followed_by = ["吗"]
exclude = ["明天(上午|下午)?再"]
hit = ["退款明天一定到"]
miss = ["退款的事明天再说"]
"#;
    let rules = Rules::parse(Path::new("a.toml"), &format!("{SEMANTICS}{rule}")).unwrap();
    let flagged = |text: &str| {
        rules
            .check(text, Role::Agent)
            .hits
            .iter()
            .map(|h| h.matched.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        flagged("今天给您退款到账"),
        ["今天给您退款"],
        "either order"
    );
    assert_eq!(flagged("退款明天一定到"), ["退款明天"]);
    assert!(
        flagged("退款手续比较多，一般三到五个工作日，明天").is_empty(),
        "too far apart"
    );
    assert!(
        flagged("退款明天能到吗").is_empty(),
        "a question, not a promise"
    );
    let check = rules.check("退款明天再帮您查", Role::Agent);
    assert!(check.hits.is_empty());
    assert!(
        check.cancelled[0].reason.starts_with("excluded by"),
        "{:?}",
        check.cancelled
    );
}

#[test]
fn a_rule_reads_the_bots_replies_only_when_its_roles_say_so() {
    let rule = |roles: &str| {
        let source = format!(
            r#"{SEMANTICS}
[[rule]]
id = "promise.lifetime"
category = "promise"
severity = "high"
description = "d"
phrases = ["终身免费"]
{roles}
hit = ["终身免费"]
miss = ["好的"]
"#
        );
        Rules::parse(Path::new("qa.toml"), &source).unwrap()
    };
    let reply = "亲，终身免费哦";
    let agents_only = rule("");
    assert_eq!(agents_only.hits(reply, Role::Agent).len(), 1);
    assert!(agents_only.hits(reply, Role::Bot).is_empty());
    let with_bot = rule(r#"roles = ["agent", "bot"]"#);
    assert_eq!(with_bot.hits(reply, Role::Bot).len(), 1);
    assert!(with_bot.hits(reply, Role::User).is_empty());
}
