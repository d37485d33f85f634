using System;
using XmCdp.Json;

namespace XmCdp
{
    /// <summary>
    /// Settings for one native client (one site or tenant). Serialized to the camelCase JSON that
    /// <c>xmcdp_client_new</c> parses and validates; validation errors come back as status 20-24.
    /// </summary>
    public sealed class CdpSettings
    {
        /// <summary>The CDP client key (public; also names the browser id cookie).</summary>
        public string ClientKey { get; set; }
        /// <summary>Default point of sale, e.g. <c>myretailsite/ireland</c>.</summary>
        public string PointOfSale { get; set; }
        public string Channel { get; set; } = "WEB";
        public string Currency { get; set; }
        /// <summary>Base URL of the Stream API (or the emulator), e.g. <c>https://api-engage-eu.sitecorecloud.io</c>.</summary>
        public string TargetUrl { get; set; }
        /// <summary>Edge mode (instead of <see cref="TargetUrl"/>): the Sitecore Edge proxy base URL.</summary>
        public string EdgeUrl { get; set; }
        /// <summary>Edge mode: the Sitecore Edge context id that identifies the tenant.</summary>
        public string ContextId { get; set; }
        /// <summary>Edge mode: the site name sent as siteId (the proxy derives the point of sale from it).</summary>
        public string EdgeSiteName { get; set; }
        /// <summary>API token for the authenticated REST APIs. Secret: never logged, never in <see cref="ToString"/>.</summary>
        public string ApiToken { get; set; }
        /// <summary>Browser id cookie name; native default <c>bid_{clientKey}</c>.</summary>
        public string CookieName { get; set; }
        /// <summary>Domain attribute of the browser id cookie (e.g. <c>.example.com</c> to share it across subdomains).</summary>
        public string CookieDomain { get; set; }
        /// <summary>Cookie lifetime in days (native default 730).</summary>
        public int? CookieExpiryDays { get; set; }
        /// <summary>Default decision budget and bound of a prefetch's HTTP call (native default 400 ms).</summary>
        public int? DecisionTimeoutMs { get; set; }
        /// <summary>Consecutive decision failures that open the circuit breaker (native default 5).</summary>
        public int? BreakerFailureThreshold { get; set; }
        /// <summary>How long an open breaker fails fast before one probe (native default 5000 ms).</summary>
        public int? BreakerCooldownMs { get; set; }
        /// <summary>Browser ids created ahead of time for first visits (native default 0: created on demand).</summary>
        public int? BrowserIdPoolSize { get; set; }
        /// <summary>Budget of a blocking browser id create (native default 1000 ms).</summary>
        public int? BrowserCreateTimeoutMs { get; set; }
        /// <summary>Guest REST base URL (default: <see cref="TargetUrl"/>); https:// except loopback.</summary>
        public string GuestApiUrl { get; set; }
        /// <summary>Guest REST request timeout (native default 5000 ms).</summary>
        public int? GuestApiTimeoutMs { get; set; }
        /// <summary>Allow plain http:// to a non-loopback host (never in production).</summary>
        public bool AllowInsecureHttp { get; set; }

        internal string ToJson()
        {
            if (string.IsNullOrEmpty(ClientKey)) throw new ArgumentException("ClientKey is required.");
            var w = new JsonWriter().StartObject();
            w.Property("clientKey", ClientKey);
            w.Property("pointOfSale", PointOfSale);
            w.Property("channel", Channel);
            w.Property("currency", Currency);
            w.Property("targetUrl", TargetUrl);
            w.Property("edgeUrl", EdgeUrl);
            w.Property("contextId", ContextId);
            w.Property("siteName", EdgeSiteName);
            w.Property("apiToken", ApiToken);
            w.Property("cookieName", CookieName);
            w.Property("cookieDomain", CookieDomain);
            Int(w, "cookieExpiryDays", CookieExpiryDays);
            Int(w, "decisionTimeoutMs", DecisionTimeoutMs);
            Int(w, "breakerFailureThreshold", BreakerFailureThreshold);
            Int(w, "breakerCooldownMs", BreakerCooldownMs);
            Int(w, "browserIdPoolSize", BrowserIdPoolSize);
            Int(w, "browserCreateTimeoutMs", BrowserCreateTimeoutMs);
            w.Property("guestApiUrl", GuestApiUrl);
            Int(w, "guestApiTimeoutMs", GuestApiTimeoutMs);
            if (AllowInsecureHttp) w.Name("allowInsecureHttp").Bool(true);
            return w.EndObject().ToString();
        }

        private static void Int(JsonWriter w, string name, int? value)
        {
            if (value.HasValue) w.Name(name).Number(value.Value);
        }

        public override string ToString()
        {
            return "CdpSettings(client_key=" + ClientKey + ", pos=" + PointOfSale + ", target=" + (TargetUrl ?? EdgeUrl)
                + ", api_token=" + (string.IsNullOrEmpty(ApiToken) ? "none" : "set") + ")";
        }
    }
}
