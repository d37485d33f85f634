//! The fields of an event, borrowed (`Base`, `ViewFields`): what validation and the body renderer read,
//! whichever way the event holds its strings — owned (`EventCommon`, `PageView`) or packed in one allocation
//! (`PackedView`, the C ABI's page view).

use super::event::{EventCommon, PageView};

/// The fields of [`EventCommon`], borrowed: what validation and the body renderer read, whichever way
/// the event holds its strings (owned, or packed in one buffer by [`PackedView`](super::PackedView)).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Base<'a> {
    pub browser_id: &'a str,
    pub channel: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub language: Option<&'a str>,
    pub page: Option<&'a str>,
    pub point_of_sale: Option<&'a str>,
}

impl EventCommon {
    pub fn base(&self) -> Base<'_> {
        Base {
            browser_id: &self.browser_id,
            channel: self.channel.as_deref(),
            currency: self.currency.as_deref(),
            language: self.language.as_deref(),
            page: self.page.as_deref(),
            point_of_sale: self.point_of_sale.as_deref(),
        }
    }
}

/// The string fields of a VIEW, borrowed (see [`Base`]); `ext` travels next to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewFields<'a> {
    pub base: Base<'a>,
    pub url: Option<&'a str>,
    pub include_utm: bool,
    pub referrer: Option<&'a str>,
    pub page_variant_id: Option<&'a str>,
}

impl Default for ViewFields<'_> {
    fn default() -> Self {
        ViewFields { base: Base::default(), url: None, include_utm: true, referrer: None, page_variant_id: None }
    }
}

impl PageView {
    pub fn fields(&self) -> ViewFields<'_> {
        ViewFields {
            base: self.common.base(),
            url: self.url.as_deref(),
            include_utm: self.include_utm,
            referrer: self.referrer.as_deref(),
            page_variant_id: self.page_variant_id.as_deref(),
        }
    }
}

