using System;
using System.Linq;
using NUnit.Framework;
using Sitecore.Pipelines.HttpRequest;
using XmCdp.Events;
using XmCdp.Sitecore.Pipelines.HttpRequestBegin;
using Context = Sitecore.Context;
using Log = Sitecore.Diagnostics.Log;

namespace XmCdp.Sitecore.Tests
{
    [TestFixture]
    public class TrackVisitorTests
    {
        private const string Bid = "a38b230c-11eb-4cf9-8d5d-274e9f344925";
        private RecordingClient _client;
        private TrackVisitor _processor;

        [SetUp]
        public void SetUp()
        {
            Log.Clear();
            Context.Reset();
            XmCdpSites.Clear();
            _client = new RecordingClient("ck_test");
            var settings = new CdpSettings { ClientKey = "ck_test", PointOfSale = "myretailsite/ireland" };
            XmCdpSites.Register(new SiteBinding("website", settings, _client));
            _processor = new TrackVisitor();
            _processor.AddBotUserAgent("bot");
            _processor.AddBotUserAgent("spider");
            Context.Site = new global::Sitecore.Sites.SiteContext("website");
            Context.Item = new global::Sitecore.Data.Items.Item(new global::Sitecore.Data.ID(Guid.NewGuid()), "home", "/sitecore/content/home");
            Context.Language = global::Sitecore.Globalization.Language.Parse("en-GB");
            Context.SetPageMode(Context.StubPageMode.Normal);
        }

        [TearDown]
        public void TearDown()
        {
            XmCdpSites.Clear();
            Context.Reset();
        }

        private FakeHttpContext Visitor(string url = "http://www.example.com/home?utm_source=google&x=1")
        {
            return new FakeHttpContext(url).WithCookie("bid_ck_test", Bid);
        }

        private HttpRequestArgs Run(FakeHttpContext http)
        {
            var args = new HttpRequestArgs(http);
            _processor.Process(args);
            Assert.That(args.Aborted, Is.False, "a tracking processor must never abort the pipeline");
            return args;
        }

        [Test]
        public void Process_NormalPage_EnqueuesViewWithPageLanguageUrlAndUserAgent()
        {
            var http = Visitor();
            Run(http);

            Assert.That(_client.Views.Count, Is.EqualTo(1));
            var v = _client.Views[0];
            Assert.That(v.BrowserId, Is.EqualTo(Bid));
            Assert.That(v.Page, Is.EqualTo("home"));
            Assert.That(v.Language, Is.EqualTo("EN"));
            Assert.That(v.Url, Is.EqualTo("/home?utm_source=google&x=1"));
            Assert.That(v.IncludeUtm, Is.True);
            Assert.That(v.UserAgent, Is.StringContaining("Firefox"));
            Assert.That(v.Referrer, Is.Null);
            Assert.That(v.PageVariantId, Is.Null);
        }

        [Test]
        public void Process_VisitorWithCookie_PassesTheRawCookieHeaderAndEmitsNoCookie()
        {
            var http = Visitor().WithCookie("other", "1");
            Run(http);

            Assert.That(_client.CookieHeaders.Single(), Is.EqualTo("bid_ck_test=" + Bid + "; other=1"));
            Assert.That(_client.Views.Single().BrowserId, Is.EqualTo(Bid));
            Assert.That(http.FakeResponse.SetCookieHeaders, Is.Empty, "the cookie is right: nothing to emit");
        }

        [Test]
        public void Process_FirstVisit_GetsTheNewBrowserIdCookieAndIsTracked()
        {
            var http = new FakeHttpContext("https://www.example.com/home");
            Run(http);

            Assert.That(_client.CookieHeaders.Single(), Is.Null);
            Assert.That(_client.Views.Single().BrowserId, Is.EqualTo("new-bid-1"));
            Assert.That(CdpContext.From(http).BrowserId, Is.EqualTo("new-bid-1"));
        }

