using System;
using System.Collections.Generic;
using System.Globalization;

namespace XmCdp.Sitecore.Browser
{
    /// <summary>Who sends the VIEW of a page: the server (the default) or the Engage browser tag. Never both.</summary>
    public enum ViewOwner
    {
        Server,
        Browser,
    }

    /// <summary>
    /// The Engage browser tag of one tracked site, read from its <c>&lt;site&gt;</c> attributes (C#-only, never passed
    /// to the native settings): <c>browserTag</c>, <c>browserTagScriptUrl</c>, <c>browserTagIntegrity</c>,
    /// <c>browserTargetUrl</c>, <c>webPersonalization</c>, <c>viewOwner</c>. Validated once at startup so a bad value
    /// leaves the site untracked with one log line, never a broken page.
    /// </summary>
    public sealed class BrowserTagSettings
    {
        /// <summary>Sitecore's CDN copy of the Engage browser bundle (Engage 1.4.3, the version the payloads are checked against).</summary>
        public const string DefaultScriptUrl = "https://d1mj578wat5n4o.cloudfront.net/sitecore-engage-v.1.4.3.min.js";

        internal static readonly string[] AttributeNames =
        {
            "browserTag", "browserTagInject", "browserTagScriptUrl", "browserTagIntegrity", "browserTargetUrl", "webPersonalization", "viewOwner",
        };

        public static readonly BrowserTagSettings Off = new BrowserTagSettings();

        public bool Enabled { get; private set; }
        public string ScriptUrl { get; private set; } = DefaultScriptUrl;
        /// <summary>Subresource Integrity of the script (<c>sha384-…</c>); null = no integrity attribute.</summary>
        public string Integrity { get; private set; }
        /// <summary>The Stream API base the browser calls (default: the site's targetUrl).</summary>
        public string TargetUrl { get; private set; }
        public bool WebPersonalization { get; private set; }
        /// <summary>Write the tag into HTML responses by a response filter (for layouts that do not call the helper).</summary>
        public bool Inject { get; private set; }
        public ViewOwner ViewOwner { get; private set; } = ViewOwner.Server;
        /// <summary>The site's cookieDomain and cookieExpiryDays, so the browser SDK agrees with the server's cookie.</summary>
        public string CookieDomain { get; private set; }
        public int? CookieExpiryDays { get; private set; }

        /// <summary>True when the browser tag, not the server, sends the VIEW (only with the tag on).</summary>
        public bool BrowserOwnsView => Enabled && ViewOwner == ViewOwner.Browser;

        /// <summary>Reads the tag settings from the site's values (patch attributes with appSettings over them).</summary>
        internal static BrowserTagSettings Parse(IDictionary<string, string> values, string targetUrl, bool edgeMode)
        {
            string v;
            var s = new BrowserTagSettings();
            s.Enabled = values.TryGetValue("browserTag", out v) && Bool("browserTag", v);
            if (values.TryGetValue("browserTagInject", out v)) s.Inject = Bool("browserTagInject", v);
            if (values.TryGetValue("webPersonalization", out v)) s.WebPersonalization = Bool("webPersonalization", v);
            if (values.TryGetValue("viewOwner", out v))
            {
                if (string.Equals(v, "server", StringComparison.OrdinalIgnoreCase)) s.ViewOwner = ViewOwner.Server;
                else if (string.Equals(v, "browser", StringComparison.OrdinalIgnoreCase)) s.ViewOwner = ViewOwner.Browser;
                else throw new ArgumentException("viewOwner must be \"server\" or \"browser\".");
            }
            if (s.ViewOwner == ViewOwner.Browser && !s.Enabled)
                throw new ArgumentException("viewOwner=\"browser\" needs browserTag=\"true\" (otherwise no VIEW would be sent).");
            if (values.TryGetValue("browserTagScriptUrl", out v)) s.ScriptUrl = Url("browserTagScriptUrl", v, allowRootRelative: true);
            if (values.TryGetValue("browserTagIntegrity", out v)) s.Integrity = ParseIntegrity(v);
            s.TargetUrl = values.TryGetValue("browserTargetUrl", out v) ? Url("browserTargetUrl", v, allowRootRelative: false) : targetUrl;
            if (s.Enabled && edgeMode)
                throw new ArgumentException("browserTag needs classic mode (targetUrl); the Engage browser SDK does not speak to Edge.");
            if (values.TryGetValue("cookieDomain", out v)) s.CookieDomain = v;
            int days;
            if (values.TryGetValue("cookieExpiryDays", out v) && int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out days)) s.CookieExpiryDays = days;
            string clientKey, cookieName;
            values.TryGetValue("clientKey", out clientKey);
            if (s.Enabled && values.TryGetValue("cookieName", out cookieName) && cookieName != "bid_" + clientKey)
                throw new ArgumentException("browserTag needs the default cookieName (bid_{clientKey}): the Engage browser SDK reads only that cookie.");
            if (s.Enabled && string.IsNullOrEmpty(s.TargetUrl))
                throw new ArgumentException("browserTag needs targetUrl or browserTargetUrl.");
            return s;
        }

        private static bool Bool(string name, string value)
        {
            bool b;
            if (bool.TryParse(value, out b)) return b;
            throw new ArgumentException(name + " must be true or false.");
        }

        // Written into a src attribute and a script: only plain absolute http(s) URLs or a root-relative path.
        private static string Url(string name, string value, bool allowRootRelative)
        {
            var t = value.Trim();
            if (allowRootRelative && t.StartsWith("/", StringComparison.Ordinal) && !t.StartsWith("//", StringComparison.Ordinal))
                return t;
            Uri uri;
            if (Uri.TryCreate(t, UriKind.Absolute, out uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp))
                return t;
            throw new ArgumentException(name + " must be an absolute http(s) URL" + (allowRootRelative ? " or a path starting with /" : "") + ".");
        }

        private static string ParseIntegrity(string value)
        {
            var t = value.Trim();
            foreach (var part in t.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries))
            {
                bool algo = part.StartsWith("sha256-", StringComparison.Ordinal) || part.StartsWith("sha384-", StringComparison.Ordinal)
                    || part.StartsWith("sha512-", StringComparison.Ordinal);
                if (!algo || !IsBase64(part.Substring(7)))
                    throw new ArgumentException("browserTagIntegrity must be sha256-/sha384-/sha512- followed by base64.");
            }
            return t;
        }

        internal static bool IsBase64(string s)
        {
            if (s.Length == 0) return false;
            foreach (var c in s)
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=' || c == '-' || c == '_'))
                    return false;
            return true;
        }

        public override string ToString() => Enabled
            ? string.Format(CultureInfo.InvariantCulture, "browser tag on (script {0}, integrity {1}, web personalization {2}, VIEW by the {3})",
                ScriptUrl, Integrity != null ? "set" : "none", WebPersonalization ? "on" : "off", ViewOwner == ViewOwner.Browser ? "browser" : "server")
            : "browser tag off";
    }
}
