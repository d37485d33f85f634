using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using System.Web.Script.Serialization;
using NUnit.Framework;
using XmCdp.TestSupport;

namespace XmCdp.Sitecore.Tests.EndToEnd
{
    /// <summary>
    /// The admin page (/sitecore/admin/xmcdp.aspx, compiled by System.Web from the SHIPPED .aspx), the monitoring
    /// endpoint and the browser tag written into real HTML responses, through xsp4 with the real native library.
    /// </summary>
    [TestFixture]
    public class EndToEndAdminAndTagTests
    {
        private const string StatusKey = "k3y-for-the-status-endpoint";
        private EmulatorClient _emulator;
        private XspHost _host;

        [TestFixtureSetUp]
        public void StartHost()
        {
            _emulator = EmulatorClient.FromEnvironment();
            _host = XspHost.Start(_emulator.BaseUrl, appSettings: new Dictionary<string, string>
            {
                { "XmCdp.website.browserTag", "true" },
                { "XmCdp.website.browserTagInject", "true" },
                { "XmCdp.website.browserTagScriptUrl", "/__host/engage.js" },
                { "XmCdp.StatusPath", "/xmcdp-status.json" },
                { "XmCdp.StatusKey", StatusKey },
            });
            var warm = _host.Get("/__host/log");
            Assert.That(warm.Status, Is.EqualTo(200), warm.Body + "\n" + _host.Output);
        }

        [TestFixtureTearDown]
        public void StopHost()
        {
            _host?.Dispose();
        }

        private static Dictionary<string, string> Cookies(params string[] kv)
        {
            var d = new Dictionary<string, string>();
            for (int i = 0; i + 1 < kv.Length; i += 2) d[kv[i]] = kv[i + 1];
            return d;
        }

        private static readonly Dictionary<string, string> Admin = Cookies("stub_sitecore_user", "admin");

        [Test]
        public void AdminPage_AnonymousOrNonAdministrator_IsSentToTheLoginAndSeesNoFigures()
        {
            foreach (var who in new[] { null, Cookies("stub_user", "alice"), Cookies("stub_sitecore_user", "editor") })
            {
                foreach (var path in new[] { "/sitecore/admin/xmcdp.aspx", "/sitecore/admin/xmcdp.aspx?format=json" })
                {
                    var r = _host.Get(path, who);
                    Assert.That(r.Status, Is.EqualTo(302), path + "\n" + r.Body);
                    Assert.That(r.Body, Is.Not.StringContaining("enqueued"));
                    Assert.That(r.Body, Is.Not.StringContaining("\"sites\""));
                }
            }
            var posted = _host.Post("/sitecore/admin/xmcdp.aspx", Cookies("site", "website", "action", "test"), null,
                Cookies("Origin", _host.BaseUrl));
            Assert.That(posted.Status, Is.EqualTo(302), posted.Body);
        }

        [Test]
        public void AdminPage_Administrator_SeesTheFiguresAfterTrafficAndNoSecret()
        {
            var bid = _emulator.CreateBrowserId();
            Assert.That(_host.Get("/about", Cookies("bid_ck_test", bid)).Status, Is.EqualTo(200));
            _emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(10));

            var page = _host.Get("/sitecore/admin/xmcdp.aspx", Admin);
            Assert.That(page.Status, Is.EqualTo(200), page.Body + "\n" + _host.Output);
            Assert.That(page.Body, Is.StringContaining("<h2>Site website</h2>"));
            var sent = Regex.Match(page.Body, "data-figure=\"sent\">(\\d+)<");
            Assert.That(sent.Success, page.Body);
            Assert.That(int.Parse(sent.Groups[1].Value), Is.GreaterThanOrEqualTo(1), page.Body);
            Assert.That(page.Body, Is.StringContaining("data-figure=\"spool-oldest\">none<"), "delivered, so nothing waits in the spool");
            Assert.That(page.Body, Is.StringContaining("id=\"native-path\""));
            Assert.That(page.Body, Is.StringContaining("id=\"test-website\""));
            Assert.That(page.Body, Is.StringContaining("id=\"flush-website\""));
            Assert.That(page.Body, Is.Not.StringContaining("tok_SECRET_e2e"));
            Assert.That(page.Body, Is.Not.StringContaining(bid), "no cookie value or guest data on the page");

