//! What travels through the pipeline: an accepted event with its stable id, origin and size (`Envelope`), and
//! the body renderer shared with the spool.

use super::*;
use crate::model::PackedView;
use std::sync::atomic::AtomicI64;

/// Stable id of one accepted event (128 bits, printed like a UUID v4). Random per process, then a counter:
/// unique without a syscall on the request thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventId(pub u128);

impl EventId {
    pub fn next() -> EventId {
        static SEED: once_cell::sync::Lazy<(u64, u64)> = once_cell::sync::Lazy::new(|| {
            use std::hash::{BuildHasher, Hasher};
            // RandomState is keyed from the OS random source once per process.
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(std::process::id());
            h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos());
            let a = h.finish();
            h.write_u64(a);
            (a, h.finish())
        });
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let c = COUNTER.fetch_add(1, Relaxed);
        let hi = mix(SEED.0 ^ c);
        let lo = mix(SEED.1.wrapping_add(c));
        let v = ((hi as u128) << 64) | lo as u128;
        // Version 4, variant 10: reads as a UUID to any tool that checks.
        let v = (v & !(0xF_u128 << 76)) | (0x4_u128 << 76);
        let v = (v & !(0x3_u128 << 62)) | (0x2_u128 << 62);
        EventId(v)
    }

    pub fn to_header(self) -> String {
        let h = format!("{:032x}", self.0);
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn unix_ms_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The wall clock derived from the monotonic one, so accepting an event reads one clock, not two.
struct WallClock {
    base: Instant,
    /// Unix ms minus ms since `base`, as last read.
    offset_ms: AtomicI64,
    /// Ms since `base` of that reading.
    read_at_ms: AtomicU64,
}

static WALL: once_cell::sync::Lazy<WallClock> = once_cell::sync::Lazy::new(|| {
    let base = Instant::now();
    WallClock { base, offset_ms: AtomicI64::new(unix_ms_now() as i64), read_at_ms: AtomicU64::new(0) }
});

/// The wall-clock time (Unix ms) at `t`, a recent `Instant`. The offset between the two clocks is read
/// again once a second of activity has passed, so a step of the wall clock (NTP, a resumed VM) shows up
/// in the timestamps within a second; the figure only dates events (spool statistics, records).
pub fn unix_ms_at(t: Instant) -> u64 {
    let w = &*WALL;
    let since = t.saturating_duration_since(w.base).as_millis() as u64;
    if since.saturating_sub(w.read_at_ms.load(Relaxed)) >= 1000 {
        let now = Instant::now();
        let wall = unix_ms_now() as i64;
        let now_since = now.saturating_duration_since(w.base).as_millis() as i64;
        w.offset_ms.store(wall - now_since, Relaxed);
        w.read_at_ms.store(now_since as u64, Relaxed);
    }
    (w.offset_ms.load(Relaxed) + since as i64).max(0) as u64
}

/// An event body rendered before it was spooled; replayed as is (byte for byte what would have been sent).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: bytes::Bytes,
    pub event_type: String,
    pub browser_id: String,
}

#[derive(Debug)]
pub enum Payload {
    Event(Queued),
    Rendered(Rendered),
}

/// An accepted event as the queue holds it. Envelopes sit inline in the lanes' deques and are moved on the
/// request thread, so the payload is kept small: the C ABI's packed page view inline (its strings are in one
/// allocation already), any other event boxed (an IDENTITY is over 500 bytes; those come through the Rust API,
/// which allocates per field anyway).
#[derive(Debug, Clone)]
pub enum Queued {
    View(PackedView),
    Boxed(Box<Event>),
}

impl Queued {
    pub fn new(event: Event) -> Queued {
        match event {
            Event::PackedView(v) => Queued::View(v),
            e => Queued::Boxed(Box::new(e)),
        }
    }

    pub fn browser_id(&self) -> &str {
        match self {
            Queued::View(v) => v.browser_id(),
            Queued::Boxed(e) => e.browser_id(),
        }
    }

    pub fn event_type(&self) -> &str {
        match self {
            Queued::View(_) => "VIEW",
            Queued::Boxed(e) => e.event_type(),
        }
    }

    /// Memory charged against `queueMaxBytes`, beyond the envelope's own slot.
    fn approx_bytes(&self) -> usize {
        match self {
            Queued::View(v) => v.approx_bytes(),
            // `approx_bytes` counts the event's own size; boxed, that is an allocation of its own.
            Queued::Boxed(e) => e.approx_bytes() - std::mem::size_of::<Event>() + crate::model::footprint::alloc(std::mem::size_of::<Event>()),
        }
    }

    pub fn to_body(&self, ctx: &BodyContext) -> Vec<u8> {
        match self {
            Queued::View(v) => v.to_body(ctx),
            Queued::Boxed(e) => e.to_body(ctx),
        }
    }
}

/// Where a replayed event comes from: its spool key and the replay epoch it was issued in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    pub key: u64,
    pub epoch: u64,
}

