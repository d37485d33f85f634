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
        public void ShippedConfig_PutsTrackVisitorAfterTransferRoutedRequestRightBeforeLayoutResolver()
        {
            var steps = _host.Get("/__host/pipeline?name=httpRequestBegin").Body.Split('\n').ToList();
            int transfer = steps.IndexOf("Sitecore.Mvc.Pipelines.HttpRequest.TransferRoutedRequest, Sitecore.Mvc");
            int ours = steps.IndexOf("XmCdp.Sitecore.Pipelines.HttpRequestBegin.TrackVisitor, XmCdp.Sitecore");
            int layout = steps.IndexOf("Sitecore.Pipelines.HttpRequest.LayoutResolver, Sitecore.Kernel");
            Assert.That(transfer, Is.GreaterThanOrEqualTo(0), string.Join("\n", steps));
            Assert.That(ours, Is.GreaterThan(transfer), string.Join("\n", steps));
            // Only the browser-tag filter (which needs the CdpContext TrackVisitor made) sits between them.
            Assert.That(steps.IndexOf("XmCdp.Sitecore.Pipelines.HttpRequestBegin.InjectBrowserTag, XmCdp.Sitecore"), Is.EqualTo(ours + 1), string.Join("\n", steps));
            Assert.That(layout, Is.EqualTo(ours + 2), string.Join("\n", steps));

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
            Assert.That(r.Body, Is.EqualTo("page=about tracked=yes view=AtRequestEnd identity=none"));
            Assert.That(r.SetCookieHeaders.Where(h => h.StartsWith("bid_")), Is.Empty, "the cookie is right: nothing to emit");

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
            Assert.That(r.Body, Is.EqualTo("page=bike tracked=yes view=AtRequestEnd identity=none"));

            var body = EmulatorClient.Body(_emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(10)).Single());
            Assert.That(body["language"], Is.EqualTo("DA"));
            Assert.That(((Dictionary<string, object>)body["ext"])["pageVariantId"], Is.EqualTo("exp1-b"));
        }

        [Test]
        public void DecisionServedByTheRendering_IsThePageVariantOfTheView()
        {
            var bid = _emulator.CreateBrowserId();
            var r = _host.Get("/products/bike?decide=hero_experiment&budget=2000", Bid(bid));
            var lines = r.Body.Split('\n');
            Assert.That(lines[0], Is.EqualTo("page=bike tracked=yes view=AtRequestEnd identity=none"), r.Body);
            var served = System.Text.RegularExpressions.Regex.Match(lines[1], "^decision hero_experiment Ok .*\\{\"variantId\":\"(hero-[ab])\"\\}$");
            Assert.That(served.Success, Is.True, r.Body);

            var events = _emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(10));
            Assert.That(events.Count, Is.EqualTo(1));
            var body = EmulatorClient.Body(events[0]);
            Assert.That(body["type"], Is.EqualTo("VIEW"));
            Assert.That(body["page"], Is.EqualTo("bike"));
            Assert.That(((Dictionary<string, object>)body["ext"])["pageVariantId"], Is.EqualTo(served.Groups[1].Value));
        }

        [Test]
        public void PagesEndingWithRedirectNotModified404Or500_SendNoView()
        {
            var bid = _emulator.CreateBrowserId();
            Assert.That(_host.Get("/cart?status=404", Bid(bid)).Status, Is.EqualTo(404));
            Assert.That(_host.Get("/checkout?status=500", Bid(bid)).Status, Is.EqualTo(500));
            // Response.Redirect / RedirectPermanent from a rendering or a redirect module, and a conditional GET.
            Assert.That(_host.Get("/cart?status=302", Bid(bid)).Status, Is.EqualTo(302));
            Assert.That(_host.Get("/checkout?status=301", Bid(bid)).Status, Is.EqualTo(301));
            Assert.That(_host.Get("/cart?status=304", Bid(bid)).Status, Is.EqualTo(304));
            Assert.That(_host.Get("/about", Bid(bid)).Status, Is.EqualTo(200));

            _emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(10));
            System.Threading.Thread.Sleep(300);
            var pages = _emulator.Events(bid).Select(e => EmulatorClient.Body(e)["page"]).ToList();
            Assert.That(pages, Is.EqualTo(new object[] { "about" }));
        }

        [Test]
        public void RoutedMvcRequest_WhoseUrlAlsoResolvesAnItem_IsNotTracked()
        {
            var bid = _emulator.CreateBrowserId();
            var routed = _host.Get("/products/compare", Bid(bid));
            Assert.That(routed.Body, Is.EqualTo("page=compare tracked=no"), "TransferRoutedRequest aborted the pipeline first");
            Assert.That(_host.Get("/about", Bid(bid)).Status, Is.EqualTo(200));
            _emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(10));
            System.Threading.Thread.Sleep(300);
            Assert.That(_emulator.Events(bid).Select(e => EmulatorClient.Body(e)["page"]).ToList(), Is.EqualTo(new object[] { "about" }));
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
            Assert.That(last.Body, Is.StringStarting("page=bike tracked=yes view=AtRequestEnd"));
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
            Assert.That(second.Body, Is.EqualTo("page=about tracked=yes view=AtRequestEnd identity=none"));

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
        public void FirstVisit_WithoutCookie_GetsTheEngageCookieAndItsViewReachesCdp()
        {
            var r = _host.Get("/about");
            Assert.That(r.Status, Is.EqualTo(200));
            Assert.That(r.Body, Is.EqualTo("page=about tracked=yes view=AtRequestEnd identity=none"));
            var set = r.SetCookieHeaders.Where(h => h.StartsWith("bid_ck_test=")).ToList();
            Assert.That(set.Count, Is.EqualTo(1), string.Join(" | ", r.SetCookieHeaders));
            // Through Response.Cookies (it survives the late rebuild the host models): a 2-year expiry, readable by the
            // Engage browser tag (no HttpOnly), SameSite=Lax, not Secure over plain http.
            Assert.That(set[0], Is.StringMatching("^bid_ck_test=[A-Za-z0-9._-]+; ").And.StringContaining("path=/").And.StringContaining("expires="));
            Assert.That(set[0], Is.StringContaining("SameSite=Lax").And.Not.StringContaining("HttpOnly").And.Not.StringContaining("ecure"));
            var cookie = r.Cookie("bid_ck_test");
            Assert.That(cookie, Is.Not.Null, string.Join(" | ", r.SetCookieHeaders));
            Assert.That(cookie.Expires.ToUniversalTime(), Is.EqualTo(DateTime.UtcNow.AddSeconds(63072000)).Within(TimeSpan.FromMinutes(5)));
            var bid = set[0].Substring("bid_ck_test=".Length, set[0].IndexOf(';') - "bid_ck_test=".Length);

            var events = _emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(10));
            Assert.That(events.Count, Is.EqualTo(1));
            Assert.That(EmulatorClient.Body(events[0])["page"], Is.EqualTo("about"));

            // The returning visitor sends the cookie back: same id, nothing new to emit.
            var again = _host.Get("/", Bid(bid));
            Assert.That(again.SetCookieHeaders.Where(h => h.StartsWith("bid_")), Is.Empty);
            Assert.That(_emulator.WaitForEvents(bid, 2, TimeSpan.FromSeconds(10)).Count, Is.EqualTo(2));
        }

        [Test]
        public void LegacyCookie_IsMigratedToTheCurrentName()
        {
            var bid = _emulator.CreateBrowserId();
            var r = _host.Get("/about", new Dictionary<string, string> { { "BID_ck_test", bid } });
            Assert.That(r.Body, Is.EqualTo("page=about tracked=yes view=AtRequestEnd identity=none"));
            Assert.That(r.SetCookieHeaders, Has.Some.StringStarting("bid_ck_test=" + bid + ";"));
            Assert.That(r.SetCookieHeaders, Has.Some.StringStarting("BID_ck_test="));
            Assert.That(_emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(10)).Count, Is.EqualTo(1));
        }

        [Test]
        public void Login_OnASecondBrowser_SendsIdentityAndMergesTheAnonymousGuestIntoTheCustomer()
        {
            var user = "e2e" + Guid.NewGuid().ToString("N").Substring(0, 8);
            var first = _emulator.CreateBrowserId();
            Assert.That(_host.Get("/", Bid(first, "stub_user", user)).Body, Is.EqualTo("page=home tracked=yes view=Ok identity=Ok"));
            _emulator.WaitForEvents(first, 2, TimeSpan.FromSeconds(10));
            var customer = _emulator.GuestRefOf(first);

            // Another device: anonymous first, then the same person logs in.
            var second = _emulator.CreateBrowserId();
            Assert.That(_host.Get("/about", Bid(second)).Body, Is.StringStarting("page=about tracked=yes"));
            var anonymous = _emulator.GuestRefOf(second);
            Assert.That(anonymous, Is.Not.EqualTo(customer));
            Assert.That(_host.Get("/about", Bid(second, "stub_user", user)).Body, Is.EqualTo("page=about tracked=yes view=Ok identity=Ok"));
            var events = _emulator.WaitForEvents(second, 3, TimeSpan.FromSeconds(10));
            Assert.That(events.Select(e => (string)EmulatorClient.Body(e)["type"]), Is.EqualTo(new[] { "VIEW", "VIEW", "IDENTITY" }));

            Assert.That(_emulator.GuestRefOf(second), Is.EqualTo(customer), "show.json names the surviving guest");
            var guest = _emulator.Guest(customer);
            Assert.That(guest["email"], Is.EqualTo(user + "@example.com"));
            Assert.That(_emulator.Guest(anonymous)["mergedInto"], Is.EqualTo(customer));
        }

        [Test]
        public void Rendering_GetsThePrefetchedDecisionsOfTheSiteAndTheProductsSection()
        {
            var bid = _emulator.CreateBrowserId();
            var guest = _emulator.GuestRefOf(bid);
            var r = _host.Get("/products/bike?decide=home_page_banner,hero_experiment,no_such_flow&budget=2000", Bid(bid));
            Assert.That(r.Status, Is.EqualTo(200));
            var lines = r.Body.Split('\n');
            Assert.That(lines[0], Is.EqualTo("page=bike tracked=yes view=AtRequestEnd identity=none"));
            Assert.That(lines[1], Is.StringMatching("^decision home_page_banner Ok prefetched=yes ms=\\d+ \\{\"variantId\":\"banner-[a-z]+\",\"guestRef\":\"" + guest + "\"\\}$"), r.Body);
            Assert.That(lines[2], Is.StringMatching("^decision hero_experiment Ok prefetched=yes ms=\\d+ \\{\"variantId\":\"hero-[ab]\"\\}$"), r.Body);
            Assert.That(lines[3], Is.StringMatching("^decision no_such_flow FlowNotFound prefetched=no ms=\\d+ \\{\"variantId\":\"default\"\\}$"), r.Body);

            // Outside the products section only the site-wide flow is prefetched.
            var home = _host.Get("/?decide=hero_experiment&budget=2000", Bid(bid));
            Assert.That(home.Body.Split('\n')[1], Is.StringStarting("decision hero_experiment Ok prefetched=no"), home.Body);
        }

        [Test]
        public void Goals_FromCSharp_ReachCdpInTheVisitorsSession()
        {
            var bid = _emulator.CreateBrowserId();
            Assert.That(_host.Get("/cart?add=SKU-X1", Bid(bid)).Body, Is.EqualTo("page=cart tracked=yes view=AtRequestEnd identity=none goal=ADD:Ok"));
            Assert.That(_host.Get("/checkout?order=ORDER-1", Bid(bid)).Body, Is.EqualTo("page=checkout tracked=yes view=AtRequestEnd identity=none goal=CHECKOUT:Ok"));
            var types = _emulator.WaitForEvents(bid, 4, TimeSpan.FromSeconds(10)).Select(e => (string)EmulatorClient.Body(e)["type"]).ToList();
            Assert.That(types, Is.EqualTo(new[] { "VIEW", "ADD", "VIEW", "CHECKOUT" }));
        }

        [Test]
        public void HostileCookiesAndQueryStrings_AreRejectedAndThePageIsUnaffected()
        {
            var r = _host.Get("/about?utm_source=%22%3B%20DROP%20TABLE&variantid=a%0d%0aSet-Cookie:%20evil=1&sc_lang=..%2F..%2Fx%00%ff",
                new Dictionary<string, string> { { "bid_ck_test", "..%2F..%2Fevil" }, { "BID_ck_test", "%3Cscript%3Eevil" } });
            Assert.That(r.Status, Is.EqualTo(200), r.Body);
            Assert.That(r.Body, Is.StringStarting("page=about tracked="), r.Body);
            Assert.That(string.Join("|", r.SetCookieHeaders), Is.Not.StringContaining("evil").And.Not.StringContaining("script"));
            var huge = _host.Get("/about?q=" + new string('x', 1500), new Dictionary<string, string> { { "bid_ck_test", new string('y', 1500) } });
            Assert.That(huge.Status, Is.EqualTo(200));
            Assert.That(huge.Body, Is.StringStarting("page=about tracked="));
            var log = _host.Get("/__host/log").Body;
            Assert.That(log, Is.Not.StringContaining("evil").And.Not.StringContaining("yyyyyyyy"));
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
                    Assert.That(r.Body, Is.EqualTo("page=about tracked=yes view=AtRequestEnd identity=none"));
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
        public void CdpDownOrSlow_PagesAnswerWithinBudgetAndRenderTheFallback()
        {
            var emulator = EmulatorClient.FromEnvironment();
            using (var host = XspHost.Start(emulator.BaseUrl))
            {
                var bid = emulator.CreateBrowserId();
                Assert.That(host.Get("/__host/log").Status, Is.EqualTo(200), "warm-up");
                try
                {
                    foreach (var faults in new[] { "{\"outage\":true}", "{\"routes\":{\"*\":{\"latency_ms\":3000}}}" })
                    {
                        emulator.SetFaults(faults);
                        var sw = System.Diagnostics.Stopwatch.StartNew();
                        var known = host.Get("/products/bike?decide=home_page_banner,hero_experiment&budget=150", new Dictionary<string, string> { { "bid_ck_test", bid } });
                        var known_ms = sw.ElapsedMilliseconds;
                        sw.Restart();
                        var first = host.Get("/about?decide=home_page_banner&budget=150");
                        var first_ms = sw.ElapsedMilliseconds;

                        Assert.That(known.Status, Is.EqualTo(200), faults);
                        var lines = known.Body.Split('\n');
                        Assert.That(lines[0], Is.EqualTo("page=bike tracked=yes view=AtRequestEnd identity=none"), faults);
                        Assert.That(lines[1], Is.StringStarting("decision home_page_banner ").And.StringEnding("{\"variantId\":\"default\"}"), faults);
                        Assert.That(lines[2], Is.StringEnding("{\"variantId\":\"default\"}"), faults);
                        Assert.That(known_ms, Is.LessThan(1500), faults + ": the decision budget was not honoured");
                        Assert.That(first.Status, Is.EqualTo(200), faults);
                        Assert.That(first_ms, Is.LessThan(1500), faults + ": a first visit waited on CDP beyond BrowserIdBudgetMs");
                    }
                }
                finally
                {
                    emulator.SetFaults("{}");
                }
            }
        }

        [Test]
        public void WrongSiteSetting_SiteWorksUntrackedWithOneClearLogLine()
        {
            var emulator = EmulatorClient.FromEnvironment();
            var wrong = new Dictionary<string, string> { { "XmCdp.website.targetUrl", "not a url" } };
            using (var host = XspHost.Start(emulator.BaseUrl, appSettings: wrong))
            {
                var r = host.Get("/about?decide=home_page_banner", new Dictionary<string, string> { { "bid_ck_test", "b-1" } });
                Assert.That(r.Status, Is.EqualTo(200));
                Assert.That(r.Body, Is.EqualTo("page=about tracked=no\ndecision home_page_banner Untracked fallback"));
                Assert.That(host.Get("/").Status, Is.EqualTo(200));
                var errors = host.Get("/__host/log").Body.Split('\n').Where(l => l.StartsWith("ERROR")).ToList();
                Assert.That(errors.Count, Is.EqualTo(1), string.Join("\n", errors));
                Assert.That(errors[0], Is.StringStarting("ERROR XmCdp: site 'website' is not tracked: XmCdp: creating the client for ck_test failed with status 24 (InvalidUrl)"));
                Assert.That(errors[0], Is.Not.StringContaining("tok_SECRET_e2e"));
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
