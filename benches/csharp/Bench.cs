// Request-thread cost of a page view on Mono, for `cargo xtask bench` (compiled with mcs -sdk:4.8 by xtask/src/bench.rs).
// Prints one JSON object.
//
//   mono XmCdp.Bench.exe <mode> <emulator url> <n> <browser ids, comma-separated>
//
// modes:
//   xmcdp       XmCdp.CdpClient.TryPageView (the shipped wrapper over the native library), a new PageView per call
//   httpclient  a static HttpClient, PostAsync(...).GetAwaiter().GetResult() per event (sync over async, as community
//               modules do), body built by string concatenation
//   faf, xmcdp-shutdown, ...  the fire-and-forget PostAsync peer and xmcdp beside it: see FireAndForget.cs
//   sitecore    the shipped httpRequestBegin processor (TrackVisitor, DeferView as shipped) plus the httpRequestEnd
//               processor that queues the VIEW (SendPageView), timed together, against the TEST-ONLY Sitecore.Kernel
//               stand-in, returning visitors (bid_ cookie present), the native client created by the shipped
//               InitializeXmCdp; XMCDP_BENCH_VIEW_AT_BEGIN=1 times TrackVisitor alone queueing the VIEW at begin
//   sitecore-rules-none, sitecore-rules-one  the same, the page item carrying a layout of 12 renderings (ids, data
//               sources, parameters) whose personalization rules use only stock conditions, or one of which uses
//               XmCdp's decision condition: CdpRulePrefetch's scan, and in the second its decision prefetch start
//
// Each call is timed with Stopwatch.GetTimestamp (Mono on Linux: 100 ns ticks, so p50/p99 are quantised to 100 ns;
// mean_ns is total/n and not quantised). Calls arrive one at a time, 5,000 a second (a busy web server): the
// native delivery task has usually finished the previous event and gone idle, so most calls also pay for waking it,
// as they would in production. Paced, the native queue (default capacity 10,000) never overflows either: a rejected
// call would be cheaper and would flatter the figure.
using System;
using System.Collections;
using System.Collections.Specialized;
using System.Diagnostics;
using System.Net.Http;
using System.Text;
using System.Threading;
using System.Web;
using System.Xml;
using XmCdp;
using XmCdp.Events;
using XmCdp.Sitecore;
using XmCdp.Sitecore.Pipelines.HttpRequestBegin;
using XmCdp.Sitecore.Pipelines.HttpRequestEnd;
using XmCdp.Sitecore.Pipelines.Initialize;

namespace XmCdp.Bench
{
    internal static class Program
    {
        private const string UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        private const string Url = "/products/bikes?utm_source=newsletter&utm_campaign=spring";
        private const int PacePerSecond = 5000;
        private static readonly HttpClient Http = new HttpClient();

        private static int Main(string[] argv)
        {
            if (argv.Length != 4)
            {
                Console.Error.WriteLine("usage: XmCdp.Bench.exe xmcdp|httpclient|sitecore|sitecore-rules-none|sitecore-rules-one|faf|faf-throughput|faf-shutdown|xmcdp-shutdown|faf-outage|xmcdp-outage|xmcdp-outage-spool <url> <n> <browser ids>");
                return 2;
            }
            var mode = argv[0];
            var url = argv[1];
            int n = int.Parse(argv[2]);
            var bids = argv[3].Split(',');
            switch (mode)
            {
                case "xmcdp": return Xmcdp(url, n, bids);
                case "httpclient": return HttpClientPost(url, n, bids);
                case "sitecore": return Sitecore(url, n, bids, null);
                case "sitecore-rules-none": return Sitecore(url, n, bids, BenchLayout.Build(null));
                case "sitecore-rules-one": return Sitecore(url, n, bids, BenchLayout.Build(BenchLayout.DecisionCondition));
                default:
                    int rc = FireAndForget.Run(mode, url, n, bids);
                    if (rc >= 0) return rc;
                    Console.Error.WriteLine("unknown mode " + mode);
                    return 2;
            }
        }