/// What one queued envelope costs in its lane's `VecDeque` (envelopes live inline, `Event` included): a
/// deque grows by doubling and keeps its capacity, so up to two slots per envelope.
const ENVELOPE_SLOT: usize = 2 * std::mem::size_of::<Envelope>();

/// One accepted event and what travels with it outside the body.
#[derive(Debug)]
pub struct Envelope {
    pub payload: Payload,
    /// The visitor's user agent, unless the payload carries it (a packed page view does): read
    /// [`Envelope::user_agent`].
    pub ua: Option<String>,
    pub enqueued_at: Instant,
    /// Wall-clock time of first acceptance (kept across spooling and replay).
    pub accepted_unix_ms: u64,
    pub id: EventId,
    /// Set when the event is a replay from the spool.
    pub origin: Option<Origin>,
    /// Memory charged against `queueMaxBytes`.
    pub bytes: usize,
}

impl Envelope {
    pub fn new(event: Event, user_agent: Option<String>) -> Envelope {
        Envelope::queued(Queued::new(event), user_agent)
    }

    /// [`Envelope::new`] for the C ABI's page view, without passing through an `Event` (552 bytes to move).
    pub fn packed_view(view: PackedView) -> Envelope {
        Envelope::queued(Queued::View(view), None)
    }

    #[inline]
    fn queued(event: Queued, user_agent: Option<String>) -> Envelope {
        let bytes = ENVELOPE_SLOT + event.approx_bytes() + user_agent.as_ref().map_or(0, |u| crate::model::footprint::alloc(u.capacity()));
        let now = Instant::now();
        Envelope {
            payload: Payload::Event(event),
            ua: user_agent,
            enqueued_at: now,
            accepted_unix_ms: unix_ms_at(now),
            id: EventId::next(),
            origin: None,
            bytes,
        }
    }

    /// A pre-rendered event coming back from the spool.
    pub fn replay(r: Rendered, user_agent: Option<String>, id: EventId, accepted_unix_ms: u64, origin: Origin) -> Envelope {
        let bytes = ENVELOPE_SLOT
            + r.body.len()
            + r.event_type.len()
            + r.browser_id.len()
            + user_agent.as_ref().map_or(0, |u| u.len());
        Envelope { payload: Payload::Rendered(r), ua: user_agent, enqueued_at: Instant::now(), accepted_unix_ms, id, origin: Some(origin), bytes }
    }

    /// The visitor's user agent, to forward.
    pub fn user_agent(&self) -> Option<&str> {
        match &self.payload {
            Payload::Event(Queued::View(v)) => v.user_agent().or(self.ua.as_deref()),
            _ => self.ua.as_deref(),
        }
    }

    pub fn browser_id(&self) -> &str {
        match &self.payload {
            Payload::Event(e) => e.browser_id(),
            Payload::Rendered(r) => &r.browser_id,
        }
    }

    pub fn event_type(&self) -> &str {
        match &self.payload {
            Payload::Event(e) => e.event_type(),
            Payload::Rendered(r) => &r.event_type,
        }
    }
}

/// Builds request bodies (owned values of the body context). Shared with the spool, which renders events
/// on its writer thread, never on a request thread.
#[derive(Clone, Debug)]
pub struct BodyRenderer {
    client_key: String,
    point_of_sale: String,
    wire: Wire,
    channel: String,
    currency: Option<String>,
    language: Option<String>,
}

impl BodyRenderer {
    pub fn new(settings: &Settings) -> BodyRenderer {
        let wire = match settings.endpoint {
            crate::config::Endpoint::Classic { .. } => Wire::Classic,
            crate::config::Endpoint::Edge { .. } => Wire::Edge,
        };
        BodyRenderer {
            client_key: settings.client_key.clone(),
            point_of_sale: settings.point_of_sale.clone(),
            wire,
            channel: settings.channel.clone(),
            currency: settings.currency.clone(),
            language: settings.language.clone(),
        }
    }

    /// Renders the body now. Edge bodies carry `requested_at`, which is therefore the render time: for a
    /// spooled event, the time it was written to the spool, not the time it is finally delivered.
    pub fn render(&self, event: &Queued) -> Vec<u8> {
        let requested_at = match self.wire {
            Wire::Edge => Some(utc_now_iso8601()),
            Wire::Classic => None,
        };
        let ctx = BodyContext {
            client_key: &self.client_key,
            point_of_sale: &self.point_of_sale,
            wire: self.wire,
            requested_at: requested_at.as_deref(),
            defaults: Defaults { channel: Some(&self.channel), currency: self.currency.as_deref(), language: self.language.as_deref() },
        };
        event.to_body(&ctx)
    }

    pub fn to_rendered(&self, env: &Envelope) -> Rendered {
        match &env.payload {
            Payload::Event(e) => Rendered { body: self.render(e).into(), event_type: e.event_type().to_owned(), browser_id: e.browser_id().to_owned() },
            Payload::Rendered(r) => r.clone(),
        }
    }
}
