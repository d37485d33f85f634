using System;
using System.Linq;
using System.Threading;
using NUnit.Framework;
using Sitecore.Pipelines.HttpRequest;
using XmCdp.Events;
using XmCdp.Guests;
using XmCdp.Native;
using XmCdp.Sitecore.Pipelines.HttpRequestBegin;
using XmCdp.Sitecore.Pipelines.HttpRequestEnd;
using XmCdp.TestSupport;
using Context = Sitecore.Context;
using Log = Sitecore.Diagnostics.Log;

namespace XmCdp.Sitecore.Tests
{
    /// <summary>
    /// A tracked request on a 256 KiB thread (issue 10 item 10), with the processors' and CdpContext's managed frames
    /// above each native call as on an IIS request thread (512 KiB on x64): TrackVisitor with a first-visit browser id
    /// created in CDP, the configured prefetch, a rendering's decision, a goal, IDENTITY, the visitor's guest (read and
    /// write a data extension, update the profile) and SendPageView at request end, against the emulator.
    /// </summary>
    [TestFixture]
    public class TrackVisitorSmallStackTests
    {
        private const int Stack = 256 * 1024;
        private EmulatorClient _emulator;
        private CdpClient _client;

        [SetUp]
        public void SetUp()
        {
            Log.Clear();
            XmCdpSites.Clear();
            _emulator = EmulatorClient.FromEnvironment();
            NativeLibraryLoader.EnsureLoaded();
            var settings = new CdpSettings
            {
                ClientKey = "ck_test",
                PointOfSale = "myretailsite/ireland",
                TargetUrl = _emulator.BaseUrl,
                ApiToken = "tok_test",
            };
            _client = new CdpClient(settings);
            XmCdpSites.Register(new SiteBinding("website", settings, _client, SiteDecisions.Parse("home_page_banner", null), "de=myretailsite/germany")
            {
                PrefetchGuest = true,
            });
        }

        [TearDown]
        public void TearDown()
        {
            XmCdpSites.Clear();
            _client?.Dispose();
        }

        [Test]
        public void ATrackedRequest_RunsOnA256KiBStack()
        {
            string bid = null, guestRef = null;
            Exception failure = null;
            var t = new Thread(() =>
            {
                try
                {
                    // Sitecore.Context is per thread (per request): set up on the request thread itself.
                    Context.Reset();
                    Context.Site = new global::Sitecore.Sites.SiteContext("website");
                    Context.Item = new global::Sitecore.Data.Items.Item(new global::Sitecore.Data.ID(Guid.NewGuid()), "home", "/sitecore/content/home");
                    Context.Language = global::Sitecore.Globalization.Language.Parse("de-DE");
                    Context.SetPageMode(Context.StubPageMode.Normal);
                    var user = new global::Sitecore.Security.Accounts.User("extranet\\small", true);
                    user.Profile.Email = "small.stack@example.com";
                    Context.SetUser(user);

                    var http = new FakeHttpContext("http://www.example.com/home");
                    var args = new HttpRequestArgs(http);
                    new TrackVisitor { DeferView = true }.Process(args);
                    var ctx = CdpContext.From(http);
                    Assert.That(ctx, Is.Not.Null, string.Join("\n", Log.Entries()));
                    bid = ctx.BrowserId;
                    Assert.That(ctx.Prefetched, Is.EqualTo(new[] { "home_page_banner" }));

                    var decided = ctx.Decide("home_page_banner", TimeSpan.FromSeconds(5));
                    Assert.That(decided.IsOk, Is.True, decided.ToString());
                    Assert.That(ctx.Decide("promo_spring", TimeSpan.FromSeconds(5)).IsOk, Is.True, "decided on demand");
                    Assert.That(ctx.TrackEvent(new CustomEvent("ADD_TO_WISHLIST")), Is.EqualTo(CdpStatus.Ok));

                    guestRef = ctx.Guest.GetRef(TimeSpan.FromSeconds(5));
                    Assert.That(guestRef, Is.Not.Null.And.Not.Empty, "guest status " + ctx.Guest.Status);
                    Assert.That(ctx.Guest.SaveExtension("ext", new CdpExtensionData().Set("tier", "gold"), TimeSpan.FromSeconds(5)), Is.EqualTo(CdpStatus.Ok));
                    Assert.That(ctx.Guest.Extension("ext", TimeSpan.FromSeconds(5))["tier"], Is.EqualTo("gold"));
                    Assert.That(ctx.Guest.Update(new CdpGuestProfile { FirstName = "Small" }, TimeSpan.FromSeconds(5)), Is.EqualTo(CdpStatus.Ok));

                    new SendPageView().Process(args);
                    Assert.That(ctx.ViewStatus, Is.EqualTo(CdpStatus.Ok));
                }
                catch (Exception e)
                {
                    failure = e;
                }
            }, Stack);
            t.Start();
            Assert.That(t.Join(TimeSpan.FromSeconds(60)), Is.True, "the small-stack thread finished");
            if (failure != null) throw new AssertionException("on the 256 KiB thread: " + failure);

            // What CDP received from that thread: the VIEW, the goal and IDENTITY for the German point of sale.
            var events = _emulator.WaitForEvents(bid, 3, TimeSpan.FromSeconds(10));
            var types = events.Select(e => (string)EmulatorClient.Body(e)["type"]).OrderBy(x => x).ToList();
            Assert.That(types, Is.EqualTo(new[] { "ADD_TO_WISHLIST", "IDENTITY", "VIEW" }));
            Assert.That(events.Select(e => (string)EmulatorClient.Body(e)["pos"]), Is.All.EqualTo("myretailsite/germany"));
            Assert.That(_emulator.Guest(guestRef)["firstName"], Is.EqualTo("Small"));
        }
    }
}
