//! On-disk form of one spooled event: a version byte, then fixed fields, then length-prefixed strings.
//! Hand-rolled (no serde format on the hot path, nothing to negotiate): a record that does not parse is
//! quarantined, never trusted.

use crate::pipeline::{Envelope, EventId, Origin, Rendered};

const VERSION: u8 = 1;
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: u128,
    pub accepted_unix_ms: u64,
    pub event_type: String,
    pub browser_id: String,
    pub user_agent: Option<String>,
    /// The request body exactly as it will be sent.
    pub body: Vec<u8>,
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 16 + 8 + 16 + self.event_type.len() + self.browser_id.len() + self.body.len() + self.user_agent.as_ref().map_or(0, |u| u.len()));
        out.push(VERSION);
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.accepted_unix_ms.to_le_bytes());
        put(&mut out, Some(self.event_type.as_bytes()));
        put(&mut out, Some(self.browser_id.as_bytes()));
        put(&mut out, self.user_agent.as_deref().map(str::as_bytes));
        put(&mut out, Some(&self.body));
        out
    }

    pub fn decode(mut b: &[u8]) -> Option<Record> {
        if take(&mut b, 1)?[0] != VERSION {
            return None;
        }
        let id = u128::from_le_bytes(take(&mut b, 16)?.try_into().ok()?);
        let accepted_unix_ms = u64::from_le_bytes(take(&mut b, 8)?.try_into().ok()?);
        let event_type = String::from_utf8(get(&mut b)??.to_vec()).ok()?;
        let browser_id = String::from_utf8(get(&mut b)??.to_vec()).ok()?;
        let user_agent = match get(&mut b)? {
            Some(u) => Some(String::from_utf8(u.to_vec()).ok()?),
            None => None,
        };
        let body = get(&mut b)??.to_vec();
        if !b.is_empty() {
            return None;
        }
        Some(Record { id, accepted_unix_ms, event_type, browser_id, user_agent, body })
    }

    pub fn into_envelope(self, origin: Origin) -> Envelope {
        let r = Rendered { body: self.body.into(), event_type: self.event_type, browser_id: self.browser_id };
        Envelope::replay(r, self.user_agent, EventId(self.id), self.accepted_unix_ms, origin)
    }
}

fn put(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(v) => {
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v);
        }
        None => out.extend_from_slice(&NONE.to_le_bytes()),
    }
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if b.len() < n {
        return None;
    }
    let (h, t) = b.split_at(n);
    *b = t;
    Some(h)
}

/// `None` = truncated; `Some(None)` = an absent optional field.
fn get<'a>(b: &mut &'a [u8]) -> Option<Option<&'a [u8]>> {
    let n = u32::from_le_bytes(take(b, 4)?.try_into().ok()?);
    if n == NONE {
        return Some(None);
    }
    take(b, n as usize).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let r = Record {
            id: 0x1234_5678_9abc_def0_1122_3344_5566_7788,
            accepted_unix_ms: 1_700_000_000_000,
            event_type: "VIEW".into(),
            browser_id: "b-1".into(),
            user_agent: None,
            body: br#"{"type":"VIEW"}"#.to_vec(),
        };
        let e = r.encode();
        assert_eq!(Record::decode(&e), Some(r.clone()));
        let with_ua = Record { user_agent: Some("Mozilla/5.0".into()), ..r };
        assert_eq!(Record::decode(&with_ua.encode()), Some(with_ua));
        for cut in 0..e.len() {
            assert_eq!(Record::decode(&e[..cut]), None, "cut at {cut}");
        }
        let mut bad = e.clone();
        bad[0] = 9;
        assert_eq!(Record::decode(&bad), None);
    }
}
