using System;
using System.Collections.Generic;
using System.Globalization;
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

        private readonly List<KeyValuePair<string, string>> _native = new List<KeyValuePair<string, string>>();

        /// <summary>
        /// Passes one native setting through by its native name (the names and rules belong to the native parser,
        /// which rejects an unknown name with status 21 and a bad value with 22, naming the setting, never the value).
        /// The text is converted to the setting's JSON type as the native schema gives it (<c>xmcdp_settings_schema</c>);
        /// text that is not of that type fails <c>ToJson</c> with an ArgumentException naming the setting. It replaces
        /// the typed property of the same name.
        /// </summary>
        public CdpSettings SetNative(string name, string value)
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException("A native setting needs a name.");
            _native.RemoveAll(kv => kv.Key == name);
            if (value != null) _native.Add(new KeyValuePair<string, string>(name, value));
            return this;
        }

        /// <summary>The value passed through under a native name, or null.</summary>
        public string GetNative(string name)
        {
            foreach (var kv in _native)
                if (kv.Key == name) return kv.Value;
            return null;
        }

        /// <summary>The names passed through with <see cref="SetNative"/>, in order.</summary>
        public IEnumerable<string> NativeNames
        {
            get
            {
                foreach (var kv in _native) yield return kv.Key;
            }
        }

        internal string ToJson()
        {
            if (string.IsNullOrEmpty(ClientKey) && GetNative("clientKey") == null) throw new ArgumentException("ClientKey is required.");
            var w = new PassThroughWriter(this);
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
            if (AllowInsecureHttp && GetNative("allowInsecureHttp") == null) w.Inner.Name("allowInsecureHttp").Bool(true);
            foreach (var kv in _native)
            {
                w.Inner.Name(kv.Key);
                SettingsSchema.Write(w.Inner, kv.Key, kv.Value);
            }
            return w.Inner.EndObject().ToString();
        }

        private static void Int(PassThroughWriter w, string name, int? value)
        {
            if (value.HasValue && w.Owner.GetNative(name) == null) w.Inner.Name(name).Number(value.Value);
        }

        /// <summary>Writes the typed properties except those a pass-through value replaces.</summary>
        private sealed class PassThroughWriter
        {
            public PassThroughWriter(CdpSettings owner)
            {
                Owner = owner;
                Inner = new JsonWriter().StartObject();
            }

            public CdpSettings Owner { get; }
            public JsonWriter Inner { get; }

            public void Property(string name, string value)
            {
                if (Owner.GetNative(name) == null) Inner.Property(name, value);
            }
        }

        public override string ToString()
        {
            var spool = GetNative("spoolDirectory");
            return "CdpSettings(client_key=" + (ClientKey ?? GetNative("clientKey")) + ", pos=" + (PointOfSale ?? GetNative("pointOfSale"))
                + ", target=" + (TargetUrl ?? EdgeUrl ?? GetNative("targetUrl") ?? GetNative("edgeUrl"))
                + ", api_token=" + (string.IsNullOrEmpty(ApiToken) && GetNative("apiToken") == null ? "none" : "set")
                + ", spool=" + (string.IsNullOrEmpty(spool) ? "off" : spool) + ")";
        }
    }
}
