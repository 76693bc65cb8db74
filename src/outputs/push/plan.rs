//! The push's pure core: what the push log says WeChat holds for kefu's tags (the
//! ledger), and the diff against a `tags` snapshot that makes WeChat match it (the
//! plan). Only tags kefu created are ever touched.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use chrono::NaiveDate;

use crate::model::{PushCall, TagAssignment};
use crate::wechat::api::{MAX_OPENIDS_PER_CALL, MAX_TAG_NAME_BYTES};
use crate::wechat::error::code;

/// WeChat's state for kefu's tags, as kefu's own calls left it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ledger {
    /// Tag name → id, for each tag kefu created (or adopted after a crash).
    pub managed: BTreeMap<String, i64>,
    /// Names kefu set out to create without recording WeChat's answer: if WeChat has
    /// such a tag, kefu made it.
    pub pending_creates: BTreeSet<String>,
    /// Tag name → the users kefu put in it and has not taken out.
    pub members: BTreeMap<String, BTreeSet<String>>,
    /// (tag, openid) → errcode, for users WeChat refused while this date was pushed; a
    /// rerun of the same date does not ask again, the next date does.
    pub rejected: BTreeMap<(String, String), i64>,
}

/// The errcodes that name one bad user of a batch call.
pub fn is_user_error(errcode: i64) -> bool {
    matches!(
        errcode,
        code::INVALID_OPENID | code::OPENID_OF_OTHER_APP | code::USER_TAG_LIMIT
    )
}

impl Ledger {
    /// Replays the push log, oldest call first, for a push of `date`.
    pub fn replay(calls: &[(NaiveDate, PushCall)], date: NaiveDate) -> Ledger {
        let mut ledger = Ledger::default();
        for (pushed, call) in calls {
            match (call.call.as_str(), call.outcome.as_str()) {
                ("create", "intent") => {
                    ledger.pending_creates.insert(call.tag.clone());
                }
                ("create" | "adopt", "ok") => {
                    ledger.pending_creates.remove(&call.tag);
                    if let Some(id) = call.tag_id {
                        ledger.managed.insert(call.tag.clone(), id);
                    }
                }
                ("create", _) => {
                    ledger.pending_creates.remove(&call.tag);
                }
                ("batchtagging", "ok") => {
                    let members = ledger.members.entry(call.tag.clone()).or_default();
                    members.extend(call.openids.iter().cloned());
                    for openid in &call.openids {
                        ledger.rejected.remove(&(call.tag.clone(), openid.clone()));
                    }
                }
                ("batchuntagging", "ok") => {
                    if let Some(members) = ledger.members.get_mut(&call.tag) {
                        for openid in &call.openids {
                            members.remove(openid);
                        }
                    }
                }
                // WeChat no longer knows the user for this account (unfollowed, or a
                // foreign openid): it holds them in no tag, so there is nothing to undo.
                ("batchuntagging", "failed")
                    if call.openids.len() == 1 && is_user_error(call.errcode) =>
                {
                    if let Some(members) = ledger.members.get_mut(&call.tag) {
                        members.remove(&call.openids[0]);
                    }
                }
                ("batchtagging", "failed")
                    if *pushed == date
                        && call.openids.len() == 1
                        && is_user_error(call.errcode) =>
                {
                    ledger
                        .rejected
                        .insert((call.tag.clone(), call.openids[0].clone()), call.errcode);
                }
                _ => {}
            }
        }
        ledger
    }
}

/// What one tag needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPlan {
    pub tag: String,
    /// The WeChat id when kefu already manages the tag; None: it is to be created.
    pub tag_id: Option<i64>,
    /// Users the snapshot gives the tag.
    pub users: usize,
    pub to_tag: Vec<String>,
    pub to_untag: Vec<String>,
    /// Users WeChat refused earlier in a push of this date, not asked again.
    pub skipped: usize,
}

impl TagPlan {
    pub fn creates(&self) -> usize {
        usize::from(self.tag_id.is_none() && !self.to_tag.is_empty())
    }

    pub fn tag_calls(&self) -> usize {
        self.to_tag.len().div_ceil(MAX_OPENIDS_PER_CALL)
    }

