using System;
using System.Collections.Generic;
using System.Linq;
using NUnit.Framework;
using XmCdp.TestSupport;

namespace XmCdp.Sitecore.Tests.EndToEnd
{
    /// <summary>
    /// Real HTTP requests through a System.Web application (xsp4) whose pipelines are built from the SHIPPED
    /// XmCdp.config, with the real native library delivering to xmcdp-emulator. Each test uses its own browser id
    /// (minted by the emulator), so tests are independent; the shutdown fixture runs in its own host.
    /// </summary>
    [TestFixture]
    public class EndToEndTests
    {
        private EmulatorClient _emulator;
        private XspHost _host;

        [TestFixtureSetUp]
        public void StartHost()
        {
            _emulator = EmulatorClient.FromEnvironment();
            _host = XspHost.Start(_emulator.BaseUrl);
            // The first request compiles Global.asax and runs the initialize pipeline.
            var warm = _host.Get("/__host/log");
            Assert.That(warm.Status, Is.EqualTo(200), warm.Body + "\n" + _host.Output);
        }

        [TestFixtureTearDown]
        public void StopHost()
        {
            _host?.Dispose();
        }

        private static Dictionary<string, string> Bid(string bid, params string[] more)
        {
            var d = new Dictionary<string, string> { { "bid_ck_test", bid } };
            for (int i = 0; i + 1 < more.Length; i += 2) d[more[i]] = more[i + 1];
            return d;
        }

        [Test]
        public void ShippedConfig_PutsTrackVisitorRightAfterItemResolver()
        {
            var steps = _host.Get("/__host/pipeline?name=httpRequestBegin").Body.Split('\n').ToList();
            int item = steps.IndexOf("Sitecore.Pipelines.HttpRequest.ItemResolver, Sitecore.Kernel");
            int ours = steps.IndexOf("XmCdp.Sitecore.Pipelines.HttpRequestBegin.TrackVisitor, XmCdp.Sitecore");
            Assert.That(item, Is.GreaterThanOrEqualTo(0), string.Join("\n", steps));
            Assert.That(ours, Is.EqualTo(item + 1), string.Join("\n", steps));

            var init = _host.Get("/__host/pipeline?name=initialize").Body;
            Assert.That(init, Is.StringContaining("XmCdp.Sitecore.Pipelines.Initialize.InitializeXmCdp, XmCdp.Sitecore"));
        }

        [Test]
        public void Startup_LoadsTheLibraryAndTracksTheSiteWithoutLoggingTheToken()
        {
            var log = _host.Get("/__host/log").Body;
            Assert.That(log, Is.StringContaining("INFO XmCdp: native library loaded from"), log);
            Assert.That(log, Is.StringContaining("INFO XmCdp: tracking site 'website'"), log);
            Assert.That(log, Is.StringContaining("api_token=set"), log);
            Assert.That(log, Is.StringContaining("INFO XmCdp: shutdown hook registered"), log);
            Assert.That(log, Is.Not.StringContaining("tok_SECRET_e2e"));
            Assert.That(log, Is.Not.StringContaining("ERROR"), log);
        }

        [Test]
        public void PageRequest_WithBrowserIdCookie_RefreshesCookieAndDeliversView()
        {
            var bid = _emulator.CreateBrowserId();
            var r = _host.Get("/about?utm_source=newsletter&UTM_Campaign=spring", Bid(bid),
                new Dictionary<string, string> { { "Referer", "https://www.google.com/search?q=bikes" } });

            Assert.That(r.Status, Is.EqualTo(200), r.Body);
            Assert.That(r.Body, Is.EqualTo("page=about tracked=yes view=Ok identity=none"));
            Assert.That(r.Cookie("bid_ck_test"), Is.Not.Null, string.Join(" | ", r.SetCookieHeaders));
            Assert.That(r.Cookie("bid_ck_test").Value, Is.EqualTo(bid));

            var events = _emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(10));
            Assert.That(events.Count, Is.EqualTo(1));
            var body = EmulatorClient.Body(events[0]);
            Assert.That(body["type"], Is.EqualTo("VIEW"));
            Assert.That(body["page"], Is.EqualTo("about"));
            Assert.That(body["language"], Is.EqualTo("EN"));
            Assert.That(body["pos"], Is.EqualTo("myretailsite/ireland"));
            Assert.That(body["currency"], Is.EqualTo("EUR"));
            Assert.That(body["channel"], Is.EqualTo("WEB"));
            Assert.That(body["utm_source"], Is.EqualTo("newsletter"));
            Assert.That(body["utm_campaign"], Is.EqualTo("spring"));
            Assert.That(body["referrer"], Is.EqualTo("https://www.google.com/search?q=bikes"));
        }

