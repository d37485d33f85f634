using System;
using System.Linq;
using NUnit.Framework;
using XmCdp.Browser;
using XmCdp.Events;
using XmCdp.Native;
using XmCdp.TestSupport;

namespace XmCdp.Tests
{
    /// <summary>Browser ids (cookie, legacy, new, hostile) and the Guest REST API through the real library and the emulator.</summary>
    [TestFixture]
    public class BrowserAndGuestTests
    {
        private EmulatorClient _emulator;

        [TestFixtureSetUp]
        public void FixtureSetUp()
        {
            _emulator = EmulatorClient.FromEnvironment();
            NativeLibraryLoader.EnsureLoaded();
        }

        [TearDown]
        public void ClearFaults() => _emulator.SetFaults("{}");

        private CdpClient NewClient(string token = "tok_test", string cookieDomain = null) => new CdpClient(new CdpSettings
        {
            ClientKey = "ck_test",
            PointOfSale = "myretailsite/ireland",
            TargetUrl = _emulator.BaseUrl,
            ApiToken = token,
            CookieDomain = cookieDomain,
        });

        [Test]
        public void EnsureBrowserId_FirstVisit_CreatesAnIdWithTheEngageCookie()
        {
            using (var client = NewClient(cookieDomain: ".example.com"))
            {
                var r = client.EnsureBrowserId(null, TimeSpan.FromSeconds(5));
                Assert.That(r.IsOk, Is.True, r.Status.ToString());
                Assert.That(r.IsNew, Is.True);
                Assert.That(r.Source, Is.EqualTo(BrowserIdSource.Created).Or.EqualTo(BrowserIdSource.Pool));
                Assert.That(r.SetCookieHeaders, Is.EqualTo(new[] { "bid_ck_test=" + r.BrowserId + "; Max-Age=63072000; SameSite=None; Secure; Path=/; Domain=.example.com" }));
                Assert.That(client.GuestRefFor(r.BrowserId, TimeSpan.FromSeconds(5)), Is.Not.Empty, "the id exists in CDP");
                // The parsed form a host sets through its own cookie API (System.Web: Response.Cookies).
                var c = r.Cookies.Single();
                Assert.That(new[] { c.Name, c.Value, c.Path, c.Domain }, Is.EqualTo(new[] { "bid_ck_test", r.BrowserId, "/", ".example.com" }));
                Assert.That(c.ExpiresUtc, Is.EqualTo(DateTime.UtcNow.AddSeconds(63072000)).Within(TimeSpan.FromMinutes(1)));
                Assert.That(c.IsDeletion, Is.False);
            }
        }

        [Test]
        public void EnsureBrowserId_CurrentCookie_ReturnsAtOnceWithNothingToEmit()
        {
            var bid = _emulator.CreateBrowserId();
            using (var client = NewClient())
            {
                var r = client.EnsureBrowserId("theme=dark; bid_ck_test=" + bid + "; x=1", TimeSpan.FromSeconds(5));
                Assert.That(r.Source, Is.EqualTo(BrowserIdSource.Cookie));
                Assert.That(r.BrowserId, Is.EqualTo(bid));
                Assert.That(r.IsNew, Is.False);
                Assert.That(r.SetCookieHeaders, Is.Empty);
            }
        }

        [Test]
        public void EnsureBrowserId_LegacyCookie_IsMigrated()
        {
            var bid = _emulator.CreateBrowserId();
            using (var client = NewClient())
            {
                var r = client.EnsureBrowserId("BID_ck_test=" + bid, TimeSpan.FromSeconds(5));
                Assert.That(r.Source, Is.EqualTo(BrowserIdSource.Legacy));
                Assert.That(r.BrowserId, Is.EqualTo(bid));
                Assert.That(r.SetCookieHeaders.Length, Is.EqualTo(2));
                Assert.That(r.SetCookieHeaders[0], Is.StringStarting("bid_ck_test=" + bid + ";"));
                Assert.That(r.SetCookieHeaders[1], Is.StringStarting("BID_ck_test="));
                Assert.That(r.Cookies.Select(c => c.Name), Is.EqualTo(new[] { "bid_ck_test", "BID_ck_test" }));
                Assert.That(r.Cookies[0].IsDeletion, Is.False);
                Assert.That(r.Cookies[1].IsDeletion, Is.True, "the legacy cookie is expired: " + r.SetCookieHeaders[1]);
                Assert.That(r.Cookies[1].Value, Is.Empty);
            }
        }

