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
            if (AllowInsecureHttp) w.Name("allowInsecureHttp").Bool(true);
            return w.EndObject().ToString();
        }

        public override string ToString()
        {
            return "CdpSettings(client_key=" + ClientKey + ", pos=" + PointOfSale + ", target=" + (TargetUrl ?? EdgeUrl)
                + ", api_token=" + (string.IsNullOrEmpty(ApiToken) ? "none" : "set") + ")";
        }
    }
}