            var json = _host.Get("/sitecore/admin/xmcdp.aspx?format=json", Admin);
            Assert.That(json.Status, Is.EqualTo(200), json.Body);
            var status = (Dictionary<string, object>)new JavaScriptSerializer().DeserializeObject(json.Body);
            var site = ((object[])status["sites"]).Cast<Dictionary<string, object>>().Single(s => (string)s["name"] == "website");
            var events = (Dictionary<string, object>)((Dictionary<string, object>)site["stats"])["events"];
            Assert.That(Convert.ToInt64(events["sent"]), Is.GreaterThanOrEqualTo(1));
            Assert.That((string)((Dictionary<string, object>)status["library"])["nativeVersion"], Is.StringMatching(@"^\d+\.\d+\.\d+$"));
            Assert.That(json.Body, Is.Not.StringContaining("tok_SECRET_e2e"));
        }

        [Test]
        public void AdminPage_TestEventButton_PutsAnEventInCdpAndFlushReportsAnEmptyQueue()
        {
            var bid = _emulator.CreateBrowserId();
            var cookies = Cookies("stub_sitecore_user", "admin", "bid_ck_test", bid);
            var r = _host.Post("/sitecore/admin/xmcdp.aspx", Cookies("site", "website", "action", "test"), cookies, Cookies("Origin", _host.BaseUrl));
            Assert.That(r.Status, Is.EqualTo(200), r.Body);
            Assert.That(r.Body, Is.StringContaining("test event XMCDP_TEST queued"));
            var events = _emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(10));
            Assert.That(events.Select(e => (string)e["type"]), Is.EqualTo(new[] { "XMCDP_TEST" }));

            var flush = _host.Post("/sitecore/admin/xmcdp.aspx", Cookies("site", "website", "action", "flush"), cookies, Cookies("Origin", _host.BaseUrl));
            Assert.That(flush.Body, Is.StringContaining("queue empty"), flush.Body);

            var forged = _host.Post("/sitecore/admin/xmcdp.aspx", Cookies("site", "website", "action", "test"), cookies,
                Cookies("Origin", "https://evil.example"));
            Assert.That(forged.Status, Is.EqualTo(403), forged.Body);
        }

        [Test]
        public void StatusEndpoint_NeedsTheSharedKeyAndNeverEchoesIt()
        {
            var none = _host.Get("/xmcdp-status.json");
            Assert.That(none.Status, Is.EqualTo(403), none.Body);
            var wrong = _host.Get("/xmcdp-status.json", null, Cookies("X-XmCdp-Key", StatusKey + "x"));
            Assert.That(wrong.Status, Is.EqualTo(403), wrong.Body);
            Assert.That(wrong.Body, Is.Not.StringContaining(StatusKey));
            var ok = _host.Get("/xmcdp-status.json", null, Cookies("X-XmCdp-Key", StatusKey));
            Assert.That(ok.Status, Is.EqualTo(200), ok.Body);
            var status = (Dictionary<string, object>)new JavaScriptSerializer().DeserializeObject(ok.Body);
            Assert.That(((object[])status["sites"]).Length, Is.EqualTo(1));
            Assert.That(ok.Body, Is.Not.StringContaining(StatusKey));
            Assert.That(ok.Body, Is.Not.StringContaining("tok_SECRET_e2e"));
        }

        [Test]
        public void HtmlPage_GetsTheTagOnceWithThePageNonceAndTheServerBrowserId()
        {
            var bid = _emulator.CreateBrowserId();
            foreach (var path in new[] { "/web/a", "/web/a?helper=1" })
            {
                var r = _host.Get(path, Cookies("bid_ck_test", bid));
                Assert.That(r.Status, Is.EqualTo(200), r.Body);
                Assert.That(Regex.Matches(r.Body, "<script src=\"/__host/engage.js\" defer nonce=\"[^\"]+\"></script>").Count, Is.EqualTo(1), r.Body);
                Assert.That(r.Body, Is.StringContaining("\"forceServerCookieMode\":true"));
                Assert.That(r.Body, Is.StringContaining("v=null;"), "the server owns the VIEW here");
                int tag = r.Body.IndexOf("<script src=", StringComparison.Ordinal);
                if (path.Contains("helper")) Assert.That(tag, Is.LessThan(r.Body.IndexOf("</head>", StringComparison.Ordinal)), r.Body);
                else Assert.That(tag, Is.GreaterThan(r.Body.IndexOf("<body>", StringComparison.Ordinal)), r.Body);
            }
            var bot = _host.Get("/web/a", Cookies("bid_ck_test", bid), null, "Mozilla/5.0 (compatible; Googlebot/2.1)");
            Assert.That(bot.Body, Is.Not.StringContaining("<script"), "no tag for bots");
            var editor = _host.Get("/web/a?sc_mode=edit", Cookies("bid_ck_test", bid));
            Assert.That(editor.Body, Is.Not.StringContaining("<script"), "no tag in the Experience Editor");
            var plain = _host.Get("/about", Cookies("bid_ck_test", bid));
            Assert.That(plain.Body, Is.Not.StringContaining("<script"), "text/plain responses are left alone");
        }
    }
}
