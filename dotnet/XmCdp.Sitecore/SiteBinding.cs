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
            Client = client;
        }

        public string SiteName { get; }
        public string ClientKey { get; }
        public string PointOfSale { get; }
        public string Channel { get; }
        public string Currency { get; }
        public ICdpClient Client { get; }
        /// <summary>The Engage browser tag of this site and who sends the VIEW (<c>viewOwner</c>).</summary>
        public Browser.BrowserTagSettings BrowserTag { get; internal set; } = Browser.BrowserTagSettings.Off;
        /// <summary>Decisions prefetched at request begin for this site.</summary>
        public SiteDecisions Decisions { get; }
        /// <summary>
        /// <c>guestIdentifierProvider</c>: when set, <see cref="CdpContext.Guest"/> of a logged-in user is the guest with the
        /// user's e-mail under this identifier provider (as the IDENTITY event sends it); null = by browser id only.
        /// </summary>
        public string GuestIdentifierProvider { get; internal set; }
        /// <summary><c>prefetchGuest</c>: start resolving <see cref="CdpContext.Guest"/> at request begin (off the request thread).</summary>
        public bool PrefetchGuest { get; internal set; }

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
}
