using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Threading;
using XmCdp.Events;
using XmCdp.Native;
using XmCdp.Sitecore.Browser;

namespace XmCdp.Sitecore.Admin
{
    /// <summary>
    /// What the admin page and the monitoring endpoint show: per tracked site the native client's figures (events
    /// enqueued / sent / retried / failed / dropped, delivery latency, queue depth, outage mode, spool, breaker,
    /// browser-id pool), the last native log lines, the library and API versions and the native library's path.
    /// Nothing secret or personal: no API token, no cookie values, no guest data (the native counters and log
    /// lines hold none).
    /// </summary>
    public static class XmCdpStatus
    {
        /// <summary>Custom event type of the admin page's test event.</summary>
        public const string TestEventType = "XMCDP_TEST";

        /// <summary>The status as one JSON object (the <c>?format=json</c> form and the monitoring path).</summary>
        public static string Json()
        {
            var sb = new StringBuilder(2048);
            sb.Append("{\"generatedAt\":");
            Str(sb, DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            sb.Append(",\"library\":{\"nativeVersion\":");
            Str(sb, NativeLibraryLoader.NativeVersion);
            sb.Append(",\"managedVersion\":");
            Str(sb, NativeLibraryLoader.ManagedVersion);
            sb.Append(",\"nativePath\":");
            Str(sb, NativeLibraryLoader.LoadedFrom);
            sb.Append("},\"sites\":[");
            bool first = true;
            foreach (var site in XmCdpSites.All)
            {
                if (!first) sb.Append(',');
                first = false;
                sb.Append("{\"name\":");
                Str(sb, site.SiteName);
                sb.Append(",\"pointOfSale\":");
                Str(sb, site.PointOfSale);
                sb.Append(",\"browserTag\":").Append(site.BrowserTag.Enabled ? "true" : "false");
                sb.Append(",\"viewOwner\":");
                Str(sb, site.BrowserTag.BrowserOwnsView ? "browser" : "server");
                sb.Append(",\"stats\":").Append(StatsJson(site) ?? "null").Append('}');
            }
            sb.Append("],\"nativeLog\":[");
            var lines = SitecoreLogSink.RecentLines();
            for (int i = 0; i < lines.Length; i++)
            {
                if (i > 0) sb.Append(',');
                Str(sb, lines[i]);
            }
            sb.Append("]}");
            return sb.ToString();
        }

        /// <summary>The native counters of a site's client as JSON, or null when it is not a native client.</summary>
        internal static string StatsJson(SiteBinding site)
        {
            var stats = Stats(site);
            return stats != null ? stats.Json : null;
        }

        internal static CdpStats Stats(SiteBinding site)
        {
            var native = site.Client as CdpClient;
            if (native == null || native.IsDisposed) return null;
            try
            {
                return native.GetStats();
            }
            catch (ObjectDisposedException)
            {
                return null;
            }
            catch (XmCdpException)
            {
                return null;
            }
        }

        /// <summary>
        /// Queues one <see cref="TestEventType"/> event for the site, on the browser id of the cookie header given
        /// (the administrator's own browser), else a new one; returns a line saying what happened.
        /// </summary>
        public static string SendTestEvent(SiteBinding site, string cookieHeader)
        {
            var id = site.Client.EnsureBrowserId(cookieHeader, TimeSpan.FromSeconds(2));
            if (!id.IsOk) return "no browser id for the test event: status " + (int)id.Status + " (" + id.Status + ")";
            var e = new CustomEvent(TestEventType) { BrowserId = id.BrowserId, Page = "xmcdp admin" };
            e.Data.Set("source", "xmcdp admin page");
            var status = site.Client.TryEvent(e);
            return status == CdpStatus.Ok
                ? "test event " + TestEventType + " queued for site '" + site.SiteName + "'"
                : "test event not queued: status " + (int)status + " (" + status + ")";
        }

        /// <summary>
        /// Waits up to <paramref name="deadline"/> for the site's queue to drain (the library delivers continuously;
        /// this only waits and reports); returns a line with what is left.
        /// </summary>
        public static string Flush(SiteBinding site, TimeSpan deadline)
        {
            var until = DateTime.UtcNow + deadline;
            double depth = -1, inFlight = -1;
            while (true)
            {
                var stats = Stats(site);
                if (stats == null) return "site '" + site.SiteName + "' has no native client to flush";
                stats.TryGetNumber("events.queue_depth", out depth);
                stats.TryGetNumber("events.in_flight", out inFlight);
                if (depth + inFlight <= 0) return "site '" + site.SiteName + "': queue empty, every queued event was handed to CDP";
                if (DateTime.UtcNow >= until) break;
                Thread.Sleep(50);
            }
            return string.Format(CultureInfo.InvariantCulture, "site '{0}': still {1} queued and {2} in flight after {3} ms (CDP slow or down; they stay queued)",
                site.SiteName, depth, inFlight, (long)deadline.TotalMilliseconds);
        }

        private static void Str(StringBuilder sb, string value) => BrowserTag.ScriptString(sb, value);
    }
}
