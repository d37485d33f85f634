// The fire-and-forget HttpClient peer, and xmcdp driven the same way, for `cargo xtask bench` (case 7).
//
// Many sites avoid the awaited POST's latency by starting `HttpClient.PostAsync` and not awaiting it. That is
// cheaper on the request thread than waiting, but the POST still does its connection and header work before it
// returns, nothing bounds what is in flight, and nothing survives an app-domain unload or an outage. Modes:
//
//   faf             request-thread cost of starting PostAsync (not awaited), 5,000 calls a second
//   faf-throughput  n posts started as fast as the thread can, then every one awaited: seconds and peak RSS
//   faf-shutdown    n posts at 5,000/s, then the process exits at once: what an app-domain unload does to work
//                   nobody registered (ASP.NET waits only for IRegisteredObject; pending tasks die with the domain)
//   xmcdp-shutdown  n TryPageView at 5,000/s, then CdpClient.Shutdown with the shipped 10 s flush deadline
//                   (XmCdpShutdown runs it from IRegisteredObject.Stop), then exit
//   faf-outage      n posts spread over a 10 s outage (the emulator resets every connection), then the process
//                   waits until nothing is in flight
//   xmcdp-outage    the same through TryPageView, default settings (retries, no spool); waits until settled
//   xmcdp-outage-spool  the same with a spool directory (spoolDirectory), so retries exhausted go to disk and are
//                   replayed when CDP is back
//
// Loss is counted by xtask from the emulator's accepted events (before the run and once the count has settled).
// ServicePointManager.DefaultConnectionLimit is 24 in every faf mode: what ASP.NET's processModel autoConfig
// gives a 2-core machine (12 per core); a console process would otherwise have 2.
using System;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using XmCdp;
using XmCdp.Events;

namespace XmCdp.Bench
{
    internal static class FireAndForget
    {
        private const string UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        private const string Url = "/products/bikes?utm_source=newsletter&utm_campaign=spring";
        private const int OutageSeconds = 10;
        private static readonly HttpClient Http = new HttpClient();
        private static readonly HttpClient Admin = new HttpClient();
        private static int s_ok, s_failed;
        private static string s_firstError;

        public static int Run(string mode, string url, int n, string[] bids)
        {
            ServicePointManager.DefaultConnectionLimit = 24;
            switch (mode)
            {
                case "faf": return Latency(url, n, bids);
                case "faf-throughput": return Throughput(url, n, bids);
                case "faf-shutdown": return FafShutdown(url, n, bids);
                case "xmcdp-shutdown": return XmcdpShutdown(url, n, bids);
                case "faf-outage": return FafOutage(url, n, bids);
                case "xmcdp-outage": return XmcdpOutage(url, n, bids, false);
                case "xmcdp-outage-spool": return XmcdpOutage(url, n, bids, true);
                default: return -1;
            }
        }

        /// <summary>Starts one POST and returns at once; a continuation counts the outcome and disposes.</summary>
        private static Task Post(string events, int i, string[] bids)
        {
            var body = "{\"type\":\"VIEW\",\"channel\":\"WEB\",\"currency\":\"EUR\",\"pos\":\"myretailsite/ireland\",\"browser_id\":\""
                + bids[i % bids.Length] + "\",\"language\":\"EN\",\"page\":\"bikes\",\"utm_source\":\"newsletter\",\"utm_campaign\":\"spring\",\"client_key\":\"ck_test\"}";
            var content = new StringContent(body, Encoding.UTF8, "application/json");
            return Http.PostAsync(events, content).ContinueWith(t =>
            {
                content.Dispose();
                if (t.Status == TaskStatus.RanToCompletion)
                {
                    if (t.Result.IsSuccessStatusCode) Interlocked.Increment(ref s_ok); else Interlocked.Increment(ref s_failed);
                    t.Result.Dispose();
                }
                else
                {
                    Interlocked.Increment(ref s_failed);
                    // Observed (no UnobservedTaskException); the first cause is reported with the figures.
                    var e = t.Exception == null ? null : t.Exception.GetBaseException();
                    if (e != null) Interlocked.CompareExchange(ref s_firstError, e.GetType().Name + ": " + e.Message, null);
                }
            }, TaskContinuationOptions.ExecuteSynchronously);
        }

