using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.RegularExpressions;
using NUnit.Framework;
using Sitecore.Pipelines.HttpRequest;
using XmCdp.Sitecore.Browser;
using XmCdp.Sitecore.Pipelines.HttpRequestBegin;
using XmCdp.Sitecore.Pipelines.HttpRequestEnd;
using Context = Sitecore.Context;
using Log = Sitecore.Diagnostics.Log;

namespace XmCdp.Sitecore.Tests
{
    /// <summary>
    /// The Engage browser tag and the VIEW owner: settings validation, what the tag holds and how it is escaped, who
    /// sends the VIEW. (Named to run after ShippedConfigTests, like the other System.Web fakes fixtures.)
    /// </summary>
    [TestFixture]
    public class TrackVisitorBrowserTagTests
    {
        private const string Bid = "a38b230c-11eb-4cf9-8d5d-274e9f344925";
        private RecordingClient _client;

        [SetUp]
        public void SetUp()
        {
            Log.Clear();
            Context.Reset();
            XmCdpSites.Clear();
            _client = new RecordingClient("ck_test");
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

        private static Dictionary<string, string> Site(params string[] kv)
        {
            var d = new Dictionary<string, string> { { "clientKey", "ck_test" }, { "browserTag", "true" } };
            for (int i = 0; i + 1 < kv.Length; i += 2) d[kv[i]] = kv[i + 1];
            return d;
        }

        private static BrowserTagSettings Parse(params string[] kv) => BrowserTagSettings.Parse(Site(kv), "https://api-engage-eu.sitecorecloud.io", false);

        private void Register(BrowserTagSettings tag, string pointOfSale = "pos")
        {
            XmCdpSites.Register(new SiteBinding("website", new CdpSettings { ClientKey = "ck_test", PointOfSale = pointOfSale, Currency = "EUR" }, _client) { BrowserTag = tag });
        }

        private FakeHttpContext Track(string userAgent = null)
        {
            var http = new FakeHttpContext("http://www.example.com/home").WithCookie("bid_ck_test", Bid);
            if (userAgent != null) http.WithHeader("User-Agent", userAgent);
            var begin = new TrackVisitor { DeferView = true };
            begin.AddBotUserAgent("bot");
            begin.Process(new HttpRequestArgs(http));
            return http;
        }

        [TestCase("viewOwner", "nobody")]
        [TestCase("browserTagScriptUrl", "javascript:alert(1)")]
        [TestCase("browserTagScriptUrl", "//evil.example/engage.js")]
        [TestCase("browserTagIntegrity", "md5-abc")]
        [TestCase("browserTagIntegrity", "sha384-\"><script>")]
        [TestCase("browserTag", "yes")]
        [TestCase("cookieName", "my_cookie")]
        public void Settings_BadValue_IsRefusedNamingTheSettingNotTheValue(string name, string value)
        {
            var e = Assert.Throws<ArgumentException>(() => Parse(name, value));
            Assert.That(e.Message, Is.StringContaining(name));
            Assert.That(e.Message, Is.Not.StringContaining(value));
        }

        [Test]
        public void Settings_BrowserViewOwnerWithoutTheTag_IsRefused()
        {
            var values = Site("viewOwner", "browser");
            values["browserTag"] = "false";
            Assert.Throws<ArgumentException>(() => BrowserTagSettings.Parse(values, "https://x.example", false));
        }

        [Test]
        public void Settings_EdgeMode_IsRefusedForTheTag()
        {
            Assert.Throws<ArgumentException>(() => BrowserTagSettings.Parse(Site(), null, true));
        }

        [Test]
        public void Settings_Defaults_AreTheCdnScriptAndServerOwnedView()
        {
            var s = Parse();
            Assert.That(s.Enabled, Is.True);
            Assert.That(s.ScriptUrl, Is.EqualTo(BrowserTagSettings.DefaultScriptUrl));
            Assert.That(s.ViewOwner, Is.EqualTo(ViewOwner.Server));
            Assert.That(s.BrowserOwnsView, Is.False);
            Assert.That(BrowserTagSettings.Parse(new Dictionary<string, string> { { "clientKey", "ck" } }, "https://x.example", true).Enabled, Is.False);
        }

        [Test]
        public void ViewOwnerServer_ServerSendsTheViewAndTheTagSendsNone()
        {
            Register(Parse());
            var http = Track();
            new SendPageView().Process(new HttpRequestArgs(http));
            Assert.That(_client.Views.Count, Is.EqualTo(1));
            var tag = BrowserTag.Render(http);
            Assert.That(tag, Is.StringContaining("},v=null;"));
            Assert.That(tag, Is.Not.StringContaining("\"page\":"));
        }

        [Test]
        public void ViewOwnerBrowser_ServerSendsNoViewAndTheTagSendsOne()
        {
            Register(Parse("viewOwner", "browser"));
            var http = Track();
            new SendPageView().Process(new HttpRequestArgs(http));
            Assert.That(_client.Views, Is.Empty);
            Assert.That(CdpContext.From(http), Is.Not.Null, "the visitor is still tracked (cookie, decisions, events)");
            var tag = BrowserTag.Render(http);
            Assert.That(tag, Is.StringContaining("v={\"channel\":\"WEB\",\"currency\":\"EUR\",\"language\":\"EN\",\"page\":\"home\"}"));
            Assert.That(tag, Is.StringContaining("e.pageView(v)"));
        }

        [Test]
        public void Tag_UsesTheServerCookieNeverCreatesAndIsWrittenOncePerRequest()
        {
            Register(Parse("browserTagScriptUrl", "/scripts/engage.js", "browserTagIntegrity", "sha384-AbC+/=", "cookieDomain", ".example.com", "cookieExpiryDays", "365"));
            var http = Track();
            http.Items[BrowserTag.CspNonceItemsKey] = "n0nce+/=";
            var tag = BrowserTag.Render(http);
            StringAssert.StartsWith("<script src=\"/scripts/engage.js\" defer integrity=\"sha384-AbC+/=\" crossorigin=\"anonymous\" nonce=\"n0nce+/=\"></script>\n<script nonce=\"n0nce+/=\">", tag);
            Assert.That(tag, Is.StringContaining("var s={\"clientKey\":\"ck_test\",\"targetURL\":\"https://api-engage-eu.sitecorecloud.io\",\"pointOfSale\":\"pos\",\"cookieDomain\":\".example.com\",\"cookieExpiryDays\":365,\"forceServerCookieMode\":true,"));
            Assert.That(tag, Is.StringContaining("\"webPersonalization\":false"));
            Assert.That(BrowserTag.Render(http), Is.Empty, "a second call in the same request writes nothing");
        }

        [Test]
        public void Tag_NotTrackedRequests_GetNoTag()
        {
            Register(Parse());
            Assert.That(BrowserTag.Render(Track("Googlebot/2.1")), Is.Empty, "bot");
            Context.SetPageMode(Context.StubPageMode.ExperienceEditor);
            Assert.That(BrowserTag.Render(Track()), Is.Empty, "Experience Editor");
            Context.SetPageMode(Context.StubPageMode.Preview);
            Assert.That(BrowserTag.Render(Track()), Is.Empty, "preview");
            Context.SetPageMode(Context.StubPageMode.Normal);
            var noConsent = new FakeHttpContext("http://www.example.com/home").WithCookie("bid_ck_test", Bid);
            var begin = new TrackVisitor { DeferView = true, ConsentCookieName = "consent" };
            begin.Process(new HttpRequestArgs(noConsent));
            Assert.That(BrowserTag.Render(noConsent), Is.Empty, "no consent");
            Register(BrowserTagSettings.Off);
            Assert.That(BrowserTag.Render(Track()), Is.Empty, "tag off for the site");
        }

        [Test]
        public void Tag_EscapesEverythingWrittenIntoThePage()
        {
            var hostile = "</script><script>alert('x')</script><!--\u2028&\"\\";
            Register(Parse(), hostile);
            var http = Track();
            http.Items[BrowserTag.CspNonceItemsKey] = "\"><script>alert(1)</script>";
            var tag = BrowserTag.Render(http);
            Assert.That(Regex.Matches(tag, "<script").Count, Is.EqualTo(2), tag);
            Assert.That(Regex.Matches(tag, "</script>").Count, Is.EqualTo(2), tag);
            Assert.That(tag, Is.Not.StringContaining("<!--"));
            Assert.That(tag, Is.Not.StringContaining("\u2028"));
            Assert.That(tag, Is.Not.StringContaining("nonce="), "a nonce that is not base64 is dropped, never written");
            Assert.That(tag, Is.StringContaining("\"pointOfSale\":\"\\u003c/script\\u003e\\u003cscript\\u003ealert(\\u0027x\\u0027)\\u003c/script\\u003e\\u003c!--\\u2028\\u0026\\u0022\\u005c\""));
        }

        [Test]
        public void Filter_WritesTheTagOnceBeforeBodyEndEvenWhenTheMarkerIsSplitAcrossWrites()
        {
            Register(Parse());
            var http = Track();
            http.FakeResponse.ContentType = "text/html";
            var sink = new MemoryStream();
            var filter = new BrowserTagFilter(sink, http);
            foreach (var part in new[] { "<html><body><p>x</p></bo", "dy></html>", "</body>" })
            {
                var b = Encoding.UTF8.GetBytes(part);
                filter.Write(b, 0, b.Length);
            }
            filter.Flush();
            var html = Encoding.UTF8.GetString(sink.ToArray());
            Assert.That(Regex.Matches(html, "<script src=").Count, Is.EqualTo(1), html);
            Assert.That(html.IndexOf("<script src=", StringComparison.Ordinal), Is.LessThan(html.IndexOf("</body>", StringComparison.Ordinal)), html);
            StringAssert.EndsWith("</body></html></body>", html);
        }

        [Test]
        public void Filter_LeavesNonHtmlResponsesByteForByte()
        {
            Register(Parse());
            var http = Track();
            http.FakeResponse.ContentType = "application/json";
            var sink = new MemoryStream();
            var filter = new BrowserTagFilter(sink, http);
            var b = Encoding.UTF8.GetBytes("{\"a\":\"</body>\"}");
            filter.Write(b, 0, b.Length);
            filter.Flush();
            Assert.That(sink.ToArray(), Is.EqualTo(b));
        }
    }
}