        [Test]
        public void Process_FirstVisit_CookieSurvivesTheRebuildOfSetCookieFromResponseCookies()
        {
            var http = new FakeHttpContext("https://www.example.com/home");
            Run(http);

            // The end-of-request change of Response.Cookies (session id removal) rebuilt Set-Cookie from the collection.
            var sent = http.FakeResponse.SetCookieHeaders;
            Assert.That(sent.Count, Is.EqualTo(1), string.Join(" | ", sent));
            Assert.That(sent[0], Is.StringStarting("bid_ck_test=new-bid-1; expires="));
            Assert.That(sent[0], Is.StringContaining("SameSite=Lax").And.StringContaining("; secure"));
            Assert.That(sent[0], Is.Not.StringContaining("HttpOnly"), "the Engage browser tag reads this cookie from JavaScript");
            var cookie = http.FakeResponse.Cookies["bid_ck_test"];
            Assert.That(cookie.Path, Is.StringStarting("/"));
            Assert.That(cookie.Domain, Is.Null);
            Assert.That(cookie.Expires.ToUniversalTime(), Is.EqualTo(DateTime.UtcNow.AddSeconds(63072000)).Within(TimeSpan.FromMinutes(1)));
        }

        [Test]
        public void Process_CookieDomainAndSchemeFromTheNativeValueAndTheRequest()
        {
            _client.CookieDomain = ".example.com";
            var http = new FakeHttpContext("http://www.example.com/home");
            Run(http);

            var cookie = http.FakeResponse.Cookies["bid_ck_test"];
            Assert.That(cookie.Domain, Is.EqualTo(".example.com"));
            Assert.That(cookie.Secure, Is.False, "plain http: a Secure cookie would never come back");
            Assert.That(http.FakeResponse.SetCookieHeaders.Single(), Is.Not.StringContaining("secure"));
        }

        [Test]
        public void Process_ForwardedProto_MakesTheCookieSecureOnlyWhenTheHeaderIsTrusted()
        {
            var untrusted = new FakeHttpContext("http://www.example.com/home").WithHeader("X-Forwarded-Proto", "https");
            Run(untrusted);
            Assert.That(untrusted.FakeResponse.Cookies["bid_ck_test"].Secure, Is.False, "off by default: any client can send the header");

            _processor.ForwardedProtoHeader = "X-Forwarded-Proto";
            var trusted = new FakeHttpContext("http://www.example.com/home").WithHeader("X-Forwarded-Proto", "HTTPS");
            Run(trusted);
            Assert.That(trusted.FakeResponse.Cookies["bid_ck_test"].Secure, Is.True);
            var plain = new FakeHttpContext("http://www.example.com/home").WithHeader("X-Forwarded-Proto", "http");
            Run(plain);
            Assert.That(plain.FakeResponse.Cookies["bid_ck_test"].Secure, Is.False);
        }

        [Test]
        public void Process_OnlyLegacyCookie_TracksAndEmitsBothMigrationCookiesInOrder()
        {
            var http = new FakeHttpContext("http://www.example.com/home").WithCookie("BID_ck_test", Bid);
            Run(http);

            Assert.That(_client.Views.Single().BrowserId, Is.EqualTo(Bid));
            var sent = http.FakeResponse.SetCookieHeaders;
            Assert.That(sent.Count, Is.EqualTo(2), string.Join(" | ", sent));
            Assert.That(sent[0], Is.StringStarting("bid_ck_test=" + Bid + ";"));
            Assert.That(sent[1], Is.StringStarting("BID_ck_test=;"));
            Assert.That(http.FakeResponse.Cookies[1].Name, Is.EqualTo("BID_ck_test"), "names are case-insensitive in HttpCookieCollection: both must stay");
            Assert.That(http.FakeResponse.Cookies[1].Expires, Is.LessThan(DateTime.Now), "Max-Age=0: the browser deletes it");
        }

        [Test]
        public void NoCodePath_AppendsSetCookieByHand()
        {
            // System.Web rebuilds Set-Cookie from Response.Cookies: a header appended by hand can silently vanish.
            var offenders = IlCalls.Find(typeof(TrackVisitor).Assembly, m =>
                (m.DeclaringType == typeof(System.Web.HttpResponseBase) || m.DeclaringType == typeof(System.Web.HttpResponse))
                && (m.Name == "AppendHeader" || m.Name == "AddHeader" || m.Name == "get_Headers"));
            Assert.That(offenders, Is.Empty);
        }

