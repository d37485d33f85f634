using System;
using System.Globalization;
using System.Text;
using System.Web;
using System.Web.UI;

namespace XmCdp.Sitecore.Admin
{
    /// <summary>
    /// <c>/sitecore/admin/xmcdp.aspx</c>: the XmCdp status of this server, for administrators only
    /// (<c>CheckSecurity()</c> of Sitecore's <c>AdminPage</c>: anyone else is sent to the admin login). Per site the
    /// client's figures, the last native log lines, versions and the native DLL path; buttons to send a test event to
    /// CDP and to flush (wait for the queue to drain). <c>?format=json</c> gives the same as JSON for monitoring.
    /// No API token, cookie value or guest data is ever on the page.
    /// </summary>
    public class XmCdpAdminPage : global::Sitecore.sitecore.admin.AdminPage
    {
        private string _message;

        protected override void OnInit(EventArgs e)
        {
            CheckSecurity();
            base.OnInit(e);
        }

        protected override void OnLoad(EventArgs e)
        {
            base.OnLoad(e);
            if (!string.Equals(Request.HttpMethod, "POST", StringComparison.OrdinalIgnoreCase)) return;
            if (!SameOrigin())
            {
                Response.StatusCode = 403;
                _message = "refused: the form was posted from another origin";
                return;
            }
            var site = XmCdpSites.Find(Request.Form["site"]);
            var action = Request.Form["action"];
            if (site == null)
            {
                Response.StatusCode = 400;
                _message = "no tracked site of that name";
            }
            else if (action == "test") _message = XmCdpStatus.SendTestEvent(site, Request.Headers["Cookie"]);
            else if (action == "flush") _message = XmCdpStatus.Flush(site, TimeSpan.FromSeconds(5));
            else
            {
                Response.StatusCode = 400;
                _message = "unknown action (test or flush)";
            }
        }

        // The buttons post back to this page; a post from another origin (a forged form) is refused.
        private bool SameOrigin()
        {
            var origin = Request.Headers["Origin"];
            if (string.IsNullOrEmpty(origin) || origin == "null") origin = Request.Headers["Referer"];
            Uri uri;
            return !string.IsNullOrEmpty(origin) && Uri.TryCreate(origin, UriKind.Absolute, out uri)
                && string.Equals(uri.Authority, Request.Url.Authority, StringComparison.OrdinalIgnoreCase);
        }

        protected override void Render(HtmlTextWriter writer)
        {
            Response.Cache.SetCacheability(HttpCacheability.NoCache);
            if (string.Equals(Request.QueryString["format"], "json", StringComparison.OrdinalIgnoreCase))
            {
                Response.ContentType = "application/json";
                writer.Write(XmCdpStatus.Json());
                return;
            }
            Response.ContentType = "text/html";
            writer.Write(AdminHtml.Render(_message));
        }
    }

    /// <summary>The HTML of the admin page; every value is HTML-encoded.</summary>
    internal static class AdminHtml
    {
        internal static string Render(string message)
        {
            var sb = new StringBuilder(8192);
            sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>XmCdp status</title><style>")
                .Append("body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}")
                .Append("td,th{border:1px solid #bbb;padding:.25em .6em;text-align:left}th{background:#eee}")
                .Append(".msg{background:#ffd;border:1px solid #cc8;padding:.5em}pre{background:#f6f6f6;padding:.5em;font-size:90%}")
                .Append("form{display:inline;margin-right:.5em}</style></head><body>");
            sb.Append("<h1>XmCdp: Sitecore CDP connection</h1>");
            if (!string.IsNullOrEmpty(message)) sb.Append("<p class=\"msg\" id=\"message\">").Append(E(message)).Append("</p>");
            sb.Append("<table><tr><th>native library</th><td id=\"native-path\">").Append(E(Native.NativeLibraryLoader.LoadedFrom ?? "not loaded"))
                .Append("</td></tr><tr><th>native version</th><td>").Append(E(Native.NativeLibraryLoader.NativeVersion ?? "?"))
                .Append("</td></tr><tr><th>XmCdp.dll (API)</th><td>").Append(E(Native.NativeLibraryLoader.ManagedVersion ?? "?"))
                .Append("</td></tr></table>");
            var sites = XmCdpSites.All;
            if (sites.Count == 0) sb.Append("<p>No site is tracked (see the Sitecore log for why).</p>");
            foreach (var site in sites) Site(sb, site);
            sb.Append("<h2>Last native log lines</h2><pre id=\"native-log\">");
            foreach (var line in SitecoreLogSink.RecentLines()) sb.Append(E(line)).Append('\n');
            sb.Append("</pre><p><a href=\"?format=json\">JSON</a></p></body></html>");
            return sb.ToString();
        }