        private static int Latency(string url, int n, string[] bids)
        {
            var events = url + "/v1.2/events";
            var tasks = new Task[n];
            int w = Math.Min(500, n);
            var warm = new Task[w];
            for (int i = 0; i < w; i++) warm[i] = Post(events, i, bids);
            Task.WaitAll(warm, TimeSpan.FromSeconds(60));
            Interlocked.Exchange(ref s_ok, 0);
            Interlocked.Exchange(ref s_failed, 0);
            var ticks = new long[n];
            long total = 0;
            var pace = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                tasks[i] = Post(events, i, bids);
                long dt = Stopwatch.GetTimestamp() - t0;
                ticks[i] = dt;
                total += dt;
                Pace(pace, i, 5000);
            }
            bool all = Task.WaitAll(tasks, TimeSpan.FromSeconds(120));
            Print(ticks, n, total, ",\"ok\":" + s_ok + ",\"failed\":" + s_failed + ",\"all_completed\":" + (all ? "true" : "false"));
            return 0;
        }

        private static int Throughput(string url, int n, string[] bids)
        {
            var events = url + "/v1.2/events";
            var tasks = new Task[n];
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < n; i++) tasks[i] = Post(events, i, bids);
            double startedAfter = clock.Elapsed.TotalSeconds;
            bool all = Task.WaitAll(tasks, TimeSpan.FromSeconds(300));
            double seconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine("{\"n\":" + n + ",\"ok\":" + s_ok + ",\"failed\":" + s_failed + ",\"all_completed\":" + (all ? "true" : "false")
                + ",\"seconds\":" + seconds.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)
                + ",\"all_started_after_s\":" + startedAfter.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)
                + ",\"peak_rss_kb\":" + PeakRssKb() + ",\"first_error\":" + JsonString(s_firstError) + "}");
            return 0;
        }

        private static int FafShutdown(string url, int n, string[] bids)
        {
            var events = url + "/v1.2/events";
            var pace = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
            {
                Post(events, i, bids);
                Pace(pace, i, 5000);
            }
            Console.WriteLine("{\"n\":" + n + ",\"ok_before_exit\":" + Volatile.Read(ref s_ok) + ",\"failed_before_exit\":" + Volatile.Read(ref s_failed) + "}");
            Console.Out.Flush();
            Environment.Exit(0);
            return 0;
        }

        private static int XmcdpShutdown(string url, int n, string[] bids)
        {
            var client = new CdpClient(Settings(url, null));
            int rejected = 0;
            var pace = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
            {
                if (client.TryPageView(View(i, bids)) != CdpStatus.Ok) rejected++;
                Pace(pace, i, 5000);
            }
            var clock = Stopwatch.StartNew();
            var status = client.Shutdown(TimeSpan.FromMilliseconds(10000));
            Console.WriteLine("{\"n\":" + n + ",\"rejected\":" + rejected + ",\"shutdown\":\"" + status + "\",\"shutdown_ms\":" + clock.ElapsedMilliseconds + "}");
            Console.Out.Flush();
            Environment.Exit(0);
            return 0;
        }

        private static int FafOutage(string url, int n, string[] bids)
        {
            var events = url + "/v1.2/events";
            var tasks = new Task[n];
            SetOutage(url, true);
            var pace = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
            {
                tasks[i] = Post(events, i, bids);
                Pace(pace, i, n / OutageSeconds);
            }
            SetOutage(url, false);
            bool all = Task.WaitAll(tasks, TimeSpan.FromSeconds(120));
            Console.WriteLine("{\"n\":" + n + ",\"ok\":" + s_ok + ",\"failed\":" + s_failed + ",\"all_completed\":" + (all ? "true" : "false") + "}");
            return 0;
        }

        private static int XmcdpOutage(string url, int n, string[] bids, bool spool)
        {
            string dir = null;
            if (spool)
            {
                dir = Path.Combine(Path.GetTempPath(), "xmcdp-bench-spool-" + Process.GetCurrentProcess().Id);
                Directory.CreateDirectory(dir);
            }
            var client = new CdpClient(Settings(url, dir));
            int rejected = 0;
            long before = Accepted(url);
            SetOutage(url, true);
            var pace = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
            {
                if (client.TryPageView(View(i, bids)) != CdpStatus.Ok) rejected++;
                Pace(pace, i, n / OutageSeconds);
            }
            SetOutage(url, false);
            // Delivery (and, with a spool, the replay) continues after the outage: wait until the emulator has them
            // all or its count has not moved for 3 s, as a live site would keep running.
            var clock = Stopwatch.StartNew();
            long last = -1, stableSince = 0;
            while (clock.ElapsedMilliseconds < 60000)
            {
                long got = Accepted(url) - before;
                if (got >= n - rejected) break;
                if (got != last) { last = got; stableSince = clock.ElapsedMilliseconds; }
                else if (clock.ElapsedMilliseconds - stableSince > 3000) break;
                Thread.Sleep(100);
            }
            long settleMs = clock.ElapsedMilliseconds;
            var stats = client.GetStats().Json;
            var status = client.Shutdown(TimeSpan.FromMilliseconds(10000));
            Console.WriteLine("{\"n\":" + n + ",\"rejected\":" + rejected + ",\"settle_ms\":" + settleMs + ",\"shutdown\":\"" + status + "\",\"stats\":" + stats + "}");
            client.Dispose();
            if (dir != null) try { Directory.Delete(dir, true); } catch (IOException) { }
            return 0;
        }

        private static CdpSettings Settings(string url, string spoolDir)
        {
            var s = new CdpSettings { ClientKey = "ck_test", PointOfSale = "myretailsite/ireland", Currency = "EUR", TargetUrl = url };
            if (spoolDir != null) s.SetNative("spoolDirectory", spoolDir);
            return s;
        }

        private static PageView View(int i, string[] bids) =>
            new PageView { BrowserId = bids[i % bids.Length], Language = "EN", Page = "bikes", Url = Url, UserAgent = UA };

        private static void SetOutage(string url, bool on)
        {
            var req = new HttpRequestMessage(on ? HttpMethod.Put : HttpMethod.Delete, url + "/__emulator/faults");
            if (on) req.Content = new StringContent("{\"outage\":true}", Encoding.UTF8, "application/json");
            using (var r = Admin.SendAsync(req).GetAwaiter().GetResult())
            {
                if (!r.IsSuccessStatusCode) throw new InvalidOperationException("emulator faults: " + (int)r.StatusCode);
            }
        }

        private static long Accepted(string url)
        {
            var json = Admin.GetStringAsync(url + "/__emulator/stats").GetAwaiter().GetResult();
            var m = Regex.Match(json, "\"accepted\"\\s*:\\s*(\\d+)");
            return m.Success ? long.Parse(m.Groups[1].Value) : -1;
        }

        private static string JsonString(string s)
        {
            if (s == null) return "null";
            var sb = new StringBuilder("\"");
            foreach (char c in s)
            {
                if (c == '"' || c == '\\') sb.Append('\\').Append(c);
                else if (c < ' ') sb.Append(' ');
                else sb.Append(c);
            }
            return sb.Append('"').ToString();
        }

        private static long PeakRssKb()
        {
            foreach (var line in File.ReadAllLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:")) return long.Parse(line.Substring(6).Trim().Split(' ')[0]);
            return 0;
        }

        private static void Pace(Stopwatch pace, int i, int perSecond)
        {
            long due = (long)(i + 1) * Stopwatch.Frequency / perSecond;
            while (pace.ElapsedTicks < due) Thread.Yield();
        }

        private static void Print(long[] ticks, int n, long total, string extra)
        {
            Array.Sort(ticks);
            Func<double, long> p = q => (long)(ticks[(int)Math.Round((n - 1) * q)] * 1e9 / Stopwatch.Frequency);
            Console.WriteLine("{\"n\":" + n + ",\"p50_ns\":" + p(0.5) + ",\"p90_ns\":" + p(0.9) + ",\"p99_ns\":" + p(0.99)
                + ",\"max_ns\":" + p(1.0) + ",\"mean_ns\":" + (long)(total * 1e9 / Stopwatch.Frequency / n) + extra + "}");
        }
    }
}