        [Test]
        public void Process_NoBrowserIdAvailable_SkipsAndWarnsOnceWithStatus()
        {
            _client.BrowserIdStatus = CdpStatus.ConnectFailed;
            var a = new FakeHttpContext("http://www.example.com/home");
            Run(a);
            Run(new FakeHttpContext("http://www.example.com/home"));

            Assert.That(_client.Views, Is.Empty);
            Assert.That(a.FakeResponse.SetCookieHeaders, Is.Empty);
            Assert.That(CdpContext.From(a), Is.Null);
            var warnings = Log.Entries().Where(e => e.StartsWith("WARN XmCdp: ")).ToList();
            Assert.That(warnings.Count, Is.EqualTo(1), string.Join("\n", Log.Entries()));
            Assert.That(warnings[0], Is.StringContaining("browser id").And.StringContaining("65 (ConnectFailed)"));
        }

        [Test]
        public void Process_MalformedCookie_IsNeverEchoedAndTheVisitorGetsAFreshId()
        {
            var http = new FakeHttpContext("http://www.example.com/home").WithCookie("bid_ck_test", "x\r\nSet-Cookie: evil=1");
            Run(http);

            Assert.That(_client.Views.Single().BrowserId, Is.EqualTo("new-bid-1"));
            Assert.That(string.Join("|", http.FakeResponse.SetCookieHeaders), Is.Not.StringContaining("evil"));
            Assert.That(Log.Entries().Any(e => e.Contains("evil")), Is.False);
        }

        [Test]
        public void Process_ConfiguredFlows_ArePrefetchedForTheSiteAndMatchingItemPaths()
        {
            XmCdpSites.Register(new SiteBinding("website", new CdpSettings { ClientKey = "ck_test", Channel = "WEB", Currency = "EUR" }, _client,
                SiteDecisions.Parse("home_page_banner", "/sitecore/content/home/products=hero_experiment,home_page_banner;/sitecore/content/other=nope")));
            Context.Item = new global::Sitecore.Data.Items.Item(new global::Sitecore.Data.ID(Guid.NewGuid()), "bike", "/sitecore/content/home/products/bike");
            var http = Visitor();
            Run(http);

            Assert.That(_client.Started.Select(r => r.FriendlyId), Is.EqualTo(new[] { "home_page_banner", "hero_experiment" }));
            var req = _client.Started[0];
            Assert.That(req.BrowserId, Is.EqualTo(Bid));
            Assert.That(req.Language, Is.EqualTo("EN"));
            Assert.That(req.Channel, Is.EqualTo("WEB"));
            Assert.That(req.Currency, Is.EqualTo("EUR"));
            Assert.That(CdpContext.From(http).Prefetched, Is.EqualTo(new[] { "home_page_banner", "hero_experiment" }));

            // The home page matches only the site-wide flow ("/sitecore/content/home" is not under ".../products").
            _client.Started.Clear();
            Context.Item = new global::Sitecore.Data.Items.Item(new global::Sitecore.Data.ID(Guid.NewGuid()), "home", "/sitecore/content/home");
            Run(Visitor());
            Assert.That(_client.Started.Select(r => r.FriendlyId), Is.EqualTo(new[] { "home_page_banner" }));
        }

        [Test]
        public void CdpContext_Decide_UsesThePrefetchedTicketElseDecidesOnceAndNeverThrows()
        {
            XmCdpSites.Register(new SiteBinding("website", new CdpSettings { ClientKey = "ck_test" }, _client, SiteDecisions.Parse("home_page_banner", null)));
            var http = Visitor();
            Run(http);
            var ctx = CdpContext.From(http);

            var pre = ctx.Decide("home_page_banner", TimeSpan.FromMilliseconds(50));
            Assert.That(pre.Message, Is.EqualTo("prefetched home_page_banner"));
            Assert.That(_client.Decided, Is.Empty);

            var now = ctx.Decide("other_flow", TimeSpan.FromMilliseconds(50));
            var again = ctx.Decide("other_flow", TimeSpan.FromMilliseconds(50));
            Assert.That(now.Outcome, Is.EqualTo(XmCdp.Decisions.DecisionOutcome.FlowNotFound));
            Assert.That(again, Is.SameAs(now));
            Assert.That(_client.Decided.Count, Is.EqualTo(1));
            Assert.That(now.JsonOr("{\"variantId\":\"default\"}"), Is.EqualTo("{\"variantId\":\"default\"}"));

            _client.Closed = true;
            var closed = ctx.Decide("third_flow", TimeSpan.FromMilliseconds(50));
            Assert.That(closed.IsOk, Is.False);
            Assert.That(ctx.Served.Count, Is.EqualTo(3));
        }

