//! The endpoints kefu calls, typed as wechat-spec.md §3 and §5 give them.

use serde::Deserialize;
use serde_json::json;

use super::client::Client;
use super::error::ApiError;

/// msgrecord answers at most this many records per call.
pub const MAX_RECORDS_PER_CALL: i64 = 10_000;
/// msgrecord refuses a window longer than this (65417).
pub const MAX_WINDOW_S: i64 = 24 * 3600;
/// batchtagging and batchuntagging take at most this many openids (40032).
pub const MAX_OPENIDS_PER_CALL: usize = 50;
/// An account holds at most this many tags (45056), the three system tags included.
pub const MAX_TAGS_PER_ACCOUNT: usize = 100;
/// A tag name is at most this many UTF-8 bytes (45158).
pub const MAX_TAG_NAME_BYTES: usize = 30;

/// One chat record. Images, voice and video come as the literal texts `[image]`,
/// `[voice]`, `[video]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct MsgRecord {
    pub openid: String,
    pub opercode: i64,
    #[serde(default)]
    pub text: String,
    /// Unix seconds.
    pub time: i64,
    /// The kf account, `prefix@account`.
    #[serde(default)]
    pub worker: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MsgRecordPage {
    #[serde(default)]
    pub recordlist: Vec<MsgRecord>,
    #[serde(default)]
    pub number: i64,
    /// The cursor for the next call of the same window.
    #[serde(default)]
    pub msgid: i64,
}

/// One page of the chat records between two instants (Unix seconds, at most 24 h
/// apart), from cursor `msgid` (1 for the first page).
pub fn get_msg_list(
    client: &Client,
    start_s: i64,
    end_s: i64,
    msgid: i64,
    number: i64,
) -> Result<MsgRecordPage, ApiError> {
    client.post(
        "customservice/msgrecord/getmsglist",
        &json!({"starttime": start_s, "endtime": end_s, "msgid": msgid, "number": number}),
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Tag {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub count: i64,
}

/// Creates a tag and returns its id.
pub fn create_tag(client: &Client, name: &str) -> Result<i64, ApiError> {
    #[derive(Deserialize)]
    struct Created {
        tag: Tag,
    }
    let created: Created = client.post("cgi-bin/tags/create", &json!({"tag": {"name": name}}))?;
    Ok(created.tag.id)
}

/// Every tag of the account, the system ones and those made by hand included.
pub fn get_tags(client: &Client) -> Result<Vec<Tag>, ApiError> {
    #[derive(Deserialize)]
    struct Tags {
        #[serde(default)]
        tags: Vec<Tag>,
    }
    let tags: Tags = client.get("cgi-bin/tags/get")?;
    Ok(tags.tags)
}

/// Which way a membership call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Membership {
    Tag,
    Untag,
}

impl Membership {
    pub fn api(self) -> &'static str {
        match self {
            Membership::Tag => "cgi-bin/tags/members/batchtagging",
            Membership::Untag => "cgi-bin/tags/members/batchuntagging",
        }
    }

    /// The name in the push log and the plan.
    pub fn as_str(self) -> &'static str {
        match self {
            Membership::Tag => "batchtagging",
            Membership::Untag => "batchuntagging",
        }
    }
}

/// Tags or untags up to 50 users. WeChat fails the whole call for one bad user.
pub fn change_members(
    client: &Client,
    membership: Membership,
    tag_id: i64,
    openids: &[String],
) -> Result<(), ApiError> {
    let _: serde_json::Value = client.post(
        membership.api(),
        &json!({"openid_list": openids, "tagid": tag_id}),
    )?;
    Ok(())
}
