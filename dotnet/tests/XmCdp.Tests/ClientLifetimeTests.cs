using System;
using System.Reflection;
using System.Threading;
using NUnit.Framework;
using XmCdp.Decisions;
using XmCdp.Events;
using XmCdp.Native;
using XmCdp.TestSupport;

namespace XmCdp.Tests
{
    /// <summary>
    /// Every call holds a <see cref="CdpClient.Lease"/> on the native client: after Dispose the throwing calls
    /// (Guests included) throw <see cref="ObjectDisposedException"/>, the Try/decision/browser-id calls answer
    /// ShutDown, and no call leaves a reference behind (a leaked one would keep Dispose from deleting the native
    /// client). Real library, real emulator.
    /// </summary>
    [TestFixture]
    public class ClientLifetimeTests
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

        private CdpClient NewClient() => new CdpClient(new CdpSettings
        {
            ClientKey = "ck_test",
            PointOfSale = "myretailsite/ireland",
            TargetUrl = _emulator.BaseUrl,
            ApiToken = "tok_test",
        });

        private static ulong NativeId(CdpClient client)
        {
            var field = typeof(CdpClient).GetField("_handle", BindingFlags.NonPublic | BindingFlags.Instance);
            return ((CdpClient.Handle)field.GetValue(client)).Id;
        }

        [Test]
        public void AfterEveryKindOfCall_DisposeDeletesTheNativeClient()
        {
            var bid = _emulator.CreateBrowserId();
            var client = NewClient();
            var id = NativeId(client);
            Assert.That(client.TryPageView(new PageView { BrowserId = bid, Page = "home" }), Is.EqualTo(CdpStatus.Ok));
            Assert.That(client.TryPageView(new PageView { BrowserId = "not a browser id", Page = "home" }), Is.Not.EqualTo(CdpStatus.Ok), "a rejected call releases its reference too");
            client.GetStats();
            Assert.That(client.EnsureBrowserId("bid_ck_test=" + bid, TimeSpan.FromSeconds(5)).IsOk, Is.True);
            var ticket = client.BeginDecide(new DecisionRequest("home_page_banner") { BrowserId = bid });
            Assert.That(ticket.Wait(TimeSpan.FromSeconds(5)).IsOk, Is.True);
            client.Decide(new DecisionRequest("home_page_banner") { BrowserId = bid }, TimeSpan.FromSeconds(5));
            var guestRef = client.GuestRefFor(bid, TimeSpan.FromSeconds(5));
            client.Guests.Get(guestRef);
            Assert.Throws<XmCdpException>(() => client.Guests.GetExtension(guestRef, "ext9"), "a failed guest call releases its reference too");

            client.Dispose();

            string json;
            Assert.That((CdpStatus)NativeCalls.Stats(id, out json), Is.EqualTo(CdpStatus.InvalidHandle),
                "the last reference ran ReleaseHandle: the native client is gone");
        }

        [Test]
        public void DisposeDuringANativeCall_DeletesTheClientOnlyWhenTheCallReturns()
        {
            var bid = _emulator.CreateBrowserId();
            _emulator.SetFaults("{\"routes\":{\"callflows\":{\"latency_ms\":1500}}}");
            var client = NewClient();
            var id = NativeId(client);
            DecisionResult result = null;
            var caller = new Thread(() => result = client.Decide(new DecisionRequest("home_page_banner") { BrowserId = bid }, TimeSpan.FromSeconds(10)));
            caller.Start();
            Thread.Sleep(400);

            client.Dispose();

            string json;
            Assert.That((CdpStatus)NativeCalls.Stats(id, out json), Is.EqualTo(CdpStatus.Ok), "the call inside native code still holds the client");
            Assert.That(caller.Join(TimeSpan.FromSeconds(15)), Is.True);
            Assert.That(result.Outcome, Is.EqualTo(DecisionOutcome.Ok), result + " " + result.Message);
            Assert.That((CdpStatus)NativeCalls.Stats(id, out json), Is.EqualTo(CdpStatus.InvalidHandle), "the returning call released the last reference");
        }

        [Test]
        public void AfterDispose_GuestAndBrowserCallsThrowOrAnswerShutDown()
        {
            var bid = _emulator.CreateBrowserId();
            var client = NewClient();
            var ticket = client.BeginDecide(new DecisionRequest("home_page_banner") { BrowserId = bid });
            client.Dispose();

            Assert.Throws<ObjectDisposedException>(() => client.Guests.Get("g-1"));
            Assert.Throws<ObjectDisposedException>(() => client.Guests.FindByEmail("a@example.com"));
            Assert.Throws<ObjectDisposedException>(() => client.Guests.PatchExtension("g-1", "ext", new CdpExtensionData().Set("a", 1)));
            Assert.Throws<ObjectDisposedException>(() => client.Guests.DeleteExtensionFields("g-1", "ext", new[] { "a" }));
            Assert.Throws<ObjectDisposedException>(() => client.GuestRefFor(bid, TimeSpan.FromSeconds(1)));
            Assert.Throws<ObjectDisposedException>(() => client.PageView(new PageView { BrowserId = bid }));
            Assert.That(client.EnsureBrowserId(null, TimeSpan.Zero).Status, Is.EqualTo(CdpStatus.ShutDown));
            Assert.That(ticket.IsReady, Is.True, "a ticket of a disposed client is answered at once");
            Assert.That(ticket.Wait(TimeSpan.FromSeconds(1)).Status, Is.EqualTo(CdpStatus.ShutDown));
        }
    }
}
