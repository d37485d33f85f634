using System;
using System.Collections.Generic;
using System.Configuration;
using System.Xml;
using Sitecore.Pipelines;
using XmCdp.Logging;
using XmCdp.Native;
using XmCdp.Sitecore.Browser;

namespace XmCdp.Sitecore.Pipelines.Initialize
{
    /// <summary>
    /// <c>initialize</c> processor: preloads the native library, creates one client per configured site, starts
    /// the native log pump and registers the shutdown hook. Fails open: a missing library or a bad site setting is
    /// logged once and leaves tracking off for that site; the site itself starts normally.
    /// </summary>
    public class InitializeXmCdp
    {
        private readonly List<XmlNode> _sites = new List<XmlNode>();

        /// <summary>Optional folder or full path of the native library (default: bin\x64\ on Windows).</summary>
        public string NativePath { get; set; }

        /// <summary>Total flush deadline at app-pool shutdown; keep it well under hostingEnvironment shutdownTimeout (30 s).</summary>
        public int ShutdownDeadlineMs { get; set; } = 10000;

        /// <summary>Forward native log records to the Sitecore log.</summary>
        public bool ForwardNativeLogs { get; set; } = true;

        /// <summary>Config factory hook for <c>&lt;sites hint="raw:AddSite"&gt;&lt;site .../&gt;</c>.</summary>
        public void AddSite(XmlNode node)
        {
            if (node != null && node.NodeType == XmlNodeType.Element) _sites.Add(node);
        }

        public void Process(PipelineArgs args)
        {
            try
            {
                Initialize();
            }
            catch (Exception e)
            {
                XmCdpLog.Error("initialization failed, tracking is off: " + XmCdpLog.Describe(e));
            }
        }

        protected virtual void Initialize()
        {
            if (_sites.Count == 0)
            {
                XmCdpLog.Warn("no <site> configured under the InitializeXmCdp processor; tracking is off.");
                return;
            }

            bool native = XmCdpSites.ClientFactory == XmCdpSites.DefaultFactory;
            if (native)
            {
                try
                {
                    NativeLibraryLoader.EnsureLoaded(NativePath);
                }
                catch (XmCdpException e)
                {
                    // The message lists the paths tried and the Win32 error / bitness; it holds no secrets.
                    XmCdpLog.Error("tracking is off: " + e.Message);
                    return;
                }
                XmCdpLog.Info("native library loaded from " + NativeLibraryLoader.LoadedFrom);
                if (NativeLibraryLoader.LoadWarning != null) XmCdpLog.Warn(NativeLibraryLoader.LoadWarning);
                if (ForwardNativeLogs) NativeLogPump.Start(new SitecoreLogSink());
            }

            int created = 0;
            foreach (XmlNode node in _sites)
            {
                var siteName = Attr(node, "name");
                if (string.IsNullOrEmpty(siteName))
                {
                    XmCdpLog.Error("a <site> element has no name attribute; skipped.");
                    continue;
                }
                try
                {
                    var settings = ReadSettings(siteName, node);
                    var decisions = ReadDecisions(siteName, node);
                    var posMap = Values(siteName, node);
                    var browserTag = BrowserTagSettings.Parse(posMap, settings.GetNative("targetUrl"), settings.GetNative("edgeUrl") != null);
                    var client = XmCdpSites.ClientFactory(settings);
                    string byLanguage;
                    posMap.TryGetValue("pointOfSaleByLanguage", out byLanguage);
                    SiteBinding.ParsePointOfSaleMap(byLanguage);
                    var binding = new SiteBinding(siteName, settings, client, decisions, byLanguage) { BrowserTag = browserTag };
                    ReadGuestOptions(binding, posMap);
                    XmCdpSites.Register(binding);
                    created++;
                    XmCdpLog.Info("tracking site '" + siteName + "' with " + settings + "; " + browserTag);
                    XmCdpLog.Info(DescribeSources(siteName, node));
                }
                catch (XmCdpException e)
                {
                    XmCdpLog.Error("site '" + siteName + "' is not tracked: " + Explain(e, node));
                }
                catch (ArgumentException e)
                {
                    XmCdpLog.Error("site '" + siteName + "' is not tracked: " + e.Message);
                }
            }

            if (created > 0)
            {
                XmCdpShutdown.Armed();
                if (XmCdpShutdown.Register(TimeSpan.FromMilliseconds(ShutdownDeadlineMs)))
                    XmCdpLog.Info("shutdown hook registered (flush deadline " + ShutdownDeadlineMs + " ms)");
                else
                    XmCdpLog.Warn("not running under ASP.NET: no shutdown hook; the host must call XmCdpShutdown.ShutdownAll.");
            }
        }

