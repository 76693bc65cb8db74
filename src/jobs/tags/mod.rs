//! The tags job: user traits (敏感肌, 孕期, 学生…) as marketing tags, earned only by what
//! users say about themselves, respecting opt-outs and unsubscribes.

mod job;
mod rules;

pub use job::{
    end_of_day_ms, histories, run_range, snapshot, Evidence, Message, TagsSection, TagsSummary,
    UserHistory,
};
pub use rules::{Denied, TagRule, TagRules, MAX_TAG_NAME_BYTES};

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::text::normalize::view_text;

    fn shipped() -> TagRules {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/rules/tags.toml");
        TagRules::load(&path).unwrap()
    }

    /// Every tag's `hit` sentences earn it and its `miss` sentences do not.
    #[test]
    fn every_shipped_tag_earns_its_hits_and_not_its_misses() {
        let rules = shipped();
        let mut wrong = Vec::new();
        for (index, tag) in rules.tags.iter().enumerate() {
            for hit in &tag.hit {
                if !rules.earned(hit).contains(&index) {
                    wrong.push(format!(
                        "{}: missed hit `{hit}`: {:?}",
                        tag.name,
                        rules.judge(&view_text(hit))
                    ));
                }
            }
            for miss in &tag.miss {
                if rules.earned(miss).contains(&index) {
                    wrong.push(format!("{}: tagged miss `{miss}`", tag.name));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn each_denial_kind_names_its_reason() {
        let rules = shipped();
        let sensitive = rules.tags.iter().position(|t| t.name == "敏感肌").unwrap();
        let reason = |text: &str| {
            rules
                .judge(&view_text(text))
                .into_iter()
                .find(|(tag, _)| *tag == sensitive)
                .map(|(_, denied)| denied)
        };
        assert_eq!(reason("我是敏感肌"), Some(None));
        assert_eq!(
            reason("医生说我不是敏感性皮肤"),
            Some(Some(Denied::Negated))
        );
        assert_eq!(reason("我皮肤不敏感"), None);
        assert_eq!(reason("我以前是资深敏感肌"), Some(Some(Denied::Past)));
        assert_eq!(
            reason("我老公说他是资深敏感肌"),
            Some(Some(Denied::SomeoneElse))
        );
        assert_eq!(
            reason("帮闺蜜问的：我是敏感肌能用吗"),
            Some(Some(Denied::Proxy))
        );
        // Negation stays in its clause: a denial before the comma denies nothing after.
        assert_eq!(reason("不好意思，我是敏感肌"), Some(None));
        assert_eq!(reason("想问问保湿"), None);
    }

    #[test]
    fn opt_outs_are_recognised_but_not_inside_other_words() {
        let rules = shipped();
        assert!(rules.opts_out("不要再给我推送了"));
        assert!(rules.opts_out("ＴＤ"));
        assert!(rules.opts_out("退订"));
        assert!(!rules.opts_out("我想退订单，怎么操作"));
        assert!(!rules.opts_out("推送的活动在哪看"));
    }

    #[test]
    fn the_opt_out_list_file_beside_the_rules_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("opt-outs.txt"),
            "# from the call centre\noListed\n\n",
        )
        .unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/rules/tags.toml");
        let source = std::fs::read_to_string(&path)
            .unwrap()
            .replace("# list = \"opt-outs.txt\"", "list = \"opt-outs.txt\"");
        let rules = TagRules::parse(&path, &source, Some(dir.path())).unwrap();
        assert!(rules.listed_opt_out("oListed"));
        assert!(!rules.listed_opt_out("oOther"));
        let missing = TagRules::parse(&path, &source, Some(&dir.path().join("nowhere")));
        assert!(format!("{:#}", missing.unwrap_err()).contains("opt-outs.txt"));
    }

    #[test]
    fn a_broken_tag_file_lists_every_problem_with_its_line() {
        let source = r#"
[semantics]
clause_ends = "，"
sentence_ends = "。"
negators_before = []
negators_after = []
not_negators = []
past = []
others = []
not_others = []
proxy = ["帮(问"]

[opt_out]
phrases = []
whole_message = []
not_opt_out = []

[[tag]]
id = "a"
name = "这个标签的名字实在是太长了超过十个字"
phrases = ["x"]
hit = []
miss = []

[[tag]]
id = "a"
name = "b"
hit = []
miss = []
"#;
        let err = TagRules::parse(Path::new("tags.toml"), source, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("tags.toml:11: invalid proxy regex"), "{err}");
        assert!(err.contains("tags.toml:20: tag `a`: the name"), "{err}");
        assert!(err.contains("30 bytes"), "{err}");
        assert!(
            err.contains("tags.toml:26: tag id `a` is used twice"),
            "{err}"
        );
        assert!(err.contains("tag `a` has no phrases or regexes"), "{err}");
    }
}