        [TestCase("a=b")]
        [TestCase("/sitecore/content/x")]
        [TestCase("/sitecore/content/x=")]
        public void SiteDecisions_MalformedPrefetchPaths_AreRejected(string value)
        {
            Assert.Throws<ArgumentException>(() => SiteDecisions.Parse(null, value));
        }

        [TestCase("shell")]
        [TestCase("admin")]
        [TestCase("login")]
        public void Process_SystemSite_Skipped(string site)
        {
            XmCdpSites.Register(new SiteBinding(site, new CdpSettings { ClientKey = "ck_test" }, _client));
            Context.Site = new global::Sitecore.Sites.SiteContext(site);
            Run(Visitor());
            Assert.That(_client.Views, Is.Empty);
        }

        [Test]
        public void Process_SiteWithoutBinding_Skipped()
        {
            Context.Site = new global::Sitecore.Sites.SiteContext("othersite");
            Run(Visitor());
            Assert.That(_client.Views, Is.Empty);
        }

        [TestCase(Context.StubPageMode.ExperienceEditor)]
        [TestCase(Context.StubPageMode.Preview)]
        [TestCase(Context.StubPageMode.Debugging)]
        public void Process_NonNormalPageMode_Skipped(Context.StubPageMode mode)
        {
            Context.SetPageMode(mode);
            Run(Visitor());
            Assert.That(_client.Views, Is.Empty);
        }

        [Test]
        public void Process_NoContextItem_Skipped()
        {
            Context.Item = null;
            Run(Visitor());
            Assert.That(_client.Views, Is.Empty);
        }

        [TestCase("http://www.example.com/-/media/images/logo.png")]
        [TestCase("http://www.example.com/~/media/images/logo.png")]
        [TestCase("http://www.example.com/sitecore/shell/default.aspx")]
        [TestCase("http://www.example.com/api/sitecore/cart")]
        [TestCase("http://www.example.com/styles/site.css")]
        [TestCase("http://www.example.com/robots.txt")]
        public void Process_MediaStaticOrApiPath_Skipped(string url)
        {
            Run(Visitor(url));
            Assert.That(_client.Views, Is.Empty);
        }

        [Test]
        public void Process_AspxPage_Tracked()
        {
            Run(Visitor("http://www.example.com/default.aspx"));
            Assert.That(_client.Views.Count, Is.EqualTo(1));
        }

        [TestCase("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")]
        [TestCase("Baiduspider+(+http://www.baidu.com/search/spider.htm)")]
        [TestCase("")]
        public void Process_BotOrMissingUserAgent_Skipped(string ua)
        {
            Run(Visitor().WithHeader("User-Agent", ua));
            Assert.That(_client.Views, Is.Empty);
        }

        [Test]
        public void Process_ConsentRequiredWithoutCookie_Skipped()
        {
            _processor.ConsentCookieName = "cookie_consent";
            Run(Visitor());
            Run(Visitor().WithCookie("cookie_consent", "no"));
            Assert.That(_client.Views, Is.Empty);
        }

        [Test]
        public void Process_ConsentGranted_Tracked()
        {
            _processor.ConsentCookieName = "cookie_consent";
            Run(Visitor().WithCookie("cookie_consent", "granted"));
            Assert.That(_client.Views.Count, Is.EqualTo(1));
        }

        [Test]
        public void Process_DoNotTrack_HonouredOnlyWhenConfigured()
        {
            Run(Visitor().WithHeader("DNT", "1"));
            Assert.That(_client.Views.Count, Is.EqualTo(1));

            _processor.HonorDoNotTrack = true;
            Run(Visitor().WithHeader("DNT", "1"));
            Assert.That(_client.Views.Count, Is.EqualTo(1));
        }