        /// <summary>Attributes handled here, never passed to the native settings.</summary>
        private static readonly string[] CSharpOnly =
            { "name", "prefetchFlows", "prefetchPaths", "apiTokenAppSetting", "pointOfSaleByLanguage", "guestIdentifierProvider", "prefetchGuest" };

        /// <summary>guestIdentifierProvider / prefetchGuest of a site (CdpContext.Guest); a bad prefetchGuest is refused.</summary>
        private static void ReadGuestOptions(SiteBinding binding, Dictionary<string, string> values)
        {
            string provider, prefetch;
            values.TryGetValue("guestIdentifierProvider", out provider);
            values.TryGetValue("prefetchGuest", out prefetch);
            binding.GuestIdentifierProvider = string.IsNullOrWhiteSpace(provider) ? null : provider.Trim();
            bool on = false;
            if (!string.IsNullOrEmpty(prefetch) && !bool.TryParse(prefetch.Trim(), out on))
                throw new ArgumentException("prefetchGuest must be true or false.");
            binding.PrefetchGuest = on;
        }

        /// <summary>Documented attribute names that differ from the native setting's name.</summary>
        private static string NativeName(string attribute) => attribute == "edgeSiteName" ? "siteName" : attribute;

        /// <summary>
        /// Every <c>&lt;site&gt;</c> attribute except the C#-only ones is passed to the native settings under its own
        /// name: the native parser owns the list of names and their rules, and rejects an unknown name (status 21) or
        /// a bad value, naming the setting, never the value. Any attribute can be set or overridden by the appSetting
        /// <c>XmCdp.{site}.{attribute}</c> (environments inject values with SITECORE_APPSETTINGS_*). The API token is
        /// read from appSettings only, never from a patch file. <c>spoolDirectory</c> is resolved against the
        /// application root like Sitecore's <c>$(dataFolder)</c>.
        /// </summary>
        internal static CdpSettings ReadSettings(string siteName, XmlNode node)
        {
            if (Attr(node, "apiToken") != null)
                throw new ArgumentException("apiToken must not be set in a patch file; use the appSetting named by apiTokenAppSetting.");
            var values = Values(siteName, node);
            if (values.ContainsKey("apiToken"))
                throw new ArgumentException("apiToken must not be set as XmCdp." + siteName + ".apiToken; use the appSetting named by apiTokenAppSetting.");
            var settings = new CdpSettings();
            foreach (var kv in values)
            {
                if (Array.IndexOf(CSharpOnly, kv.Key) >= 0 || Array.IndexOf(BrowserTagSettings.AttributeNames, kv.Key) >= 0) continue;
                var value = kv.Key == "spoolDirectory" ? AppPaths.Resolve(kv.Value) : kv.Value;
                settings.SetNative(NativeName(kv.Key), value);
            }
            // What the C# side itself needs (cookie names, event defaults); the native parser still validates them.
            settings.ClientKey = settings.GetNative("clientKey");
            settings.PointOfSale = settings.GetNative("pointOfSale");
            settings.Currency = settings.GetNative("currency");
            settings.CookieName = settings.GetNative("cookieName");
            settings.CookieDomain = settings.GetNative("cookieDomain");
            var channel = settings.GetNative("channel");
            if (!string.IsNullOrEmpty(channel)) settings.Channel = channel;
            var tokenKey = values.ContainsKey("apiTokenAppSetting") ? values["apiTokenAppSetting"] : null;
            if (!string.IsNullOrEmpty(tokenKey))
            {
                var token = ConfigurationManager.AppSettings[tokenKey];
                if (!string.IsNullOrEmpty(token)) settings.ApiToken = token;
            }
            if (string.IsNullOrEmpty(settings.ClientKey)) throw new ArgumentException("clientKey is required.");
            return settings;
        }