        private static int Xmcdp(string url, int n, string[] bids)
        {
            var settings = new CdpSettings { ClientKey = "ck_test", PointOfSale = "myretailsite/ireland", Currency = "EUR", TargetUrl = url };
            using (var client = new CdpClient(settings))
            {
                int rejected = 0;
                Func<int, bool> call = i =>
                {
                    var v = new PageView { BrowserId = bids[i % bids.Length], Language = "EN", Page = "bikes", Url = Url, UserAgent = UA };
                    return client.TryPageView(v) == CdpStatus.Ok;
                };
                var t = Measure(n, Math.Min(5000, n), call, ref rejected);
                client.Shutdown(TimeSpan.FromSeconds(30));
                Print(t, n, rejected, "");
            }
            return 0;
        }

        private static int HttpClientPost(string url, int n, string[] bids)
        {
            var events = url + "/v1.2/events";
            int rejected = 0;
            Func<int, bool> call = i =>
            {
                var body = "{\"type\":\"VIEW\",\"channel\":\"WEB\",\"currency\":\"EUR\",\"pos\":\"myretailsite/ireland\",\"browser_id\":\""
                    + bids[i % bids.Length] + "\",\"language\":\"EN\",\"page\":\"bikes\",\"utm_source\":\"newsletter\",\"utm_campaign\":\"spring\",\"client_key\":\"ck_test\"}";
                using (var content = new StringContent(body, Encoding.UTF8, "application/json"))
                using (var r = Http.PostAsync(events, content).GetAwaiter().GetResult())
                {
                    return r.IsSuccessStatusCode;
                }
            };
            var t = Measure(n, Math.Min(500, n), call, ref rejected);
            Print(t, n, rejected, "");
            return 0;
        }

        private static int Sitecore(string url, int n, string[] bids, string layout)
        {
            var doc = new XmlDocument();
            doc.LoadXml("<site name=\"website\" clientKey=\"ck_test\" pointOfSale=\"myretailsite/ireland\" currency=\"EUR\" targetUrl=\"" + SecurityElementEscape(url) + "\" />");
            var init = new InitializeXmCdp { ForwardNativeLogs = false };
            init.AddSite(doc.DocumentElement);
            init.Process(new global::Sitecore.Pipelines.PipelineArgs());
            if (XmCdpSites.Find("website") == null)
            {
                Console.Error.WriteLine("InitializeXmCdp did not register the site");
                return 1;
            }
            // As shipped: the VIEW is prepared at httpRequestBegin and queued at httpRequestEnd (SendPageView); both
            // processors are timed. XMCDP_BENCH_VIEW_AT_BEGIN=1 times the former shape (VIEW queued at begin, no end step).
            bool atBegin = Environment.GetEnvironmentVariable("XMCDP_BENCH_VIEW_AT_BEGIN") == "1";
            var end = atBegin ? null : new SendPageView();
            var processor = new TrackVisitor { DeferView = !atBegin };
            processor.AddBotUserAgent("bot");
            processor.AddBotUserAgent("spider");
            processor.AddBotUserAgent("crawler");
            // What SiteResolver / LanguageResolver / ItemResolver leave in the context before our processor runs.
            global::Sitecore.Context.Site = new global::Sitecore.Sites.SiteContext("website");
            var item = new global::Sitecore.Data.Items.Item(new global::Sitecore.Data.ID(Guid.NewGuid()), "bikes", "/sitecore/content/home/bikes");
            if (layout != null) item["__Renderings"] = layout;
            global::Sitecore.Context.Item = item;
            global::Sitecore.Context.Language = global::Sitecore.Globalization.Language.Parse("en-GB");
            global::Sitecore.Context.SetPageMode(global::Sitecore.Context.StubPageMode.Normal);

            int rejected = 0;
            var ticks = new long[n];
            long total = 0;
            var pace = Stopwatch.StartNew();
            int warm = Math.Min(5000, n);
            for (int i = -warm; i < n; i++)
            {
                // The request (untimed): built by ASP.NET before the pipeline runs.
                var http = new BenchHttpContext("http://www.example.com" + Url, bids[(i + warm) % bids.Length]);
                // Sitecore computes a layout field's value per read (LayoutField.GetFieldValue applies the layout deltas):
                // a new string each request, so nothing keyed by its reference would survive.
                if (layout != null) item["__Renderings"] = new string(layout.ToCharArray());
                var args = new global::Sitecore.Pipelines.HttpRequest.HttpRequestArgs(http);
                long t0 = Stopwatch.GetTimestamp();
                processor.Process(args);
                if (end != null) end.Process(args);
                long dt = Stopwatch.GetTimestamp() - t0;
                if (i >= 0)
                {
                    ticks[i] = dt;
                    total += dt;
                    var ctx = CdpContext.From(http);
                    if (ctx == null || ctx.ViewStatus != CdpStatus.Ok) rejected++;
                    Pace(pace, i);
                }
            }
            XmCdpShutdown.ShutdownAll(TimeSpan.FromSeconds(30));
            if (rejected > 0)
            {
                // Why (the processor fails open and only logs): the stand-in kernel keeps its log in memory.
                foreach (var e in global::Sitecore.Diagnostics.Log.Entries()) Console.Error.WriteLine(e);
            }
            Print(ticks, n, rejected, ",\"mean_ns\":" + (long)(total * 1e9 / Stopwatch.Frequency / n));
            return 0;
        }