        [Test]
        public void Process_Referrer_OnlyExternalIsSent()
        {
            Run(Visitor().WithHeader("Referer", "http://www.example.com/other"));
            Run(Visitor().WithHeader("Referer", "https://www.google.com/search?q=bikes"));

            Assert.That(_client.Views[0].Referrer, Is.Null);
            Assert.That(_client.Views[1].Referrer, Is.EqualTo("https://www.google.com/search?q=bikes"));
        }

        [Test]
        public void Process_PageVariant_ItemsWinOverQuery()
        {
            Run(Visitor("http://www.example.com/home?variantid=v-url"));
            var http = Visitor("http://www.example.com/home?variantid=v-url");
            http.Items[TrackVisitor.PageVariantItemsKey] = "v-items";
            Run(http);

            Assert.That(_client.Views[0].PageVariantId, Is.EqualTo("v-url"));
            Assert.That(_client.Views[1].PageVariantId, Is.EqualTo("v-items"));
        }

        [TestCase("en-GB", "EN")]
        [TestCase("da", "DA")]
        [TestCase("ja-JP", "JA")]
        public void Process_Language_IsUpperCaseTwoLetterCode(string sitecoreLanguage, string expected)
        {
            Context.Language = global::Sitecore.Globalization.Language.Parse(sitecoreLanguage);
            Run(Visitor());
            Assert.That(_client.Views.Single().Language, Is.EqualTo(expected));
        }

        [Test]
        public void Process_ClientThrows_NeverThrowsAndLogsOnceWithoutTheMessage()
        {
            _client.ThrowOnPageView = true;
            Assert.DoesNotThrow(() => Run(Visitor()));
            Assert.DoesNotThrow(() => Run(Visitor()));

            var errors = Log.Entries().Where(e => e.StartsWith("ERROR XmCdp: ")).ToList();
            Assert.That(errors.Count, Is.EqualTo(1));
            Assert.That(errors[0], Is.StringContaining("InvalidOperationException"));
            Assert.That(errors[0], Is.Not.StringContaining("tok_123"));
        }

        [Test]
        public void Process_QueueFull_WarnsOnceWithStatus()
        {
            _client.NextStatus = CdpStatus.QueueFull;
            Run(Visitor());
            Run(Visitor());

            var warnings = Log.Entries().Where(e => e.StartsWith("WARN XmCdp: ")).ToList();
            Assert.That(warnings.Count, Is.EqualTo(1));
            Assert.That(warnings[0], Is.StringContaining("status 40 (QueueFull)"));
        }

        [Test]
        public void Process_Disabled_DoesNothing()
        {
            _processor.Enabled = false;
            var http = Visitor();
            Run(http);
            Assert.That(_client.Views, Is.Empty);
            Assert.That(http.Response.Cookies.Count, Is.EqualTo(0));
        }

        [Test]
        public void Process_PointOfSaleOfTheLanguage_IsOnTheViewIdentityAndEvents()
        {
            XmCdpSites.Register(new SiteBinding("website", new CdpSettings { ClientKey = "ck_test", PointOfSale = "brand/ireland" }, _client,
                SiteDecisions.None, "de=brand/germany"));
            var user = new global::Sitecore.Security.Accounts.User("extranet\\jane", true);
            user.Profile.Email = "jane.doe@example.com";
            Context.SetUser(user);
            Context.Language = global::Sitecore.Globalization.Language.Parse("de-DE");
            var http = Visitor();
            Run(http);
            CdpContext.From(http).TrackEvent(new CustomEvent("ADD"));
            Assert.That(_client.Views.Single().PointOfSale, Is.EqualTo("brand/germany"));
            Assert.That(_client.Identities.Single().PointOfSale, Is.EqualTo("brand/germany"));
            Assert.That(_client.Events.Single().PointOfSale, Is.EqualTo("brand/germany"));

            Context.Language = global::Sitecore.Globalization.Language.Parse("en-GB");
            Run(Visitor());
            Assert.That(_client.Views[1].PointOfSale, Is.Null, "the site's default point of sale");
        }