        /// <summary>
        /// Which setting came from the patch file and which from an appSetting (where environment variables land on
        /// 9.3+), and whether the token's appSetting is set: names only, never values.
        /// </summary>
        private static string DescribeSources(string siteName, XmlNode node)
        {
            var sources = new Dictionary<string, string>(StringComparer.Ordinal);
            var values = Values(siteName, node, sources);
            var patch = new List<string>();
            var app = new List<string>();
            foreach (var kv in sources)
            {
                if (kv.Key == "name" || kv.Key == "apiTokenAppSetting") continue;
                if (kv.Value == null) patch.Add(kv.Key);
                else app.Add(kv.Key + " (" + kv.Value + ")");
            }
            string tokenKey;
            values.TryGetValue("apiTokenAppSetting", out tokenKey);
            var token = string.IsNullOrEmpty(tokenKey)
                ? "none (no apiTokenAppSetting)"
                : "appSetting " + tokenKey + (string.IsNullOrEmpty(ConfigurationManager.AppSettings[tokenKey]) ? " (missing or empty)" : " (set)");
            return "site '" + siteName + "' settings: from the patch file: " + (patch.Count > 0 ? string.Join(", ", patch) : "none")
                + "; from appSettings: " + (app.Count > 0 ? string.Join(", ", app) : "none") + "; API token: " + token;
        }

        /// <summary>
        /// Non-empty attributes of the element, then appSettings <c>XmCdp.{site}.{name}</c> over them, in order;
        /// <paramref name="sources"/> (optional) gets each name's appSetting key, or null for the patch attribute.
        /// </summary>
        private static Dictionary<string, string> Values(string siteName, XmlNode node, Dictionary<string, string> sources = null)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            if (node.Attributes != null)
                foreach (XmlAttribute a in node.Attributes)
                    if (a.Value.Length > 0 && string.IsNullOrEmpty(a.NamespaceURI))
                    {
                        values[a.LocalName] = a.Value;
                        if (sources != null) sources[a.LocalName] = null;
                    }
            var prefix = "XmCdp." + siteName + ".";
            var app = ConfigurationManager.AppSettings;
            foreach (string key in app.AllKeys)
            {
                if (key == null || !key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) continue;
                var name = key.Substring(prefix.Length);
                var value = app[key];
                // The token's own appSetting (XmCdp.website.ApiToken by convention) is read through apiTokenAppSetting.
                if (name.Length == 0 || string.IsNullOrEmpty(value) || IsTokenSetting(node, key)) continue;
                values[name] = value;
                if (sources != null) sources[name] = key;
            }
            return values;
        }

        private static bool IsTokenSetting(XmlNode node, string key)
        {
            var tokenKey = Attr(node, "apiTokenAppSetting");
            return tokenKey != null && string.Equals(tokenKey, key, StringComparison.OrdinalIgnoreCase);
        }

        /// <summary>prefetchFlows / prefetchPaths of a site (attributes, overridable by appSettings like the others).</summary>
        internal static SiteDecisions ReadDecisions(string siteName, XmlNode node)
        {
            Func<string, string> get = key =>
            {
                var over = ConfigurationManager.AppSettings["XmCdp." + siteName + "." + key];
                return !string.IsNullOrEmpty(over) ? over : Attr(node, key);
            };
            return SiteDecisions.Parse(get("prefetchFlows"), get("prefetchPaths"));
        }

        /// <summary>
        /// The native parser names an unknown setting (status 21) by its native name; say which attribute it was.
        /// Native messages never hold values, so the message is kept as it is.
        /// </summary>
        private static string Explain(XmCdpException e, XmlNode node)
        {
            if (e.Status != CdpStatus.UnknownKey) return e.Message;
            var siteName = Attr(node, "name");
            foreach (var name in Values(siteName, node).Keys)
                if (e.Message.IndexOf("\"" + NativeName(name) + "\"", StringComparison.Ordinal) >= 0)
                    return "unknown attribute '" + name + "' (not a setting of this version; check its spelling). " + e.Message;
            return e.Message;
        }

        private static string Attr(XmlNode node, string name)
        {
            var a = node.Attributes?[name];
            return a == null || a.Value.Length == 0 ? null : a.Value;
        }
    }
}
