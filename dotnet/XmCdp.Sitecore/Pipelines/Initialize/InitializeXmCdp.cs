using System;
using System.Collections.Generic;
using System.Configuration;
using System.Xml;
using Sitecore.Pipelines;
using XmCdp.Logging;
using XmCdp.Native;

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
                if (ForwardNativeLogs) CdpLog.Start(new SitecoreLogSink());
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
                    var client = XmCdpSites.ClientFactory(settings);
                    XmCdpSites.Register(new SiteBinding(siteName, settings, client, decisions));
                    created++;
                    XmCdpLog.Info("tracking site '" + siteName + "' with " + settings);
                }
                catch (XmCdpException e)
                {
                    XmCdpLog.Error("site '" + siteName + "' is not tracked: " + e.Message);
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

        /// <summary>
        /// Site settings come from the <c>&lt;site&gt;</c> attributes; any of them can be overridden by the appSetting
        /// <c>XmCdp.{site}.{attribute}</c> (so environments inject values with SITECORE_APPSETTINGS_*). The API token
        /// is read from appSettings only, never from a patch file.
        /// </summary>
        internal static CdpSettings ReadSettings(string siteName, XmlNode node)
        {
            Func<string, string> get = key =>
            {
                var over = ConfigurationManager.AppSettings["XmCdp." + siteName + "." + key];
                return !string.IsNullOrEmpty(over) ? over : Attr(node, key);
            };
            if (Attr(node, "apiToken") != null)
                throw new ArgumentException("apiToken must not be set in a patch file; use the appSetting named by apiTokenAppSetting.");
            var settings = new CdpSettings
            {
                ClientKey = get("clientKey"),
                PointOfSale = get("pointOfSale"),
                TargetUrl = get("targetUrl"),
                EdgeUrl = get("edgeUrl"),
                ContextId = get("contextId"),
                EdgeSiteName = get("edgeSiteName"),
                Currency = get("currency"),
                CookieName = get("cookieName"),
                CookieDomain = get("cookieDomain"),
            };
            settings.CookieExpiryDays = Int(get, "cookieExpiryDays");
            settings.DecisionTimeoutMs = Int(get, "decisionTimeoutMs");
            settings.BreakerFailureThreshold = Int(get, "breakerFailureThreshold");
            settings.BreakerCooldownMs = Int(get, "breakerCooldownMs");
            settings.BrowserIdPoolSize = Int(get, "browserIdPoolSize");
            settings.BrowserCreateTimeoutMs = Int(get, "browserCreateTimeoutMs");
            settings.GuestApiUrl = get("guestApiUrl");
            settings.GuestApiTimeoutMs = Int(get, "guestApiTimeoutMs");
            var channel = get("channel");
            if (!string.IsNullOrEmpty(channel)) settings.Channel = channel;
            var tokenKey = Attr(node, "apiTokenAppSetting");
            if (!string.IsNullOrEmpty(tokenKey))
            {
                var token = ConfigurationManager.AppSettings[tokenKey];
                if (!string.IsNullOrEmpty(token)) settings.ApiToken = token;
            }
            if (string.IsNullOrEmpty(settings.ClientKey)) throw new ArgumentException("clientKey is required.");
            return settings;
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

        private static int? Int(Func<string, string> get, string key)
        {
            var v = get(key);
            if (string.IsNullOrEmpty(v)) return null;
            int n;
            if (!int.TryParse(v.Trim(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out n) || n < 0)
                throw new ArgumentException(key + " must be a whole number.");
            return n;
        }

        private static string Attr(XmlNode node, string name)
        {
            var a = node.Attributes?[name];
            return a == null || a.Value.Length == 0 ? null : a.Value;
        }
    }
}
