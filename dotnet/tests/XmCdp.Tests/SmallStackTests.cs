using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Threading;
using NUnit.Framework;
using XmCdp.Decisions;
using XmCdp.Events;
using XmCdp.Guests;
using XmCdp.Native;
using XmCdp.TestSupport;

namespace XmCdp.Tests
{
    /// <summary>
    /// Every native entry point from a thread with a 256 KiB stack (issue 10 item 10): IIS gives x64 request threads
    /// 512 KiB, Mono/Linux 8 MiB, so a test on the default stack would never see an overflow a worker process gets.
    /// Each public call of <see cref="CdpClient"/>, <see cref="CdpGuests"/> and <see cref="DecisionTicket"/> is made
    /// through <see cref="Calls.Run{T}"/>, which records its name; the test then lists those types' public methods by
    /// reflection and fails naming any the small stack did not call, so a new one cannot be left out silently.
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

        /// <summary>Names of the public calls made so far ("Type.Method").</summary>
        private sealed class Calls
        {
            public readonly HashSet<string> Made = new HashSet<string>();

            public T Run<T>(string typeAndMethod, Func<T> call)
            {
                Made.Add(typeAndMethod);
                return call();
            }

            public void Run(string typeAndMethod, Action call)
            {
                Made.Add(typeAndMethod);
                call();
            }
        }

        /// <summary>The public methods (and property getters that call native code) a request thread can reach.</summary>
        private static IEnumerable<string> PublicCalls()
        {
            var types = new[] { typeof(CdpClient), typeof(CdpGuests), typeof(DecisionTicket) };
            foreach (var t in types)
            {
                var flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
                foreach (var m in t.GetMethods(flags).Where(m => !m.IsSpecialName)) yield return t.Name + "." + m.Name;
            }
            // Property getters that reach native code.
            yield return "DecisionTicket.IsReady";
        }

        [Test]
        public void EveryPublicCall_RunsOnA256KiBStack()
        {
            var bid = _emulator.CreateBrowserId();
            var email = "small-" + Guid.NewGuid().ToString("N").Substring(0, 10) + "@example.com";
            var crm = "S-" + Guid.NewGuid().ToString("N").Substring(0, 10);
            var calls = new Calls();
            string report = null;
            OnSmallStack(() =>
            {
                var client = calls.Run("CdpClient..ctor", () => new CdpClient(new CdpSettings
                {
                    ClientKey = "ck_test",
                    PointOfSale = "myretailsite/ireland",
                    TargetUrl = _emulator.BaseUrl,
                    ApiToken = "tok_test",
                    // Typed through the settings schema, read from the native library on this thread.
                }.SetNative("queueCapacity", "1000")));
                using (client)
                {
                    Assert.That(calls.Run("CdpClient.TryPageView", () => client.TryPageView(new PageView { BrowserId = bid, Page = "home" })), Is.EqualTo(CdpStatus.Ok));
                    calls.Run("CdpClient.PageView", () => client.PageView(new PageView { BrowserId = bid, Page = "second" }));
                    Func<IdentityEvent> identity = () =>
                    {
                        var i = new IdentityEvent { BrowserId = bid, Email = "small@example.com", Page = "login" };
                        i.Identifiers.Add(new CdpIdentifier("email", "small@example.com"));
                        return i;
                    };
                    Assert.That(calls.Run("CdpClient.TryIdentity", () => client.TryIdentity(identity())), Is.EqualTo(CdpStatus.Ok));
                    calls.Run("CdpClient.Identity", () => client.Identity(identity()));
                    Assert.That(calls.Run("CdpClient.TryEvent", () => client.TryEvent(new CustomEvent("ADD_TO_WISHLIST") { BrowserId = bid, Page = "p" })), Is.EqualTo(CdpStatus.Ok));
                    calls.Run("CdpClient.Event", () => client.Event(new CustomEvent("ADD_TO_CART") { BrowserId = bid, Page = "p" }));

                    var request = new DecisionRequest("home_page_banner") { BrowserId = bid, PointOfSale = "myretailsite/germany" };
                    request.PageVariantIds.Add("v1");
                    var decided = calls.Run("CdpClient.Decide", () => client.Decide(request, TimeSpan.FromSeconds(5)));
                    Assert.That(decided.Status, Is.EqualTo(CdpStatus.Ok), decided.ToString());
                    var ticket = calls.Run("CdpClient.BeginDecide", () => client.BeginDecide(new DecisionRequest("home_page_banner") { BrowserId = bid }));
                    calls.Run("DecisionTicket.IsReady", () => ticket.IsReady);
                    var waited = calls.Run("DecisionTicket.Wait", () => ticket.Wait(TimeSpan.FromSeconds(5)));
                    Assert.That(waited.Status, Is.EqualTo(CdpStatus.Ok), waited.ToString());
                    var done = calls.Run("DecisionTicket.Completed", () => DecisionTicket.Completed(waited));
                    Assert.That(done.Wait(TimeSpan.Zero), Is.SameAs(waited));

                    var ensured = calls.Run("CdpClient.EnsureBrowserId", () => client.EnsureBrowserId(null, TimeSpan.FromSeconds(5)));
                    Assert.That(ensured.BrowserId, Is.Not.Null.And.Not.Empty);
                    var guest = calls.Run("CdpClient.GuestRefFor", () => client.GuestRefFor(bid, TimeSpan.FromSeconds(5)));
                    Assert.That(guest, Is.Not.Empty);

                    GuestCalls(client.Guests, calls, email, crm);

                    Assert.That(calls.Run("CdpClient.GetStats", () => client.GetStats()).Json, Is.StringContaining("\"events\""));
                    Assert.That(calls.Run("CdpClient.Shutdown", () => client.Shutdown(TimeSpan.FromSeconds(5))), Is.EqualTo(CdpStatus.Ok));
                    report = client.GetStats().Shutdown?.ToString();
                    calls.Run("CdpClient.Dispose", () => client.Dispose());
                }
            });
            Assert.That(report, Is.StringContaining(" 0 unsent"), report);
            _emulator.WaitForEvents(bid, 6, TimeSpan.FromSeconds(10));

            var missing = PublicCalls().Where(c => !calls.Made.Contains(c)).Distinct().ToList();
            Assert.That(missing, Is.Empty, "public calls never made on the 256 KiB thread: " + string.Join(", ", missing));
        }

