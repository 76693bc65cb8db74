//! `POST customservice/msgrecord/getmsglist` (§3).

use serde_json::{json, Value};

use super::account::{Account, Outcome};

/// `number` per call: at most 10000.
pub const MAX_NUMBER: i64 = 10_000;
/// `endtime - starttime`: at most 24 hours.
pub const MAX_SPAN_S: i64 = 86_400;

impl Account {
    /// Records with `starttime <= time <= endtime` and `msgid >= request msgid`, by msgid,
    /// at most `number`; the answer's `msgid` is the last one returned + 1.
    pub fn getmsglist(&self, body: &Value) -> Outcome {
        let field = |name: &str| body.get(name).and_then(Value::as_i64).ok_or(65416);
        let start = field("starttime")?;
        let end = field("endtime")?;
        let msgid = field("msgid")?;
        let number = field("number")?;
        if !(1..=MAX_NUMBER).contains(&number) || msgid < 1 || start < 0 || end < start {
            return Err(65416);
        }
        if end - start > MAX_SPAN_S {
            return Err(65417);
        }
        let from = self.records.partition_point(|(id, _)| *id < msgid);
        let page: Vec<&(i64, super::Record)> = self.records[from..]
            .iter()
            .filter(|(_, record)| start <= record.time && record.time <= end)
            .take(number as usize)
            .collect();
        let Some((last, _)) = page.last() else {
            return Ok(json!({"recordlist": [], "number": 0, "msgid": 0}));
        };
        let next = last + 1;
        let recordlist: Vec<Value> = page
            .iter()
            .map(|(_, record)| {
                json!({
                    "openid": record.openid,
                    "opercode": record.opercode,
                    "text": record.text,
                    "time": record.time,
                    "worker": record.worker,
                })
            })
            .collect();
        Ok(json!({"recordlist": recordlist, "number": page.len(), "msgid": next}))
    }
}
