//! A VIEW packed for the queue: every string the event keeps, and the visitor's user agent, in one
//! allocation. The C ABI's page view validates the caller's borrowed strings where they are and then
//! copies them here once, so an accepted page view costs one allocation (plus the parsed `ext`, when the
//! caller sends one) instead of one `String` per field. It renders through the same code as [`PageView`],
//! so the body is the same bytes.

use super::event::{validate_view, Base, EventCommon, PageView, ViewFields};
use super::event_body::view_json;
use super::BodyContext;
use super::flatten::Ext;
use crate::error::{err, Error, ErrorKind};

const BROWSER_ID: usize = 0;
const CHANNEL: usize = 1;
const CURRENCY: usize = 2;
const LANGUAGE: usize = 3;
const PAGE: usize = 4;
const POINT_OF_SALE: usize = 5;
const URL: usize = 6;
const REFERRER: usize = 7;
const PAGE_VARIANT_ID: usize = 8;
const USER_AGENT: usize = 9;
const FIELDS: usize = 10;

#[derive(Clone, Debug, PartialEq)]
pub struct PackedView {
    /// The fields back to back, in slot order.
    buf: Box<str>,
    /// Where each field ends in `buf`; it starts where the previous one ends.
    ends: [u32; FIELDS],
    /// Bit `i`: field `i` is present. Absent and empty differ on the wire (`referrer` is sent when `""`).
    present: u16,
    include_utm: bool,
    ext: Ext,
}

impl PackedView {
    /// Checks `view` with exactly the rules (and messages, in the same order) that [`super::Event::validate`]
    /// applies to a [`PageView`], then copies it. `user_agent` is not validated: it is only forwarded, as
    /// a header value that `reqwest` checks again.
    pub fn new(view: ViewFields<'_>, ext: Ext, user_agent: Option<&str>) -> Result<PackedView, Error> {
        validate_view(&view)?;
        let b = view.base;
        let fields: [Option<&str>; FIELDS] = [
            Some(b.browser_id),
            b.channel,
            b.currency,
            b.language,
            b.page,
            b.point_of_sale,
            view.url,
            view.referrer,
            view.page_variant_id,
            user_agent,
        ];
        let total: usize = fields.iter().map(|f| f.map_or(0, str::len)).sum();
        // Validated fields are a few KiB at most; only an unbounded user agent could get here.
        if u32::try_from(total).is_err() {
            return Err(err(ErrorKind::TooLarge, "The page view is larger than 4 GiB."));
        }
        // Exact capacity: `into_boxed_str` then keeps the allocation instead of shrinking into a new one.
        let mut buf = String::with_capacity(total);
        let mut ends = [0u32; FIELDS];
        let mut present = 0u16;
        for (i, f) in fields.iter().enumerate() {
            if let Some(f) = f {
                buf.push_str(f);
                present |= 1 << i;
            }
            ends[i] = buf.len() as u32;
        }
        Ok(PackedView { buf: buf.into_boxed_str(), ends, present, include_utm: view.include_utm, ext })
    }

    fn get(&self, i: usize) -> Option<&str> {
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        // Offsets were taken at `push_str` boundaries, so they are char boundaries.
        self.buf.get(start..self.ends[i] as usize)
    }