        private static string SecurityElementEscape(string s) => System.Security.SecurityElement.Escape(s);

        private static long[] Measure(int n, int warm, Func<int, bool> call, ref int rejected)
        {
            for (int i = 0; i < warm; i++) call(i);
            var ticks = new long[n];
            long total = 0;
            var pace = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                bool ok = call(i);
                long dt = Stopwatch.GetTimestamp() - t0;
                ticks[i] = dt;
                total += dt;
                if (!ok) rejected++;
                Pace(pace, i);
            }
            s_meanNs = (long)(total * 1e9 / Stopwatch.Frequency / n);
            return ticks;
        }

        private static long s_meanNs;

        private static void Pace(Stopwatch pace, int i)
        {
            // Calls arrive one by one, PacePerSecond of them a second, as requests do: wait (untimed, yielding the
            // core to the native delivery threads) until this call's successor is due.
            long due = (long)(i + 1) * Stopwatch.Frequency / PacePerSecond;
            while (pace.ElapsedTicks < due) Thread.Yield();
        }

        private static void Print(long[] ticks, int n, int rejected, string extra)
        {
            Array.Sort(ticks);
            Func<double, long> p = q => (long)(ticks[(int)Math.Round((n - 1) * q)] * 1e9 / Stopwatch.Frequency);
            var sb = new StringBuilder();
            sb.Append("{\"n\":").Append(n)
              .Append(",\"rejected\":").Append(rejected)
              .Append(",\"p50_ns\":").Append(p(0.5))
              .Append(",\"p90_ns\":").Append(p(0.9))
              .Append(",\"p99_ns\":").Append(p(0.99))
              .Append(",\"max_ns\":").Append(p(1.0))
              .Append(",\"tick_ns\":").Append((long)(1e9 / Stopwatch.Frequency));
            if (extra.Length > 0) sb.Append(extra); else sb.Append(",\"mean_ns\":").Append(s_meanNs);
            sb.Append("}");
            Console.WriteLine(sb.ToString());
        }
    }

    internal sealed class BenchRequest : HttpRequestBase
    {
        private readonly Uri _url;
        private readonly NameValueCollection _query;
        // As System.Web's HttpHeaderCollection (an HttpValueCollection): ordinal, case-insensitive keys. A plain
        // NameValueCollection hashes with the invariant culture, which on Mono cost ~2 µs per header read.
        private readonly NameValueCollection _headers = new NameValueCollection(StringComparer.OrdinalIgnoreCase);
        private readonly HttpCookieCollection _cookies = new HttpCookieCollection();
        private readonly string _userAgent;

        public BenchRequest(string url, string browserId)
        {
            _url = new Uri(url);
            _query = HttpUtility.ParseQueryString(_url.Query);
            _userAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
            _headers["User-Agent"] = _userAgent;
            _headers["Accept-Language"] = "en-GB,en;q=0.9";
            // The raw header (what the processor hands to the native side) and the parsed collection ASP.NET offers.
            _headers["Cookie"] = "_ga=GA1.2.1234567890.1700000000; bid_ck_test=" + browserId + "; ASP.NET_SessionId=abcdefghijklmnopqrstuvwx";
            _cookies.Add(new HttpCookie("_ga", "GA1.2.1234567890.1700000000"));
            _cookies.Add(new HttpCookie("bid_ck_test", browserId));
            _cookies.Add(new HttpCookie("ASP.NET_SessionId", "abcdefghijklmnopqrstuvwx"));
        }

        public override Uri Url => _url;
        public override string Path => _url.AbsolutePath;
        public override NameValueCollection QueryString => _query;
        public override NameValueCollection Headers => _headers;
        public override HttpCookieCollection Cookies => _cookies;
        // HttpRequest.UserAgent reads the worker request's known-header slot, not the Headers collection.
        public override string UserAgent => _userAgent;
        public override bool IsSecureConnection => false;
    }

    internal sealed class BenchResponse : HttpResponseBase
    {
        private readonly HttpCookieCollection _cookies = new HttpCookieCollection();
        private readonly NameValueCollection _headers = new NameValueCollection();
        public override HttpCookieCollection Cookies => _cookies;
        public override NameValueCollection Headers => _headers;
        public override void AppendHeader(string name, string value) => _headers.Add(name, value);
        public override int StatusCode { get; set; } = 200;
    }

    internal sealed class BenchHttpContext : HttpContextBase
    {
        private readonly BenchRequest _request;
        private readonly BenchResponse _response = new BenchResponse();
        private readonly Hashtable _items = new Hashtable();

        public BenchHttpContext(string url, string browserId)
        {
            _request = new BenchRequest(url, browserId);
        }

        public override HttpRequestBase Request => _request;
        public override HttpResponseBase Response => _response;
        public override IDictionary Items => _items;
    }

    /// <summary>A page item's <c>__Renderings</c> value: 12 renderings, each with a personalization rule.</summary>
    internal static class BenchLayout
    {
        internal const string DecisionCondition = "<condition id=\"{8E7B6159-F586-4C06-8391-1121E47B4B64}\" uid=\"{0B1E2C3D-4F50-4617-8293-A4B5C6D7E8F9}\" flowid=\"bench_flow\" variant=\"a\" />";
        // Stock Sitecore "where the item is ..." condition.
        private const string StockCondition = "<condition id=\"{4888ABBB-F17D-4485-B14B-842413F88732}\" uid=\"{5A6B7C8D-9E0F-4A1B-8C2D-3E4F5A6B7C8D}\" ItemId=\"{110D559F-DEA5-42EA-9C1C-8A5DF7E70EF9}\" />";

        /// <param name="oneRule">The condition of the last rendering's rule (null: stock conditions only).</param>
        internal static string Build(string oneRule)
        {
            var sb = new StringBuilder("<r xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><d id=\"{FE5D7FDF-89C0-4D99-9AA3-B5FBD009C9F3}\" l=\"{14030E9F-CE92-49C6-AD87-7D49B50E42EA}\">");
            for (int i = 0; i < 12; i++)
            {
                var condition = i == 11 && oneRule != null ? oneRule : StockCondition;
                sb.Append("<r id=\"{").Append(Guid(i, 1)).Append("}\" ph=\"/main/column-").Append(i % 3)
                  .Append("\" uid=\"{").Append(Guid(i, 2)).Append("}\" ds=\"{").Append(Guid(i, 3))
                  .Append("}\" par=\"Styles=%7B").Append(Guid(i, 4)).Append("%7D&amp;GridParameters=%7B").Append(Guid(i, 5))
                  .Append("%7D\"><rls><ruleset><rule uid=\"{").Append(Guid(i, 6)).Append("}\" name=\"Rule ").Append(i)
                  .Append("\"><conditions>").Append(condition).Append("</conditions><actions><action id=\"{0F3C6BA8-1B8E-4F3D-A6B2-1E0D2C3B4A59}\" uid=\"{")
                  .Append(Guid(i, 7)).Append("}\" DataSource=\"{").Append(Guid(i, 8)).Append("}\" /></actions></rule></ruleset></rls></r>");
            }
            return sb.Append("</d></r>").ToString();
        }

        private static string Guid(int i, int k) => new System.Guid(i * 16 + k, (short)(k * 7), (short)(i * 3), 0x8A, 0x1B, 0x2C, 0x3D, 0x4E, 0x5F, (byte)i, (byte)k).ToString("D").ToUpperInvariant();
    }
}