        [TestCase("bid_ck_test=a\r\nSet-Cookie: evil=1")]
        [TestCase("bid_ck_test=../../etc/passwd")]
        [TestCase("bid_ck_test=\"><script>alert(1)</script>")]
        public void EnsureBrowserId_HostileCookie_IsIgnoredAndNeverEchoed(string header)
        {
            using (var client = NewClient())
            {
                var r = client.EnsureBrowserId(header, TimeSpan.FromSeconds(5));
                Assert.That(r.IsOk, Is.True, r.Status.ToString());
                Assert.That(r.IsNew, Is.True);
                var all = string.Join("|", r.SetCookieHeaders);
                Assert.That(all, Is.Not.StringContaining("evil").And.Not.StringContaining("passwd").And.Not.StringContaining("script"));
            }
        }

        [Test]
        public void EnsureBrowserId_CdpDown_FailsWithinTheBudgetInsteadOfThrowing()
        {
            using (var client = NewClient())
            {
                _emulator.SetFaults("{\"outage\":true}");
                var sw = System.Diagnostics.Stopwatch.StartNew();
                var r = client.EnsureBrowserId(null, TimeSpan.FromMilliseconds(300));
                Assert.That(r.IsOk, Is.False);
                Assert.That(r.BrowserId, Is.Null);
                Assert.That(sw.ElapsedMilliseconds, Is.LessThan(1500));
            }
        }

        [Test]
        public void GuestExtensions_CreateReadPatchPutListDeleteFieldsDelete()
        {
            var bid = _emulator.CreateBrowserId();
            using (var client = NewClient())
            {
                var guest = client.GuestRefFor(bid, TimeSpan.FromSeconds(5));
                var g = client.Guests;
                Assert.That(g.CreateExtension(guest, "ext", new CdpExtensionData().Set("loyaltyTier", "gold").Set("points", 120)), Is.StringContaining("gold"));
                Assert.That(g.GetExtension(guest, "ext"), Is.StringContaining("\"points\":120"));
                Assert.That(g.PatchExtension(guest, "ext", new CdpExtensionData().Set("points", 150)), Is.StringContaining("gold").And.StringContaining("150"));
                var put = g.PutExtension(guest, "ext", new CdpExtensionData().Set("newsletter", true));
                Assert.That(put, Is.StringContaining("newsletter").And.Not.StringContaining("gold"));
                Assert.That(g.ListExtensions(guest, expand: true), Is.StringContaining("newsletter"));
                Assert.That(g.Get(guest, expand: true), Is.StringContaining(guest));
                Assert.That(g.DeleteExtensionFields(guest, "ext", new[] { "newsletter" }), Is.Not.StringContaining("newsletter"));
                g.DeleteExtension(guest, "ext");
                var e = Assert.Throws<XmCdpException>(() => g.GetExtension(guest, "ext"));
                Assert.That(e.Status, Is.EqualTo(CdpStatus.NotFound), e.Message);
            }
        }

        [Test]
        public void Guests_FindByEmailAndIdentifier_AfterAnIdentityEvent()
        {
            var bid = _emulator.CreateBrowserId();
            var email = "guest-" + Guid.NewGuid().ToString("N").Substring(0, 8) + "@example.com";
            using (var client = NewClient())
            {
                var identity = new IdentityEvent { BrowserId = bid, Email = email, Page = "login" };
                identity.Identifiers.Add(new CdpIdentifier("email", email));
                client.Identity(identity);
                _emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(10));
                var guest = client.GuestRefFor(bid, TimeSpan.FromSeconds(5));
                Assert.That(client.Guests.FindByEmail(email), Is.StringContaining(guest));
                Assert.That(client.Guests.FindByIdentifier("email", email), Is.StringContaining(guest));
            }
        }

        [Test]
        public void Guests_WrongToken_IsUnauthorizedAndTheTokenNeverAppears()
        {
            var bid = _emulator.CreateBrowserId();
            using (var client = NewClient(token: "tok_WRONG_secret"))
            {
                var guest = client.GuestRefFor(bid, TimeSpan.FromSeconds(5));
                var e = Assert.Throws<XmCdpException>(() => client.Guests.Get(guest));
                Assert.That(e.Status, Is.EqualTo(CdpStatus.Unauthorized), e.Message);
                Assert.That(e.Message, Is.Not.StringContaining("tok_WRONG_secret"));
            }
        }

        [Test]
        public void Guests_UnknownGuest_IsNotFound()
        {
            using (var client = NewClient())
            {
                var e = Assert.Throws<XmCdpException>(() => client.Guests.GetExtension("00000000-0000-0000-0000-000000000000", "ext"));
                Assert.That(e.Status, Is.EqualTo(CdpStatus.NotFound), e.Message);
            }
        }
    }
}