    pub fn untag_calls(&self) -> usize {
        self.to_untag.len().div_ceil(MAX_OPENIDS_PER_CALL)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub date: NaiveDate,
    /// In tag-name order; tags with nothing to do are kept for the table.
    pub tags: Vec<TagPlan>,
    /// Names WeChat would refuse (over 30 bytes): reported, never sent.
    pub invalid_names: Vec<String>,
    pub snapshot_users: usize,
    pub managed: usize,
}

impl Plan {
    pub fn calls(&self) -> usize {
        self.tags
            .iter()
            .map(|t| t.creates() + t.tag_calls() + t.untag_calls())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.calls() == 0
    }
}

/// The diff that makes WeChat's kefu tags match `snapshot`: users to tag, users whose
/// assignment lapsed (expired, opted out, forgotten) to untag, tags to create. A tag
/// kefu manages that the snapshot no longer names at all is emptied, not deleted.
pub fn plan(date: NaiveDate, snapshot: &[TagAssignment], ledger: &Ledger) -> Plan {
    let mut wanted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for row in snapshot {
        wanted
            .entry(row.tag.as_str())
            .or_default()
            .insert(row.openid.as_str());
    }
    let users: BTreeSet<&str> = snapshot.iter().map(|row| row.openid.as_str()).collect();
    let mut names: BTreeSet<&str> = wanted.keys().copied().collect();
    names.extend(ledger.members.keys().map(String::as_str));
    names.extend(ledger.managed.keys().map(String::as_str));
    let mut plan = Plan {
        date,
        tags: Vec::new(),
        invalid_names: Vec::new(),
        snapshot_users: users.len(),
        managed: ledger.managed.len(),
    };
    let empty = BTreeSet::new();
    for name in names {
        if name.len() > MAX_TAG_NAME_BYTES {
            plan.invalid_names.push(name.to_owned());
            continue;
        }
        let want = wanted.get(name).unwrap_or(&empty);
        let tag_id = ledger.managed.get(name).copied();
        let held: BTreeSet<&str> = match tag_id {
            Some(_) => ledger
                .members
                .get(name)
                .map(|m| m.iter().map(String::as_str).collect())
                .unwrap_or_default(),
            // A tag kefu does not manage holds nobody kefu put there.
            None => BTreeSet::new(),
        };
        let mut skipped = 0;
        let to_tag = want
            .difference(&held)
            .filter(|openid| {
                let refused = ledger
                    .rejected
                    .contains_key(&(name.to_owned(), (**openid).to_owned()));
                skipped += usize::from(refused);
                !refused
            })
            .map(|openid| (*openid).to_owned())
            .collect();
        let to_untag = held
            .difference(want)
            .map(|openid| (*openid).to_owned())
            .collect();
        plan.tags.push(TagPlan {
            tag: name.to_owned(),
            tag_id,
            users: want.len(),
            to_tag,
            to_untag,
            skipped,
        });
    }
    plan
}

/// The plan as a person reads it: one line per tag, then the calls in all.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "tags snapshot of {}: {} users; kefu manages {} WeChat tags so far",
        plan.date, plan.snapshot_users, plan.managed
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<16} {:>8} {:>8} {:>9} {:>8}  calls",
        "tag", "users", "to tag", "to untag", "skipped"
    );
    for tag in &plan.tags {
        let mut calls = Vec::new();
        if tag.creates() > 0 {
            calls.push("create".to_owned());
        }
        if tag.tag_calls() > 0 {
            calls.push(format!("{} batchtagging", tag.tag_calls()));
        }
        if tag.untag_calls() > 0 {
            calls.push(format!("{} batchuntagging", tag.untag_calls()));
        }
        let calls = if calls.is_empty() {
            "in sync".to_owned()
        } else {
            calls.join(" + ")
        };
        let _ = writeln!(
            out,
            "{:<16} {:>8} {:>8} {:>9} {:>8}  {calls}",
            pad_name(&tag.tag, 16),
            tag.users,
            tag.to_tag.len(),
            tag.to_untag.len(),
            tag.skipped
        );
    }
    let sum = |f: fn(&TagPlan) -> usize| plan.tags.iter().map(f).sum::<usize>();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} calls: {} tags to create, {} batchtagging ({} users), {} batchuntagging ({} users)",
        plan.calls(),
        sum(TagPlan::creates),
        sum(TagPlan::tag_calls),
        sum(|t| t.to_tag.len()),
        sum(TagPlan::untag_calls),
        sum(|t| t.to_untag.len()),
    );
    for name in &plan.invalid_names {
        let _ = writeln!(
            out,
            "not pushed: the tag name {name:?} is {} bytes, over WeChat's 30; shorten it in the tag rules",
            name.len()
        );
    }
    out
}

