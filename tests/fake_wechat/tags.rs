//! User tags (§5): `cgi-bin/tags/{create,get,update,delete,getidlist}`,
//! `tags/members/batch{,un}tagging` and `user/tag/get`.

use std::collections::BTreeSet;
use std::ops::Bound::{Excluded, Unbounded};

use serde_json::{json, Value};

use super::account::{ok, Account, Outcome};

/// Tags per account, the system tags 0, 1, 2 included.
pub const MAX_TAGS: usize = 100;
/// Bytes of UTF-8 in a tag name.
pub const MAX_NAME_BYTES: usize = 30;
/// Openids per batch (un)tagging call.
pub const MAX_BATCH: usize = 50;
/// Tags per user.
pub const MAX_TAGS_PER_USER: usize = 20;
/// Followers above which a tag cannot be deleted.
pub const MAX_DELETABLE_FANS: usize = 100_000;

fn is_system(id: i64) -> bool {
    (0..=2).contains(&id)
}

impl Account {
    /// 45157 empty or taken by another tag, 45158 over 30 bytes.
    fn check_name(&self, name: Option<&str>, except: Option<i64>) -> Result<String, i64> {
        let name = name.filter(|n| !n.is_empty()).ok_or(45157)?;
        if name.len() > MAX_NAME_BYTES {
            return Err(45158);
        }
        if self
            .tags
            .iter()
            .any(|(id, other)| other == name && Some(*id) != except)
        {
            return Err(45157);
        }
        Ok(name.to_owned())
    }

    pub fn create_tag(&mut self, name: &str) -> Result<i64, i64> {
        let name = self.check_name(Some(name), None)?;
        if self.tags.len() >= MAX_TAGS {
            return Err(45056);
        }
        let id = self.next_tag_id;
        self.next_tag_id += 1;
        self.tags.insert(id, name);
        self.members.insert(id, BTreeSet::new());
        Ok(id)
    }

    /// `{"tag":{"name":…}}` → `{"tag":{"id":…,"name":…}}`.
    pub fn tags_create(&mut self, body: &Value) -> Outcome {
        let name = body
            .pointer("/tag/name")
            .and_then(Value::as_str)
            .ok_or(45157)?;
        let id = self.create_tag(name)?;
        Ok(json!({"tag": {"id": id, "name": name}}))
    }

    pub fn tags_get(&self) -> Value {
        let tags: Vec<Value> = self
            .tags
            .iter()
            .map(|(id, name)| json!({"id": id, "name": name, "count": self.members[id].len()}))
            .collect();
        json!({"tags": tags})
    }

    /// A tag id of the body at `pointer`: 45159 when missing or unknown.
    fn tag_id(&self, body: &Value, pointer: &str) -> Result<i64, i64> {
        let id = body.pointer(pointer).and_then(Value::as_i64).ok_or(45159)?;
        if self.tags.contains_key(&id) {
            Ok(id)
        } else {
            Err(45159)
        }
    }

    /// The `tag.id` of an update or delete: system tags 0–2 answer 45058 (checked
    /// first, as WeChat does), unknown ones 45159.
    fn editable_tag_id(&self, body: &Value) -> Result<i64, i64> {
        let id = body
            .pointer("/tag/id")
            .and_then(Value::as_i64)
            .ok_or(45159)?;
        if is_system(id) {
            return Err(45058);
        }
        self.tag_id(body, "/tag/id")
    }

    /// `{"tag":{"id":…,"name":…}}`; renaming a tag to its own name is fine.
    pub fn tags_update(&mut self, body: &Value) -> Outcome {
        let id = self.editable_tag_id(body)?;
        let name = self.check_name(body.pointer("/tag/name").and_then(Value::as_str), Some(id))?;
        self.tags.insert(id, name);
        ok()
    }

    /// `{"tag":{"id":…}}`: the tag leaves every user.
    pub fn tags_delete(&mut self, body: &Value) -> Outcome {
        let id = self.editable_tag_id(body)?;
        if self.members[&id].len() > MAX_DELETABLE_FANS {
            return Err(45057);
        }
        for openid in self.members.remove(&id).unwrap_or_default() {
            self.untag_user(id, &openid);
        }
        self.tags.remove(&id);
        ok()
    }

    /// `{"openid_list":[…],"tagid":…}`. All or nothing: 40032 for an empty list or one over
    /// 50, 45159 for an unknown tag, 40003 / 49003 for the first openid that is not a
    /// follower / is another account's, 45059 when tagging would give a user a 21st tag.
    pub fn batch(&mut self, body: &Value, tagging: bool) -> Outcome {
        let list = body
            .get("openid_list")
            .and_then(Value::as_array)
            .ok_or(40032)?;
        if list.is_empty() || list.len() > MAX_BATCH {
            return Err(40032);
        }
        let tag = self.tag_id(body, "/tagid")?;
        let mut openids = BTreeSet::new();
        for openid in list {
            let openid = openid.as_str().ok_or(40003)?;
            self.check_openid(openid)?;
            openids.insert(openid.to_owned());
        }
        if tagging {
            let full = openids.iter().any(|openid| {
                let held = self
                    .user_tags
                    .get(openid)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                !held.contains(&tag) && held.len() >= MAX_TAGS_PER_USER
            });
            if full {
                return Err(45059);
            }
            for openid in &openids {
                self.tag_user(tag, openid);
            }
        } else {
            for openid in &openids {
                self.untag_user(tag, openid);
            }
        }
        ok()
    }

    /// `{"openid":…}` → `{"tagid_list":[…]}`.
    pub fn getidlist(&self, body: &Value) -> Outcome {
        let openid = body.get("openid").and_then(Value::as_str).ok_or(40003)?;
        self.check_openid(openid)?;
        let tags = self.user_tags.get(openid).cloned().unwrap_or_default();
        Ok(json!({"tagid_list": tags}))
    }

    /// `{"tagid":…,"next_openid":""}` → a page of the tag's followers after `next_openid`,
    /// by openid. A page names its last openid as `next_openid`; the page after the
    /// last is `{"count":0,"next_openid":""}`.
    pub fn tag_fans(&self, body: &Value) -> Outcome {
        let tag = self.tag_id(body, "/tagid")?;
        let after = body
            .get("next_openid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !after.is_empty() {
            self.check_openid(after).map_err(|_| 40003)?;
        }
        let rest = match after {
            "" => self.members[&tag].range::<str, _>(..),
            after => self.members[&tag].range::<str, _>((Excluded(after), Unbounded)),
        };
        let page: Vec<&String> = rest.take(self.config.tag_page_size.max(1)).collect();
        match page.last() {
            None => Ok(json!({"count": 0, "next_openid": ""})),
            Some(last) => {
                Ok(json!({"count": page.len(), "data": {"openid": page}, "next_openid": last}))
            }
        }
    }
}
