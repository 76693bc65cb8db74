//! Carrying out a plan against WeChat, every call journalled before the next one.
//!
//! - A tag is created only under a name WeChat does not already hold. A name taken by
//!   a tag kefu did not create is reported and left alone; one kefu set out to create
//!   without recording the answer (a crash mid-call) is recognised and adopted.
//! - WeChat fails a whole batch for one bad user (40003, 49003, 45059): the batch is
//!   split in halves until the bad users stand alone; they are recorded, and the rest
//!   are tagged.
//! - A daily quota (45009), or WeChat still busy after the client's retries, stops the
//!   push: what succeeded is in the log, and the next run does only the rest.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::Utc;

use super::plan::{is_user_error, Ledger, Plan};
use crate::model::PushCall;
use crate::store::{Dataset, PushJournal, WriteLock};
use crate::wechat::api::{self, Membership, MAX_OPENIDS_PER_CALL};
use crate::wechat::error::code;
use crate::wechat::{ApiError, Client};

/// What a push did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PushReport {
    pub push_id: String,
    pub calls: u64,
    pub created: Vec<(String, i64)>,
    pub adopted: Vec<(String, i64)>,
    /// Names held by a tag kefu did not create: (name, that tag's id).
    pub conflicts: Vec<(String, Option<i64>)>,
    /// Tags not created because the account holds 100 already (45056).
    pub no_room: Vec<String>,
    pub tagged: u64,
    pub untagged: u64,
    /// (tag, openid, errcode) of users WeChat refused.
    pub rejected: Vec<(String, String, i64)>,
}

struct Push<'a> {
    client: &'a Client,
    journal: PushJournal,
    push_id: String,
    seq: i64,
    report: PushReport,
    /// WeChat's tags, fetched once when a name turns out to be taken.
    existing: Option<BTreeMap<String, i64>>,
}

/// Applies `plan`. On an error that stops the push the journal is still sealed, so the
/// next run starts from what succeeded.
pub fn apply(
    dataset: &Dataset,
    lock: &WriteLock,
    client: &Client,
    plan: &Plan,
    ledger: &Ledger,
) -> Result<PushReport> {
    let push_id = format!(
        "{}-{:06}",
        Utc::now().format("%Y%m%dT%H%M%S%3fZ"),
        std::process::id() % 1_000_000
    );
    let journal = dataset.open_push_journal(lock, plan.date, &push_id)?;
    let mut push = Push {
        client,
        journal,
        push_id: push_id.clone(),
        seq: 0,
        report: PushReport {
            push_id,
            ..PushReport::default()
        },
        existing: None,
    };
    let outcome = push.run(plan, ledger);
    let Push {
        journal, report, ..
    } = push;
    journal.finish(dataset).context("sealing the push log")?;
    outcome.map(|()| report)
}

