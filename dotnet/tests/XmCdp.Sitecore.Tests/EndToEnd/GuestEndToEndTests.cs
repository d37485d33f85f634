using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Text;
using System.Web.Script.Serialization;
using NUnit.Framework;
using XmCdp.TestSupport;

namespace XmCdp.Sitecore.Tests.EndToEnd
{
    /// <summary>
    /// CdpContext.Current.Guest through real System.Web requests (xsp4) into the real native library and the emulator:
    /// a rendering reads and writes the visitor's data extension in one line, the guest is resolved once per request,
    /// only when asked (or at request begin with prefetchGuest), by the logged-in user's identifier when configured,
    /// and a slow CDP costs the page its budget, never an error.
    /// </summary>
    [TestFixture]
    public class GuestEndToEndTests
    {
        private EmulatorClient _emulator;
        private XspHost _lazy;
        private XspHost _prefetching;

        [TestFixtureSetUp]
        public void StartHosts()
        {
            _emulator = EmulatorClient.FromEnvironment();
            // The emulator's tenant knows the token tok_test (the shared host's tok_SECRET_e2e is refused on purpose).
            _lazy = Start(new Dictionary<string, string> { { "XmCdp.website.ApiToken", "tok_test" } });
            _prefetching = Start(new Dictionary<string, string>
            {
                { "XmCdp.website.ApiToken", "tok_test" },
                { "XmCdp.website.prefetchGuest", "true" },
                { "XmCdp.website.guestIdentifierProvider", "email" },
            });
        }

        private XspHost Start(Dictionary<string, string> settings)
        {
            var host = XspHost.Start(_emulator.BaseUrl, appSettings: settings);
            var warm = host.Get("/__host/log");
            Assert.That(warm.Status, Is.EqualTo(200), warm.Body + "\n" + host.Output);
            return host;
        }

        [TestFixtureTearDown]
        public void StopHosts()
        {
            _lazy?.Dispose();
            _prefetching?.Dispose();
        }

        [TearDown]
        public void ClearFaults() => _emulator.SetFaults("{}");

        private static Dictionary<string, string> Bid(string bid, params string[] more)
        {
            var d = new Dictionary<string, string> { { "bid_ck_test", bid } };
            for (int i = 0; i + 1 < more.Length; i += 2) d[more[i]] = more[i + 1];
            return d;
        }

        private static string Line(XspHost.Response r, string prefix)
        {
            var line = r.Body.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
            Assert.That(line, Is.Not.Null, r.Body);
            return line;
        }

        [Test]
        public void Rendering_WritesAndReadsTheVisitorsExtension_AndTheGuestIsResolvedOncePerRequest()
        {
            var bid = _emulator.CreateBrowserId();
            var guestRef = _emulator.GuestRefOf(bid);
            int before = Shows(bid);
            var save = _lazy.Get("/about?guestSave=ext&key=loyaltyTier&value=gold&guestCity=Dublin", Bid(bid));
            Assert.That(save.Status, Is.EqualTo(200), save.Body);
            Assert.That(Line(save, "guest save="), Is.EqualTo("guest save=Ok"));
            Assert.That(Line(save, "guest update="), Is.EqualTo("guest update=Ok"));
            Assert.That(Shows(bid) - before, Is.EqualTo(1), "two writes, one resolution");

            var stored = _emulator.Guest(guestRef);
            Assert.That(stored["city"], Is.EqualTo("Dublin"));
            var ext = ((ArrayList)stored["extensions"]).Cast<Dictionary<string, object>>().Single(e => (string)e["name"] == "ext");
            Assert.That(ext["loyaltyTier"], Is.EqualTo("gold"));

            // A second save patches the existing extension; the read in the next request sees it.
            Assert.That(Line(_lazy.Get("/about?guestSave=ext&key=points&value=120", Bid(bid)), "guest save="), Is.EqualTo("guest save=Ok"));
            var read = _lazy.Get("/about?guestExt=ext&key=loyaltyTier&guest=1", Bid(bid));
            Assert.That(Line(read, "guest ext."), Is.EqualTo("guest ext.loyaltyTier=gold cached=yes"));
            Assert.That(Line(read, "guest ref="), Is.EqualTo("guest ref=" + guestRef + " status=Ok byUser=no"));
            Assert.That(ExtensionReads(guestRef), Is.EqualTo(1), "the second read of the request came from its cache");
        }

        [Test]
        public void WithoutPrefetch_APageThatDoesNotAsk_NeverResolvesTheGuest()
        {
            var bid = _emulator.CreateBrowserId();
            int before = Shows(bid);
            var r = _lazy.Get("/about", Bid(bid));
            Assert.That(r.Body, Is.EqualTo("page=about tracked=yes view=AtRequestEnd identity=none"));
            _emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(10));
            Assert.That(Shows(bid) - before, Is.EqualTo(0));
        }