        [Test]
        public void DeeplyNestedEventData_IsRefusedOnA256KiBStack_NotAStackOverflow()
        {
            // 127 levels is within serde_json's own limit; its recursive parse overflowed 256 KiB before the native
            // side refused documents nested deeper than 34 levels ahead of parsing.
            var deep = new System.Text.StringBuilder();
            for (int i = 0; i < 127; i++) deep.Append("{\"a\":");
            deep.Append('1').Append('}', 127);
            var bid = _emulator.CreateBrowserId();
            CdpStatus status = CdpStatus.Ok;
            string message = null;
            OnSmallStack(() =>
            {
                using (var client = new CdpClient(new CdpSettings { ClientKey = "ck_test", PointOfSale = "myretailsite/ireland", TargetUrl = _emulator.BaseUrl }))
                {
                    status = client.TryEvent(new CustomEvent("DEEP") { BrowserId = bid, DataJson = deep.ToString() });
                    message = NativeCalls.LastError();
                }
            });
            Assert.That(status, Is.EqualTo(CdpStatus.InvalidField));
            Assert.That(message, Is.StringContaining("event.data_json: JSON nested deeper than 34 levels"));
        }

        /// <summary>The Guest REST calls: lifecycle, lookups, every data extension call, and an answer above the 8 KiB output buffer.</summary>
        private static void GuestCalls(CdpGuests guests, Calls calls, string email, string crm)
        {
            var profile = new CdpGuestProfile { GuestType = CdpGuestTypes.Customer, Email = email, FirstName = "Ann", LastName = "Lee" };
            profile.Identifiers.Add(new CdpIdentifier("CRM", crm));
            profile.Extension("ext").Set("loyaltyTier", "gold");
            var created = calls.Run("CdpGuests.Create", () => guests.Create(profile, TimeSpan.FromSeconds(5)));
            var guestRef = calls.Run("CdpGuests.RefOf", () => CdpGuests.RefOf(created));
            Assert.That(guestRef, Is.Not.Null.And.Not.Empty, created);

            var byEmail = calls.Run("CdpGuests.FindByEmail", () => guests.FindByEmail(email));
            Assert.That(calls.Run("CdpGuests.RefsOf", () => CdpGuests.RefsOf(byEmail)), Is.EqualTo(new[] { guestRef }));
            Assert.That(calls.Run("CdpGuests.FindByIdentifier", () => guests.FindByIdentifier("CRM", crm)), Is.StringContaining(guestRef));
            Assert.That(calls.Run("CdpGuests.Update", () => guests.Update(guestRef, new CdpGuestProfile { FirstName = "Annie" })), Is.StringContaining("Annie"));

            calls.Run("CdpGuests.CreateExtension", () => guests.CreateExtension(guestRef, "ext1", new CdpExtensionData().Set("points", 1)));
            calls.Run("CdpGuests.PatchExtension", () => guests.PatchExtension(guestRef, "ext1", new CdpExtensionData().Set("points", 2)));
            // 10 000 characters: the answer outgrows the per-thread 8 KiB buffer and comes back through xmcdp_result_take.
            var big = new string('x', 10000);
            calls.Run("CdpGuests.PutExtension", () => guests.PutExtension(guestRef, "ext1", new CdpExtensionData().Set("note", big).Set("size", 3)));
            Assert.That(calls.Run("CdpGuests.GetExtension", () => guests.GetExtension(guestRef, "ext1")), Is.StringContaining(big));
            var values = calls.Run("CdpGuests.ExtensionValues", () => guests.ExtensionValues(guestRef, "ext1"));
            Assert.That(values["size"], Is.EqualTo(3L));
            Assert.That(values.ContainsKey("points"), Is.False, "put replaced every key");
            var left = calls.Run("CdpGuests.DeleteExtensionFields", () => guests.DeleteExtensionFields(guestRef, "ext1", new[] { "note" }));
            Assert.That(left, Is.Not.StringContaining(big));
            Assert.That(calls.Run("CdpGuests.ListExtensions", () => guests.ListExtensions(guestRef, true)), Is.StringContaining("loyaltyTier"));
            calls.Run("CdpGuests.DeleteExtension", () => guests.DeleteExtension(guestRef, "ext1"));
            Assert.That(calls.Run("CdpGuests.Get", () => guests.Get(guestRef, true)), Is.StringContaining(guestRef));

            Assert.That(calls.Run("CdpGuests.Replace", () => guests.Replace(guestRef, new CdpGuestProfile { GuestType = CdpGuestTypes.Customer, LastName = "Lee" })),
                Is.Not.StringContaining("Annie"));
            calls.Run("CdpGuests.Delete", () => guests.Delete(guestRef));
            var gone = Assert.Throws<XmCdpException>(() => guests.Get(guestRef));
            Assert.That(gone.Status, Is.EqualTo(CdpStatus.NotFound));
        }
    }
}
