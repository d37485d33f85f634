using System;
using XmCdp.Json;

namespace XmCdp
{
    /// <summary>
    /// Settings for one native client (one site or tenant). Serialized to the JSON that
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
        /// <summary>API token for the authenticated REST APIs. Secret: never logged, never in <see cref="ToString"/>.</summary>
        public string ApiToken { get; set; }

        internal string ToJson()
        {
            if (string.IsNullOrEmpty(ClientKey)) throw new ArgumentException("ClientKey is required.");
            var w = new JsonWriter().StartObject();
            w.Property("client_key", ClientKey);
            w.Property("pos", PointOfSale);
            w.Property("channel", Channel);
            w.Property("currency", Currency);
            w.Property("target_url", TargetUrl);
            w.Property("api_token", ApiToken);
            return w.EndObject().ToString();
        }

        public override string ToString()
        {
            return "CdpSettings(client_key=" + ClientKey + ", pos=" + PointOfSale + ", target=" + TargetUrl
                + ", api_token=" + (string.IsNullOrEmpty(ApiToken) ? "none" : "set") + ")";
        }
    }
}