        private static void Site(StringBuilder sb, SiteBinding site)
        {
            sb.Append("<h2>Site ").Append(E(site.SiteName)).Append("</h2>");
            var stats = XmCdpStatus.Stats(site);
            if (stats == null)
            {
                sb.Append("<p>no native client (shut down)</p>");
                return;
            }
            sb.Append("<table class=\"figures\" data-site=\"").Append(E(site.SiteName)).Append("\">");
            Row(sb, "point of sale", site.PointOfSale);
            Row(sb, "browser tag", site.BrowserTag.ToString());
            Row(sb, "events enqueued", N(stats, "events.enqueued"), "enqueued");
            Row(sb, "events sent", N(stats, "events.sent"), "sent");
            Row(sb, "events retried", N(stats, "events.retried"), "retried");
            Row(sb, "events failed", N(stats, "events.failed"), "failed");
            Row(sb, "events dropped (queue full / oldest evicted)", N(stats, "events.dropped.queue_full") + " / " + N(stats, "events.dropped.oldest_evicted"), "dropped");
            Row(sb, "delivery latency p50 / p99 / max", N(stats, "events.delivery_latency.p50_us") + " / " + N(stats, "events.delivery_latency.p99_us")
                + " / " + N(stats, "events.delivery_latency.max_us") + " µs");
            Row(sb, "queue depth / in flight", N(stats, "events.queue_depth") + " / " + N(stats, "events.in_flight"), "queue");
            Row(sb, "outage mode", Text(stats.Json, "outage_mode"));
            Row(sb, "spool", stats.SpoolEnabled
                ? "on: " + N(stats, "spool.depth") + " events, " + N(stats, "spool.file_bytes") + " bytes on disk, " + N(stats, "spool.spooled") + " spooled, " + N(stats, "spool.replayed") + " replayed"
                : "off", "spool");
            Row(sb, "oldest event in the spool", Oldest(stats.SpoolOldestAcceptedUtc), "spool-oldest");
            Row(sb, "breaker", Text(stats.Json, "breaker_state") + ", opened " + N(stats, "decisions.breaker_opened") + " times, " + N(stats, "decisions.breaker_rejections") + " rejected", "breaker");
            Row(sb, "decisions (requests / timeouts / failures)", N(stats, "decisions.requests") + " / " + N(stats, "decisions.timeouts") + " / " + N(stats, "decisions.failures"));
            Row(sb, "browser-id pool", N(stats, "browser_id_pool"), "pool");
            sb.Append("</table>");
            foreach (var action in new[] { "test", "flush" })
            {
                sb.Append("<form method=\"post\"><input type=\"hidden\" name=\"site\" value=\"").Append(E(site.SiteName))
                    .Append("\"><input type=\"hidden\" name=\"action\" value=\"").Append(action).Append("\"><button type=\"submit\" id=\"")
                    .Append(action).Append('-').Append(E(site.SiteName)).Append("\">")
                    .Append(action == "test" ? "Send a test event to CDP" : "Flush (wait for the queue to drain)").Append("</button></form>");
            }
        }

        private static void Row(StringBuilder sb, string name, string value, string key = null)
        {
            sb.Append("<tr><th>").Append(E(name)).Append("</th><td");
            if (key != null) sb.Append(" data-figure=\"").Append(key).Append('"');
            sb.Append('>').Append(E(value)).Append("</td></tr>");
        }

        private static string Oldest(DateTime? acceptedUtc)
        {
            if (acceptedUtc == null) return "none";
            var age = DateTime.UtcNow - acceptedUtc.Value;
            return acceptedUtc.Value.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " UTC ("
                + Math.Max(0, (long)age.TotalSeconds).ToString(CultureInfo.InvariantCulture) + " s ago)";
        }

        private static string N(CdpStats stats, string path)
        {
            double v;
            return stats.TryGetNumber(path, out v) ? v.ToString("0.##", CultureInfo.InvariantCulture) : "?";
        }

        // A scalar (string or bool) of the native stats by key name (the keys used here are unique in the object).
        private static string Text(string json, string key)
        {
            var at = json.IndexOf("\"" + key + "\":", StringComparison.Ordinal);
            if (at < 0) return "?";
            int start = at + key.Length + 3;
            int end = start;
            if (end < json.Length && json[end] == '"')
            {
                end = json.IndexOf('"', start + 1);
                return end < 0 ? "?" : json.Substring(start + 1, end - start - 1);
            }
            while (end < json.Length && json[end] != ',' && json[end] != '}') end++;
            return json.Substring(start, end - start);
        }

        private static string E(string s) => HttpUtility.HtmlEncode(s ?? string.Empty);
    }
}