/// Left-aligns a name by display width (a CJK character takes two columns).
fn pad_name(name: &str, width: usize) -> String {
    let shown: usize = name.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    format!("{name}{}", " ".repeat(width.saturating_sub(shown)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    fn assign(openid: &str, tag: &str) -> TagAssignment {
        TagAssignment {
            openid: openid.into(),
            tag: tag.into(),
            rule_id: "r".into(),
            evidence_event_id: "e".into(),
            first_seen_ts_ms: 0,
            last_seen_ts_ms: 0,
            expires_ts_ms: None,
        }
    }

    fn logged(
        seq: i64,
        call: &str,
        outcome: &str,
        tag: &str,
        id: Option<i64>,
        openids: &[&str],
        errcode: i64,
    ) -> (NaiveDate, PushCall) {
        (
            date(1),
            PushCall {
                ts_ms: seq,
                push_id: "p1".into(),
                seq,
                call: call.into(),
                outcome: outcome.into(),
                tag: tag.into(),
                tag_id: id,
                openids: openids.iter().map(|s| s.to_string()).collect(),
                errcode,
                errmsg: String::new(),
            },
        )
    }

    #[test]
    fn a_first_push_creates_every_tag_and_tags_in_fifties() {
        let snapshot: Vec<TagAssignment> = (0..120)
            .map(|i| assign(&format!("o{i:03}"), "敏感肌"))
            .chain((0..3).map(|i| assign(&format!("o{i:03}"), "宝妈")))
            .collect();
        let plan = plan(date(1), &snapshot, &Ledger::default());
        assert_eq!(plan.snapshot_users, 120);
        let sizes: Vec<(&str, usize, usize)> = plan
            .tags
            .iter()
            .map(|t| (t.tag.as_str(), t.to_tag.len(), t.tag_calls()))
            .collect();
        assert_eq!(sizes, vec![("宝妈", 3, 1), ("敏感肌", 120, 3)]);
        assert_eq!(plan.calls(), 2 + 1 + 3);
        assert!(render(&plan).contains("6 calls: 2 tags to create"));
    }

    #[test]
    fn the_log_decides_what_is_tagged_and_lapsed_users_are_untagged() {
        let log = vec![
            logged(1, "create", "intent", "敏感肌", None, &[], 0),
            logged(2, "create", "ok", "敏感肌", Some(101), &[], 0),
            logged(
                3,
                "batchtagging",
                "ok",
                "敏感肌",
                Some(101),
                &["a", "b", "c"],
                0,
            ),
            logged(4, "batchuntagging", "ok", "敏感肌", Some(101), &["c"], 0),
        ];
        let ledger = Ledger::replay(&log, date(2));
        assert_eq!(ledger.managed.get("敏感肌"), Some(&101));
        assert!(ledger.pending_creates.is_empty());
        // b opted out; d is new; c was untagged already.
        let plan = plan(
            date(2),
            &[assign("a", "敏感肌"), assign("d", "敏感肌")],
            &ledger,
        );
        let tag = &plan.tags[0];
        assert_eq!(
            (tag.tag_id, tag.to_tag.clone(), tag.to_untag.clone()),
            (Some(101), vec!["d".to_string()], vec!["b".to_string()])
        );
        assert_eq!(plan.calls(), 2);
    }

    #[test]
    fn a_tag_gone_from_the_rules_is_emptied_and_an_unmanaged_name_is_created() {
        let log = vec![
            logged(1, "create", "ok", "旧标签", Some(7), &[], 0),
            logged(2, "batchtagging", "ok", "旧标签", Some(7), &["a"], 0),
        ];
        let plan = plan(
            date(2),
            &[assign("a", "新标签")],
            &Ledger::replay(&log, date(2)),
        );
        let by_name: BTreeMap<&str, &TagPlan> =
            plan.tags.iter().map(|t| (t.tag.as_str(), t)).collect();
        assert_eq!(by_name["旧标签"].to_untag, vec!["a".to_string()]);
        assert_eq!(by_name["新标签"].creates(), 1);
    }

    #[test]
    fn refused_users_are_not_asked_again_the_same_date_but_are_the_next() {
        let log = vec![
            logged(1, "create", "ok", "t", Some(7), &[], 0),
            logged(
                2,
                "batchtagging",
                "failed",
                "t",
                Some(7),
                &["a", "bad"],
                40003,
            ),
            logged(3, "batchtagging", "ok", "t", Some(7), &["a"], 0),
            logged(4, "batchtagging", "failed", "t", Some(7), &["bad"], 40003),
        ];
        let snapshot = [assign("a", "t"), assign("bad", "t")];
        let same_day = plan(date(1), &snapshot, &Ledger::replay(&log, date(1)));
        assert_eq!(
            (same_day.tags[0].to_tag.len(), same_day.tags[0].skipped),
            (0, 1)
        );
        let next_day = plan(date(2), &snapshot, &Ledger::replay(&log, date(2)));
        assert_eq!(next_day.tags[0].to_tag, vec!["bad".to_string()]);
    }

    #[test]
    fn an_unanswered_create_is_pending_and_names_over_30_bytes_are_refused() {
        let log = vec![logged(1, "create", "intent", "t", None, &[], 0)];
        assert!(Ledger::replay(&log, date(1)).pending_creates.contains("t"));
        let long = "敏感肌敏感肌敏感肌敏感肌"; // 36 bytes
        let plan = plan(date(1), &[assign("a", long)], &Ledger::default());
        assert_eq!(plan.invalid_names, vec![long.to_string()]);
        assert_eq!(plan.calls(), 0);
    }
}