    pub fn fields(&self) -> ViewFields<'_> {
        ViewFields {
            base: Base {
                browser_id: self.browser_id(),
                channel: self.get(CHANNEL),
                currency: self.get(CURRENCY),
                language: self.get(LANGUAGE),
                page: self.get(PAGE),
                point_of_sale: self.get(POINT_OF_SALE),
            },
            url: self.get(URL),
            include_utm: self.include_utm,
            referrer: self.get(REFERRER),
            page_variant_id: self.get(PAGE_VARIANT_ID),
        }
    }

    pub fn browser_id(&self) -> &str {
        self.get(BROWSER_ID).unwrap_or("")
    }

    pub fn user_agent(&self) -> Option<&str> {
        self.get(USER_AGENT)
    }

    pub fn ext(&self) -> &Ext {
        &self.ext
    }

    /// Heap held (for `queueMaxBytes`): the one buffer and the parsed `ext`.
    pub fn approx_bytes(&self) -> usize {
        super::footprint::alloc(self.buf.len()) + self.ext.approx_bytes()
    }

    /// The body, as `Event::to_body` renders the same [`PageView`].
    pub fn to_body(&self, ctx: &BodyContext) -> Vec<u8> {
        serde_json::to_vec(&serde_json::Value::Object(view_json(&self.fields(), &self.ext, ctx))).unwrap_or_default()
    }

    /// The same event with owned fields (the user agent is not part of a [`PageView`]).
    pub fn to_page_view(&self) -> PageView {
        let f = self.fields();
        let own = |s: Option<&str>| s.map(str::to_owned);
        PageView {
            common: EventCommon {
                browser_id: f.base.browser_id.to_owned(),
                channel: own(f.base.channel),
                currency: own(f.base.currency),
                language: own(f.base.language),
                page: own(f.base.page),
                point_of_sale: own(f.base.point_of_sale),
            },
            url: own(f.url),
            include_utm: f.include_utm,
            referrer: own(f.referrer),
            page_variant_id: own(f.page_variant_id),
            ext: self.ext.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Event;

    fn fields<'a>() -> ViewFields<'a> {
        ViewFields {
            base: Base {
                browser_id: "a38b230c-11eb-4cf9-8d5d-274e9f344925",
                channel: Some("WEB"),
                currency: None,
                language: Some(""),
                page: Some("home page ✓"),
                point_of_sale: None,
            },
            url: Some("/p?utm_source=x&variantid=v1"),
            include_utm: true,
            referrer: Some(""),
            page_variant_id: None,
        }
    }

    #[test]
    fn round_trips_absent_empty_and_non_ascii_fields() {
        let p = PackedView::new(fields(), Ext::default(), Some("Mozilla/5.0")).unwrap();
        assert_eq!(p.fields(), fields());
        assert_eq!(p.user_agent(), Some("Mozilla/5.0"));
        let bare = PackedView::new(ViewFields::default(), Ext::default(), None).unwrap();
        assert_eq!(bare.fields(), ViewFields::default());
        assert_eq!(bare.user_agent(), None);
        assert_eq!(bare.browser_id(), "");
    }

    #[test]
    fn renders_and_validates_like_the_owned_page_view() {
        let ext = Ext::from_json(br#"{"a":{"b":1},"pageVariantId":"e"}"#).unwrap();
        let p = PackedView::new(fields(), ext, None).unwrap();
        let owned = Event::View(p.to_page_view());
        for ctx in [BodyContext::classic("ck", "pos"), BodyContext::edge(Some("2026-01-01T00:00:00.000Z"))] {
            assert_eq!(Event::PackedView(p.clone()).to_body(&ctx), owned.to_body(&ctx));
            assert_eq!(p.to_body(&ctx), owned.to_body(&ctx));
        }
        for bad in [
            ViewFields { base: Base { browser_id: "a b", ..fields().base }, ..fields() },
            ViewFields { base: Base { point_of_sale: Some("  "), ..fields().base }, ..fields() },
            ViewFields { url: Some("/\n"), ..fields() },
        ] {
            let e = PackedView::new(bad, Ext::default(), None).unwrap_err();
            let owned = PageView { ext: Ext::default(), ..p.to_page_view() };
            let owned = Event::View(PageView {
                common: EventCommon {
                    browser_id: bad.base.browser_id.into(),
                    point_of_sale: bad.base.point_of_sale.map(Into::into),
                    ..owned.common
                },
                url: bad.url.map(Into::into),
                ..owned
            });
            assert_eq!(owned.validate().unwrap_err(), e);
        }
    }
}
