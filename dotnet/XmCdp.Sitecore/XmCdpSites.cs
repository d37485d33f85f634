using System;
using System.Collections.Generic;

namespace XmCdp.Sitecore
{
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