        [Test]
        public void LanguageAndVariant_AreSentAsCdpExpectsThem()
        {
            var bid = _emulator.CreateBrowserId();
            var r = _host.Get("/products/bike?sc_lang=da-DK&variantid=exp1-b", Bid(bid));
            Assert.That(r.Body, Is.EqualTo("page=bike tracked=yes view=Ok identity=none"));

            var body = EmulatorClient.Body(_emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(10)).Single());
            Assert.That(body["language"], Is.EqualTo("DA"));
            Assert.That(((Dictionary<string, object>)body["ext"])["pageVariantId"], Is.EqualTo("exp1-b"));
        }

        [Test]
        public void Guards_BotsShellEditorMediaAndMissingItemsAreNotTracked()
        {
            var bid = _emulator.CreateBrowserId();
            var skipped = new List<XspHost.Response>
            {
                _host.Get("/about", Bid(bid), userAgent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
                _host.Get("/sitecore/shell/default", Bid(bid)),
                _host.Get("/about?sc_mode=edit", Bid(bid)),
                _host.Get("/about?sc_mode=preview", Bid(bid)),
                _host.Get("/-/media/logo.png", Bid(bid)),
                _host.Get("/no/such/page", Bid(bid)),
            };
            foreach (var r in skipped)
            {
                Assert.That(r.Body, Is.Not.StringContaining("tracked=yes"), r.Body);
                Assert.That(r.Cookie("bid_ck_test"), Is.Null, r.Body);
            }
            Assert.That(skipped[5].Status, Is.EqualTo(404));

            // Events of one visitor are delivered in order: once this one arrives, any earlier one would have too.
            var last = _host.Get("/products/bike", Bid(bid));
            Assert.That(last.Body, Is.StringStarting("page=bike tracked=yes view=Ok"));
            var events = _emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(10));
            Assert.That(events.Count, Is.EqualTo(1));
            Assert.That(EmulatorClient.Body(events[0])["page"], Is.EqualTo("bike"));
        }

        [Test]
        public void LoggedInUser_SendsIdentityOncePerLogin()
        {
            var bid = _emulator.CreateBrowserId();
            var first = _host.Get("/", Bid(bid, "stub_user", "jane"));
            Assert.That(first.Body, Is.EqualTo("page=home tracked=yes view=Ok identity=Ok"));
            var marker = first.Cookie("xmcdp_idn_ck_test");
            Assert.That(marker, Is.Not.Null, string.Join(" | ", first.SetCookieHeaders));
            Assert.That(marker.Value, Is.Not.StringContaining("jane"));

            var second = _host.Get("/about", Bid(bid, "stub_user", "jane", "xmcdp_idn_ck_test", marker.Value));
            Assert.That(second.Body, Is.EqualTo("page=about tracked=yes view=Ok identity=none"));

            var events = _emulator.WaitForEvents(bid, 3, TimeSpan.FromSeconds(10));
            var types = events.Select(e => (string)EmulatorClient.Body(e)["type"]).ToList();
            Assert.That(types, Is.EqualTo(new[] { "VIEW", "IDENTITY", "VIEW" }));
            var identity = EmulatorClient.Body(events[1]);
            Assert.That(identity["email"], Is.EqualTo("jane@example.com"));
            var id = (Dictionary<string, object>)((System.Collections.ArrayList)identity["identifiers"])[0];
            Assert.That(id["provider"], Is.EqualTo("email"));
            Assert.That(id["id"], Is.EqualTo("jane@example.com"));
        }

        [Test]
        public void NewVisitorWithoutCookie_PageRendersUntrackedAndTheGapIsLoggedOnce()
        {
            var a = _host.Get("/about");
            var b = _host.Get("/about");
            Assert.That(a.Status, Is.EqualTo(200));
            Assert.That(a.Body, Is.EqualTo("page=about tracked=no"));
            Assert.That(b.Body, Is.EqualTo("page=about tracked=no"));
            Assert.That(a.Cookie("bid_ck_test"), Is.Null);

            var log = _host.Get("/__host/log").Body.Split('\n');
            Assert.That(log.Count(l => l.StartsWith("WARN XmCdp: a visitor without a browser id cookie")), Is.EqualTo(1), string.Join("\n", log));
        }
    }

    /// <summary>Tracking must never cost the page: a slow CDP or a missing native library leaves pages fast and working.</summary>
    [TestFixture]
    public class EndToEndFailOpenTests
    {
        [Test]
        public void SlowCdp_PageDoesNotWaitAndTheEventArrivesLater()
        {
            var emulator = EmulatorClient.FromEnvironment();
            using (var host = XspHost.Start(emulator.BaseUrl))
            {
                var bid = emulator.CreateBrowserId();
                Assert.That(host.Get("/__host/log").Status, Is.EqualTo(200), "warm-up: compiles Global.asax, runs initialize");
                emulator.SetFaults("{\"routes\":{\"events\":{\"latency_ms\":3000}}}");
                try
                {
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    var r = host.Get("/about", new Dictionary<string, string> { { "bid_ck_test", bid } });
                    sw.Stop();
                    Assert.That(r.Body, Is.EqualTo("page=about tracked=yes view=Ok identity=none"));
                    Assert.That(sw.ElapsedMilliseconds, Is.LessThan(1000), "the request thread waited on CDP");
                    Assert.That(emulator.Events(bid), Is.Empty, "delivered before the injected latency elapsed");
                    var events = emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(15));
                    Assert.That(events.Count, Is.EqualTo(1));
                }
                finally
                {
                    emulator.SetFaults("{}");
                }
            }
        }

        [Test]
        public void MissingNativeLibrary_SiteStartsPagesRenderAndTheCauseIsLoggedOnce()
        {
            var emulator = EmulatorClient.FromEnvironment();
            using (var host = XspHost.Start(emulator.BaseUrl, nativeLibrary: "/nonexistent/libxmcdp.so"))
            {
                var r = host.Get("/about", new Dictionary<string, string> { { "bid_ck_test", "b-1" } });
                Assert.That(r.Status, Is.EqualTo(200));
                Assert.That(r.Body, Is.EqualTo("page=about tracked=no"));
                Assert.That(host.Get("/about").Status, Is.EqualTo(200));

                var log = host.Get("/__host/log").Body.Split('\n');
                var errors = log.Where(l => l.StartsWith("ERROR XmCdp: tracking is off: XmCdp: could not load the native library libxmcdp.so")).ToList();
                Assert.That(errors.Count, Is.EqualTo(1), string.Join("\n", log));
                Assert.That(errors[0], Is.StringContaining("dllmap"));
            }
        }
    }

    /// <summary>The shutdown path xsp cannot trigger by itself (no RegisterObject support): flush, then tracking stops.</summary>
    [TestFixture]
    public class EndToEndShutdownTests
    {
        [Test]
        public void ShutdownAll_FlushesQueuedEventsAndStopsTracking()
        {
            var emulator = EmulatorClient.FromEnvironment();
            using (var host = XspHost.Start(emulator.BaseUrl))
            {
                var bid = emulator.CreateBrowserId();
                for (int i = 0; i < 5; i++)
                    Assert.That(host.Get("/about?n=" + i, Bid(bid)).Body, Is.StringContaining("tracked=yes"));

                Assert.That(host.Get("/__host/shutdown").Body, Is.EqualTo("shut down"));
                // Everything queued before the shutdown was delivered by the time it returned.
                Assert.That(emulator.Events(bid).Count, Is.EqualTo(5));

                var after = host.Get("/about", Bid(bid));
                Assert.That(after.Body, Is.EqualTo("page=about tracked=no"));
                var log = host.Get("/__host/log").Body;
                Assert.That(log, Is.StringContaining("INFO XmCdp: all clients shut down"), log);
            }
        }

        private static Dictionary<string, string> Bid(string bid) => new Dictionary<string, string> { { "bid_ck_test", bid } };
    }
}
