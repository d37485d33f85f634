using System;
using System.Collections.Generic;

namespace XmCdp.Sitecore
{
    /// <summary>One configured Sitecore site and the client that tracks it.</summary>
    public sealed class SiteBinding
    {
        internal SiteBinding(string siteName, CdpSettings settings, ICdpClient client)
            : this(siteName, settings, client, SiteDecisions.None)
        {
        }

        internal SiteBinding(string siteName, CdpSettings settings, ICdpClient client, SiteDecisions decisions, string pointOfSaleByLanguage = null)
        {
            _posByLanguage = ParsePointOfSaleMap(pointOfSaleByLanguage);
            Decisions = decisions ?? SiteDecisions.None;
            SiteName = siteName;
            ClientKey = settings.ClientKey;
            PointOfSale = settings.PointOfSale;
            Channel = settings.Channel;
            Currency = settings.Currency;
            CookieName = string.IsNullOrEmpty(settings.CookieName) ? "bid_" + settings.ClientKey : settings.CookieName;
            LegacyCookieName = "BID_" + settings.ClientKey;
            CookieDomain = string.IsNullOrEmpty(settings.CookieDomain) ? null : settings.CookieDomain;
            Client = client;
        }

        public string SiteName { get; }
        public string ClientKey { get; }
        public string PointOfSale { get; }
        public string Channel { get; }
        public string Currency { get; }
        /// <summary>The browser id cookie written and read first (<c>bid_{clientKey}</c> unless configured).</summary>
        public string CookieName { get; }
        /// <summary>Read when <see cref="CookieName"/> is absent (JSS middleware writes <c>BID_{clientKey}</c>).</summary>
        public string LegacyCookieName { get; }
        /// <summary>Domain attribute of the browser id cookie; null = the request's host only.</summary>
        public string CookieDomain { get; }
        public ICdpClient Client { get; }
        /// <summary>Decisions prefetched at request begin for this site.</summary>
        public SiteDecisions Decisions { get; }

        private readonly Dictionary<string, string> _posByLanguage;

        /// <summary>
        /// The point of sale of a language from <c>pointOfSaleByLanguage</c> (<c>de-DE=brand/germany;fr=brand/france</c>):
        /// the exact language name, else its primary subtag; null = the site's default (<see cref="PointOfSale"/>).
        /// </summary>
        public string PointOfSaleFor(string languageName)
        {
            if (_posByLanguage == null || string.IsNullOrEmpty(languageName)) return null;
            string pos;
            if (_posByLanguage.TryGetValue(languageName, out pos)) return pos;
            int dash = languageName.IndexOf('-');
            return dash > 0 && _posByLanguage.TryGetValue(languageName.Substring(0, dash), out pos) ? pos : null;
        }

        internal static Dictionary<string, string> ParsePointOfSaleMap(string text)
        {
            if (string.IsNullOrWhiteSpace(text)) return null;
            var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var entry in text.Split(';'))
            {
                if (entry.Trim().Length == 0) continue;
                int eq = entry.IndexOf('=');
                var lang = eq > 0 ? entry.Substring(0, eq).Trim() : "";
                var pos = eq > 0 ? entry.Substring(eq + 1).Trim() : "";
                if (lang.Length == 0 || pos.Length == 0)
                    throw new ArgumentException("pointOfSaleByLanguage must be \"language=pointOfSale;...\" (an entry has no language or no point of sale).");
                map[lang] = pos;
            }
            return map.Count > 0 ? map : null;
        }
    }

    /// <summary>
    /// The site → client registry of this AppDomain, filled by the <c>initialize</c> processor and emptied at
    /// shutdown. Reads are lock-free (copy on write): the request path only ever reads.
    /// </summary>
    public static class XmCdpSites
    {
        private static readonly object Gate = new object();
        private static volatile Dictionary<string, SiteBinding> s_sites =
            new Dictionary<string, SiteBinding>(StringComparer.OrdinalIgnoreCase);

        /// <summary>
        /// How clients are made. Tests replace it to observe what the processors enqueue without native code;
        /// production always uses the default (a native <see cref="CdpClient"/>).
        /// </summary>
        internal static Func<CdpSettings, ICdpClient> ClientFactory = DefaultFactory;

        internal static ICdpClient DefaultFactory(CdpSettings settings) => new CdpClient(settings);

        public static SiteBinding Find(string siteName)
        {
            if (siteName == null) return null;
            SiteBinding b;
            return s_sites.TryGetValue(siteName, out b) ? b : null;
        }

        public static IList<SiteBinding> All => new List<SiteBinding>(s_sites.Values);

        internal static void Register(SiteBinding binding)
        {
            lock (Gate)
            {
                var copy = new Dictionary<string, SiteBinding>(s_sites, StringComparer.OrdinalIgnoreCase);
                copy[binding.SiteName] = binding;
                s_sites = copy;
            }
        }

        /// <summary>Removes every binding and returns them (for shutdown).</summary>
        internal static IList<SiteBinding> Clear()
        {
            lock (Gate)
            {
                var old = s_sites;
                s_sites = new Dictionary<string, SiteBinding>(StringComparer.OrdinalIgnoreCase);
                return new List<SiteBinding>(old.Values);
            }
        }
    }
}