        [Test]
        public void Process_LoggedInUser_SendsIdentityOncePerLogin()
        {
            var user = new global::Sitecore.Security.Accounts.User("extranet\\jane", true);
            user.Profile.Email = "jane.doe@example.com";
            Context.SetUser(user);

            var first = Visitor();
            Run(first);
            Assert.That(_client.Identities.Count, Is.EqualTo(1));
            var identity = _client.Identities[0];
            Assert.That(identity.BrowserId, Is.EqualTo(Bid));
            Assert.That(identity.Email, Is.EqualTo("jane.doe@example.com"));
            Assert.That(identity.Identifiers.Single().Provider, Is.EqualTo("email"));
            Assert.That(identity.Identifiers.Single().Id, Is.EqualTo("jane.doe@example.com"));

            var marker = first.Response.Cookies[TrackVisitor.IdentityCookiePrefix + "ck_test"];
            Assert.That(marker, Is.Not.Null);
            Assert.That(marker.HttpOnly, Is.True);
            Assert.That(marker.Value, Is.Not.StringContaining("jane"));

            // The browser comes back with the marker: no second IDENTITY, and the profile is not even loaded.
            user.ProfileReads = 0;
            Run(Visitor().WithCookie(marker.Name, marker.Value));
            Assert.That(_client.Identities.Count, Is.EqualTo(1));
            Assert.That(user.ProfileReads, Is.EqualTo(0), "the marker cookie is checked before user.Profile");
            Assert.That(_client.Views.Count, Is.EqualTo(2));

            // Another user on the same browser is a new login.
            var john = new global::Sitecore.Security.Accounts.User("extranet\\john", true);
            john.Profile.Email = "john@example.com";
            Context.SetUser(john);
            Run(Visitor().WithCookie(marker.Name, marker.Value));
            Assert.That(_client.Identities.Count, Is.EqualTo(2));
        }

        [Test]
        public void Process_AnonymousUser_NoIdentity()
        {
            Run(Visitor());
            Assert.That(_client.Identities, Is.Empty);
        }

        [Test]
        public void Process_LogsNeverContainBrowserIdOrEmail()
        {
            var user = new global::Sitecore.Security.Accounts.User("extranet\\jane", true);
            user.Profile.Email = "jane.doe@example.com";
            Context.SetUser(user);
            _client.NextStatus = CdpStatus.InvalidEmail;
            Run(Visitor());
            _client.ThrowOnPageView = true;
            Run(Visitor());

            Assert.That(Log.Entries(), Is.Not.Empty);
            foreach (var line in Log.Entries())
            {
                Assert.That(line, Is.Not.StringContaining(Bid));
                Assert.That(line, Is.Not.StringContaining("jane"));
            }
        }

        [Test]
        public void CdpContext_AfterTrackedRequest_FillsCustomEventsFromTheRequest()
        {
            var http = Visitor();
            Run(http);

            var ctx = CdpContext.From(http);
            Assert.That(ctx, Is.Not.Null);
            Assert.That(ctx.ViewStatus, Is.EqualTo(CdpStatus.Ok));
            var add = new CustomEvent("ADD");
            add.Data.Set("product_id", "SKU-1");
            Assert.That(ctx.TrackEvent(add), Is.EqualTo(CdpStatus.Ok));
            var sent = _client.Events.Single();
            Assert.That(sent.BrowserId, Is.EqualTo(Bid));
            Assert.That(sent.Language, Is.EqualTo("EN"));
            Assert.That(sent.Page, Is.EqualTo("home"));
        }

        [Test]
        public void CdpContext_AfterShutdown_ReportsShutDownInsteadOfThrowing()
        {
            var http = Visitor();
            Run(http);
            _client.Closed = true;

            var ctx = CdpContext.From(http);
            Assert.That(ctx.TrackEvent(new CustomEvent("ADD")), Is.EqualTo(CdpStatus.ShutDown));
            var identity = new IdentityEvent();
            identity.Identifiers.Add(new CdpIdentifier("email", "a@b.co"));
            Assert.That(ctx.Identify(identity), Is.EqualTo(CdpStatus.ShutDown));
        }

        [Test]
        public void CdpContext_UntrackedRequest_IsNull()
        {
            Context.Item = null;
            var http = Visitor();
            Run(http);
            Assert.That(CdpContext.From(http), Is.Null);
        }
    }
}
