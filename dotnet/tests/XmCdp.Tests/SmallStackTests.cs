using System;
using System.Threading;
using NUnit.Framework;
using XmCdp.Decisions;
using XmCdp.Events;
using XmCdp.Native;
using XmCdp.TestSupport;

namespace XmCdp.Tests
{
    /// <summary>
    /// Every native entry point from a thread with a 256 KiB stack (issue 10 item 10): IIS gives x64 request threads
    /// 512 KiB, Mono/Linux 8 MiB, so a test on the default stack would never see an overflow a worker process gets.
    /// </summary>
    [TestFixture]
    public class SmallStackTests
    {
        private const int Stack = 256 * 1024;
        private EmulatorClient _emulator;

        [TestFixtureSetUp]
        public void FixtureSetUp()
        {
            _emulator = EmulatorClient.FromEnvironment();
            NativeLibraryLoader.EnsureLoaded();
        }

        private static void OnSmallStack(Action body)
        {
            Exception failure = null;
            var t = new Thread(() =>
            {
                try { body(); }
                catch (Exception e) { failure = e; }
            }, Stack);
            t.Start();
            Assert.That(t.Join(TimeSpan.FromSeconds(60)), Is.True, "the small-stack thread finished");
            if (failure != null) throw new AssertionException("on the 256 KiB thread: " + failure);
        }

        [Test]
        public void EveryEntryPoint_RunsOnA256KiBStack()
        {
            var bid = _emulator.CreateBrowserId();
            string report = null;
            OnSmallStack(() =>
            {
                using (var client = new CdpClient(new CdpSettings
                {
                    ClientKey = "ck_test",
                    PointOfSale = "myretailsite/ireland",
                    TargetUrl = _emulator.BaseUrl,
                    ApiToken = "tok_test",
                    // Typed through the settings schema, read from the native library on this thread.
                }.SetNative("queueCapacity", "1000")))
                {
                    Assert.That(client.TryPageView(new PageView { BrowserId = bid, Page = "home" }), Is.EqualTo(CdpStatus.Ok));
                    var identity = new IdentityEvent { BrowserId = bid, Email = "small@example.com", Page = "login" };
                    identity.Identifiers.Add(new CdpIdentifier("email", "small@example.com"));
                    Assert.That(client.TryIdentity(identity), Is.EqualTo(CdpStatus.Ok));
                    Assert.That(client.TryEvent(new CustomEvent("ADD_TO_WISHLIST") { BrowserId = bid, Page = "p" }), Is.EqualTo(CdpStatus.Ok));

                    var decided = client.Decide(new DecisionRequest("home_page_banner") { BrowserId = bid }, TimeSpan.FromSeconds(5));
                    Assert.That(decided.Status, Is.EqualTo(CdpStatus.Ok), decided.ToString());
                    var ticket = client.BeginDecide(new DecisionRequest("home_page_banner") { BrowserId = bid });
                    var waited = ticket.Wait(TimeSpan.FromSeconds(5));
                    Assert.That(waited.Status, Is.EqualTo(CdpStatus.Ok), waited.ToString());

                    var ensured = client.EnsureBrowserId(null, TimeSpan.FromSeconds(5));
                    Assert.That(ensured.BrowserId, Is.Not.Null.And.Not.Empty);
                    var guest = client.GuestRefFor(bid, TimeSpan.FromSeconds(5));
                    Assert.That(guest, Is.Not.Empty);
                    Assert.That(client.Guests.Get(guest), Is.StringContaining(guest));
                    try
                    {
                        client.Guests.FindByEmail("nobody-" + Guid.NewGuid().ToString("N") + "@example.com");
                    }
                    catch (XmCdpException e) when (e.Status == CdpStatus.NotFound)
                    {
                    }

                    Assert.That(client.GetStats().Json, Is.StringContaining("\"events\""));
                    Assert.That(client.Shutdown(TimeSpan.FromSeconds(5)), Is.EqualTo(CdpStatus.Ok));
                    report = client.GetStats().Shutdown?.ToString();
                }
            });
            Assert.That(report, Is.StringContaining(" 0 unsent"), report);
            _emulator.WaitForEvents(bid, 3, TimeSpan.FromSeconds(10));
        }
    }
}