impl Push<'_> {
    fn run(&mut self, plan: &Plan, ledger: &Ledger) -> Result<()> {
        let mut room = true;
        for tag in &plan.tags {
            let tag_id = match tag.tag_id {
                Some(id) => id,
                None if tag.to_tag.is_empty() => continue,
                None if !room => {
                    self.report.no_room.push(tag.tag.clone());
                    continue;
                }
                None => match self.create(&tag.tag, ledger.pending_creates.contains(&tag.tag))? {
                    Created::Id(id) => id,
                    Created::Taken(other) => {
                        self.report.conflicts.push((tag.tag.clone(), other));
                        continue;
                    }
                    Created::NoRoom => {
                        room = false;
                        self.report.no_room.push(tag.tag.clone());
                        continue;
                    }
                },
            };
            // Untag first: a user near WeChat's 20-tag limit gets room for the new one.
            for chunk in tag.to_untag.chunks(MAX_OPENIDS_PER_CALL) {
                self.members(Membership::Untag, &tag.tag, tag_id, chunk)?;
            }
            for chunk in tag.to_tag.chunks(MAX_OPENIDS_PER_CALL) {
                self.members(Membership::Tag, &tag.tag, tag_id, chunk)?;
            }
        }
        Ok(())
    }

    fn log(
        &mut self,
        call: &str,
        outcome: &str,
        tag: &str,
        tag_id: Option<i64>,
        openids: &[String],
        error: Option<&ApiError>,
    ) -> Result<()> {
        self.seq += 1;
        let record = PushCall {
            ts_ms: Utc::now().timestamp_millis(),
            push_id: self.push_id.clone(),
            seq: self.seq,
            call: call.to_owned(),
            outcome: outcome.to_owned(),
            tag: tag.to_owned(),
            tag_id,
            openids: openids.to_vec(),
            errcode: error.and_then(ApiError::errcode).unwrap_or(0),
            errmsg: error.map(ToString::to_string).unwrap_or_default(),
        };
        self.journal.append(&record)
    }

    fn create(&mut self, name: &str, pending: bool) -> Result<Created> {
        if pending {
            // The last push asked for this tag and died before recording the answer.
            if let Some(id) = self.existing_tags()?.get(name).copied() {
                self.log("adopt", "ok", name, Some(id), &[], None)?;
                self.report.adopted.push((name.to_owned(), id));
                return Ok(Created::Id(id));
            }
        }
        self.log("create", "intent", name, None, &[], None)?;
        self.report.calls += 1;
        match api::create_tag(self.client, name) {
            Ok(id) => {
                self.log("create", "ok", name, Some(id), &[], None)?;
                self.report.created.push((name.to_owned(), id));
                Ok(Created::Id(id))
            }
            Err(err) => {
                self.log("create", "failed", name, None, &[], Some(&err))?;
                match err.errcode() {
                    Some(code::TAG_NAME_TAKEN) => {
                        let other = self.existing_tags()?.get(name).copied();
                        Ok(Created::Taken(other))
                    }
                    Some(code::TOO_MANY_TAGS) => Ok(Created::NoRoom),
                    _ => Err(err).with_context(|| format!("creating the WeChat tag {name}")),
                }
            }
        }
    }

    fn existing_tags(&mut self) -> Result<&BTreeMap<String, i64>> {
        if self.existing.is_none() {
            self.report.calls += 1;
            let tags = api::get_tags(self.client).context("listing the account's WeChat tags")?;
            self.existing = Some(tags.into_iter().map(|tag| (tag.name, tag.id)).collect());
        }
        Ok(self.existing.as_ref().expect("filled just above"))
    }

    /// One batch call; on a bad-user error the batch is halved until each bad user
    /// stands alone.
    fn members(
        &mut self,
        membership: Membership,
        tag: &str,
        tag_id: i64,
        openids: &[String],
    ) -> Result<()> {
        self.report.calls += 1;
        match api::change_members(self.client, membership, tag_id, openids) {
            Ok(()) => {
                self.log(membership.as_str(), "ok", tag, Some(tag_id), openids, None)?;
                match membership {
                    Membership::Tag => self.report.tagged += openids.len() as u64,
                    Membership::Untag => self.report.untagged += openids.len() as u64,
                }
                Ok(())
            }
            Err(err) => {
                self.log(
                    membership.as_str(),
                    "failed",
                    tag,
                    Some(tag_id),
                    openids,
                    Some(&err),
                )?;
                match err.errcode() {
                    Some(errcode) if is_user_error(errcode) => {
                        if let [openid] = openids {
                            tracing::warn!(
                                "{} refused a user for tag {tag}: errcode {errcode}",
                                membership.as_str()
                            );
                            self.report
                                .rejected
                                .push((tag.to_owned(), openid.clone(), errcode));
                            return Ok(());
                        }
                        let (left, right) = openids.split_at(openids.len() / 2);
                        self.members(membership, tag, tag_id, left)?;
                        self.members(membership, tag, tag_id, right)
                    }
                    _ => Err(err).with_context(|| {
                        format!(
                            "{} of {} users for the WeChat tag {tag}",
                            membership.as_str(),
                            openids.len()
                        )
                    }),
                }
            }
        }
    }
}

enum Created {
    Id(i64),
    /// The name is held by a tag kefu did not create (its id, if WeChat listed it).
    Taken(Option<i64>),
    NoRoom,
}