        [Test]
        public void WithPrefetch_TheGuestIsResolvedAtRequestBegin_WithoutThePageAsking()
        {
            var bid = _emulator.CreateBrowserId();
            int before = Shows(bid);
            var r = _prefetching.Get("/about", Bid(bid));
            Assert.That(r.Status, Is.EqualTo(200), r.Body);
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (Shows(bid) - before < 1 && DateTime.UtcNow < deadline) System.Threading.Thread.Sleep(50);
            Assert.That(Shows(bid) - before, Is.EqualTo(1), "resolved although the page never asked");
        }

        [Test]
        public void LoggedInUser_IsResolvedByTheConfiguredIdentifier()
        {
            var name = "reg" + Guid.NewGuid().ToString("N").Substring(0, 10);
            // A registration made the guest with the user's e-mail as identifier (as CdpGuests.Create does).
            var created = Rest("POST", "/v2.1/guests",
                "{\"guestType\":\"customer\",\"email\":\"" + name + "@example.com\",\"identifiers\":[{\"provider\":\"email\",\"id\":\"" + name + "@example.com\"}]}");
            var registered = (string)created["ref"];
            var bid = _emulator.CreateBrowserId();
            var r = _prefetching.Get("/about?guest=1", Bid(bid, "stub_user", name));
            Assert.That(Line(r, "guest ref="), Is.EqualTo("guest ref=" + registered + " status=Ok byUser=yes"));
            // Anonymous on the same host: the browser's own guest.
            var anon = _prefetching.Get("/about?guest=1", Bid(bid));
            Assert.That(Line(anon, "guest ref="), Is.Not.StringContaining("byUser=yes"));
        }

        [Test]
        public void RegistrationHandler_CreatesTheCustomerWithItsExtension_ThenUpdatesItsProfile()
        {
            var name = "carol" + Guid.NewGuid().ToString("N").Substring(0, 10);
            var bid = _emulator.CreateBrowserId();
            var reg = _lazy.Get("/?register=" + name, Bid(bid));
            var guestRef = Line(reg, "guest registered=").Substring("guest registered=".Length);
            Assert.That(guestRef, Is.StringMatching("^[0-9a-f-]{36}$"), reg.Body);
            Assert.That(Line(_lazy.Get("/about?updateGuest=" + guestRef + "&city=Dublin", Bid(bid)), "guest updated="), Is.EqualTo("guest updated=Ok"));

            var stored = _emulator.Guest(guestRef);
            Assert.That(stored["guestType"], Is.EqualTo("customer"));
            Assert.That(stored["email"], Is.EqualTo(name + "@example.com"));
            Assert.That(stored["firstName"], Is.EqualTo(name));
            Assert.That(stored["city"], Is.EqualTo("Dublin"));
            var ext = ((ArrayList)stored["extensions"]).Cast<Dictionary<string, object>>().Single(e => (string)e["name"] == "ext");
            Assert.That(ext["newsletter"], Is.EqualTo(true));
            Assert.That(ext["signupSource"], Is.EqualTo("register-page"));
        }

        [Test]
        public void SlowCdp_CostsThePageItsBudget_NotAnError()
        {
            var bid = _emulator.CreateBrowserId();
            _emulator.SetFaults("{\"routes\":{\"guests\":{\"latency_ms\":2000}}}");
            var r = _lazy.Get("/about?guestExt=ext&key=tier&guestSave=ext&value=x&budget=300", Bid(bid));
            Assert.That(r.Status, Is.EqualTo(200), r.Body);
            Assert.That(Line(r, "guest save="), Is.EqualTo("guest save=Timeout"));
            Assert.That(Line(r, "guest ext."), Is.StringStarting("guest ext.tier=none"));
            var log = _lazy.Get("/__host/log").Body;
            Assert.That(log, Is.Not.StringContaining("tok_test"));
        }

        /// <summary>show.json calls the emulator recorded for this browser id (the guest resolution by browser).</summary>
        private int Shows(string bid) => Requests().Count(q => (string)q["route"] == "browser_show" && ((string)q["path"]).Contains(bid));

        private int ExtensionReads(string guestRef) => Requests().Count(q =>
            (string)q["route"] == "guests" && (string)q["method"] == "GET" && (string)q["path"] == "/v2.1/guests/" + guestRef + "/extensions/ext");

        private List<Dictionary<string, object>> Requests()
        {
            using (var wc = new WebClient())
            {
                var json = wc.DownloadString(_emulator.BaseUrl + "/__emulator/requests");
                var all = (Dictionary<string, object>)new JavaScriptSerializer { MaxJsonLength = int.MaxValue }.DeserializeObject(json);
                return ((object[])all["items"]).Cast<Dictionary<string, object>>().ToList();
            }
        }

        private Dictionary<string, object> Rest(string method, string path, string body)
        {
            using (var wc = new WebClient())
            {
                wc.Headers[HttpRequestHeader.Authorization] = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("ck_test:tok_test"));
                wc.Headers[HttpRequestHeader.ContentType] = "application/json";
                var json = wc.UploadString(_emulator.BaseUrl + path, method, body);
                return (Dictionary<string, object>)new JavaScriptSerializer().DeserializeObject(json);
            }
        }
    }
}
