//! The JSON type of every setting, for hosts that hold settings as text (a Sitecore `<site>` attribute, an
//! appSetting) and must build the JSON document the parser accepts. One table, next to the parser and checked
//! against it by tests, so a host never guesses a type from the text: an all-digit `clientKey` stays a string.

/// The JSON type a setting is given as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingType {
    String,
    /// A whole, non-negative number.
    Integer,
    Boolean,
    /// A whole number, or an object of whole numbers (`decisionCacheTtlMs`).
    IntegerOrObject,
}

impl SettingType {
    pub fn name(self) -> &'static str {
        match self {
            SettingType::String => "string",
            SettingType::Integer => "integer",
            SettingType::Boolean => "boolean",
            SettingType::IntegerOrObject => "integerOrObject",
        }
    }
}

use SettingType::{Boolean as B, Integer as I, IntegerOrObject as IO, String as S};

/// Every key of [`super::KEYS`], in the same order, with its type.
pub const SCHEMA: &[(&str, SettingType)] = &[
    ("clientKey", S),
    ("targetUrl", S),
    ("edgeUrl", S),
    ("contextId", S),
    ("siteName", S),
    ("pointOfSale", S),
    ("channel", S),
    ("currency", S),
    ("language", S),
    ("cookieName", S),
    ("legacyCookieName", S),
    ("cookieDomain", S),
    ("cookieExpiryDays", I),
    ("connectTimeoutMs", I),
    ("requestTimeoutMs", I),
    ("poolIdleTimeoutMs", I),
    ("queueCapacity", I),
    ("queueMaxBytes", I),
    ("overflowPolicy", S),
    ("deliveryConcurrency", I),
    ("retryMaxAttempts", I),
    ("retryBaseMs", I),
    ("retryMaxBackoffMs", I),
    ("retryAfterCapMs", I),
    ("forwardUserAgent", B),
    ("proxy", S),
    ("allowInsecureHttp", B),
    ("workerThreads", I),
    ("workerThreadsBatch", B),
    ("apiToken", S),
    ("decisionTimeoutMs", I),
    ("decisionCacheTtlMs", IO),
    ("decisionCacheMaxEntries", I),
    ("decisionTicketTtlMs", I),
    ("decisionMaxTickets", I),
    ("breakerFailureThreshold", I),
    ("breakerCooldownMs", I),
    ("browserIdPoolSize", I),
    ("browserCreateTimeoutMs", I),
    ("guestApiUrl", S),
    ("guestApiTimeoutMs", I),
    ("spoolDirectory", S),
    ("spoolMaxBytes", I),
    ("spoolCommitIntervalMs", I),
    ("spoolCommitMaxEvents", I),
    ("durability", S),
];

/// The table as a JSON object, `{"clientKey":"string","queueCapacity":"integer",...}`, in table order.
pub fn schema_json() -> String {
    let mut map = serde_json::Map::new();
    for (key, ty) in SCHEMA {
        map.insert((*key).to_owned(), serde_json::Value::String(ty.name().to_owned()));
    }
    serde_json::Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_lists_the_parser_keys_in_order() {
        let keys: Vec<&str> = super::super::KEYS.iter().map(|k| k.0).collect();
        let typed: Vec<&str> = SCHEMA.iter().map(|k| k.0).collect();
        assert_eq!(keys, typed);
    }
}
