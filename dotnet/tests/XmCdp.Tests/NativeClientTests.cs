using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using NUnit.Framework;
using XmCdp.Events;
using XmCdp.Logging;
using XmCdp.Native;
using XmCdp.TestSupport;

namespace XmCdp.Tests
{
    /// <summary>The wrapper against the real native library and xmcdp-emulator.</summary>
    [TestFixture]
    public class NativeClientTests
    {
        private EmulatorClient _emulator;

        [TestFixtureSetUp]
        public void FixtureSetUp()
        {
            _emulator = EmulatorClient.FromEnvironment();
            NativeLibraryLoader.EnsureLoaded();
        }

        private CdpSettings Settings(string extraCookie = null) => new CdpSettings
        {
            ClientKey = "ck_test",
            PointOfSale = "myretailsite/ireland",
            TargetUrl = _emulator.BaseUrl,
            Currency = "EUR",
            ApiToken = "tok_SECRET_123",
        };

        [Test]
        public void EnsureLoaded_ReportsWhereTheLibraryCameFrom()
        {
            Assert.That(NativeLibraryLoader.LoadedFrom, Is.StringContaining("xmcdp"));
            Assert.That(NativeCalls.Version(), Is.GreaterThan(0u));
        }

        [Test]
        public void New_UnknownSettingKey_ThrowsWithConfigStatusAndNoSecret()
        {
            // CookieName with a ';' is invalid; the token must not appear in the message.
            var s = Settings();
            s.CookieName = "a;b";
            var e = Assert.Throws<XmCdpException>(() => new CdpClient(s));
            Assert.That(e.Status.Group(), Is.EqualTo(CdpStatusGroup.Configuration), e.Message);
            Assert.That(e.Message, Is.StringStarting("XmCdp: "));
            Assert.That(e.Message, Is.Not.StringContaining("tok_SECRET_123"));
        }

        [Test]
        public void New_MissingPointOfSale_ThrowsMissingSetting()
        {
            var s = Settings();
            s.PointOfSale = null;
            var e = Assert.Throws<XmCdpException>(() => new CdpClient(s));
            Assert.That(e.Status, Is.EqualTo(CdpStatus.MissingSetting), e.Message);
        }

        [Test]
        public void New_EdgeModeSettings_AreAcceptedAndTheTokenStaysOutOfToString()
        {
            var s = new CdpSettings
            {
                ClientKey = "ck_test",
                EdgeUrl = _emulator.BaseUrl,
                ContextId = "ctx-test",
                EdgeSiteName = "spinair.com",
                ApiToken = "tok_SECRET_123",
            };
            Assert.That(s.ToJson(), Is.EqualTo("{\"clientKey\":\"ck_test\",\"channel\":\"WEB\",\"edgeUrl\":\"" + _emulator.BaseUrl
                + "\",\"contextId\":\"ctx-test\",\"siteName\":\"spinair.com\",\"apiToken\":\"tok_SECRET_123\"}"));
            Assert.That(s.ToString(), Is.Not.StringContaining("tok_SECRET_123"));
            using (var client = new CdpClient(s))
            {
                Assert.That(client.ClientKey, Is.EqualTo("ck_test"));
            }
        }

        [Test]
        public void PageView_IsDeliveredToCdpWithUtmVariantAndExt()
        {
            var bid = _emulator.CreateBrowserId();
            using (var client = new CdpClient(Settings()))
            {
                var view = new PageView
                {
                    BrowserId = bid,
                    Page = "home",
                    Language = "EN",
                    Url = "/home?utm_source=google&UTM_Medium=cpc",
                    Referrer = "https://www.google.com/",
                    PageVariantId = "v-1",
                    UserAgent = "Mozilla/5.0 Zoë",
                };
                view.Ext.Set("customKey", "customValue");
                client.PageView(view);
                Assert.That(client.Shutdown(TimeSpan.FromSeconds(5)), Is.EqualTo(CdpStatus.Ok));
            }

            var events = _emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(5));
            Assert.That(events.Count, Is.EqualTo(1));
            var body = EmulatorClient.Body(events[0]);
            Assert.That(body["type"], Is.EqualTo("VIEW"));
            Assert.That(body["page"], Is.EqualTo("home"));
            Assert.That(body["language"], Is.EqualTo("EN"));
            Assert.That(body["pos"], Is.EqualTo("myretailsite/ireland"));
            Assert.That(body["currency"], Is.EqualTo("EUR"));
            Assert.That(body["channel"], Is.EqualTo("WEB"));
            Assert.That(body["utm_source"], Is.EqualTo("google"));
            Assert.That(body["utm_medium"], Is.EqualTo("cpc"));
            Assert.That(body["referrer"], Is.EqualTo("https://www.google.com/"));
            var ext = (Dictionary<string, object>)body["ext"];
            Assert.That(ext["pageVariantId"], Is.EqualTo("v-1"));
            Assert.That(ext["customKey"], Is.EqualTo("customValue"));
        }

        [Test]
        public void IdentityAndCustomEvent_AreDelivered()
        {
            var bid = _emulator.CreateBrowserId();
            using (var client = new CdpClient(Settings()))
            {
                var identity = new IdentityEvent { BrowserId = bid, Email = "jane.doe@example.com", FirstName = "Jane" };
                identity.Street.Add("Apt 1");
                identity.Street.Add("Main St");
                identity.Identifiers.Add(new CdpIdentifier("email", "jane.doe@example.com") { ExpiryDate = "2030-12-31T23:59" });
                Assert.That(client.TryIdentity(identity), Is.EqualTo(CdpStatus.Ok));

                var add = new CustomEvent("ADD") { BrowserId = bid, Page = "pdp" };
                add.Data.Set("reference_id", "R1");
                add.Ext.Set("color", "red");
                Assert.That(client.TryEvent(add), Is.EqualTo(CdpStatus.Ok));
                client.Shutdown(TimeSpan.FromSeconds(5));
            }

            var events = _emulator.WaitForEvents(bid, 2, TimeSpan.FromSeconds(5));
            var types = events.Select(e => (string)EmulatorClient.Body(e)["type"]).ToList();
            Assert.That(types, Is.EquivalentTo(new[] { "IDENTITY", "ADD" }));
            var idBody = EmulatorClient.Body(events.First(e => (string)EmulatorClient.Body(e)["type"] == "IDENTITY"));
            Assert.That(idBody["email"], Is.EqualTo("jane.doe@example.com"));
            Assert.That(idBody["firstname"], Is.EqualTo("Jane"));
            Assert.That(((System.Collections.ArrayList)idBody["street"]).Cast<string>(), Is.EqualTo(new[] { "Apt 1", "Main St" }));
            var addBody = EmulatorClient.Body(events.First(e => (string)EmulatorClient.Body(e)["type"] == "ADD"));
            Assert.That(addBody["reference_id"], Is.EqualTo("R1"));
        }

        [Test]
        public void Rejections_ComeBackAsStatusesNotExceptions()
        {
            using (var client = new CdpClient(Settings()))
            {
                var noIds = new IdentityEvent { BrowserId = "b-1" };
                Assert.That(client.TryIdentity(noIds), Is.EqualTo(CdpStatus.MissingIdentifiers));

                Assert.That(client.TryEvent(new CustomEvent("VIEW") { BrowserId = "b-1" }), Is.EqualTo(CdpStatus.InvalidEventType));

                var tooMany = new PageView { BrowserId = "b-1", Page = "p" };
                for (int i = 0; i < 51; i++) tooMany.Ext.Set("k" + i, i);
                Assert.That(client.TryPageView(tooMany), Is.EqualTo(CdpStatus.TooManyExtAttributes));

                var e = Assert.Throws<XmCdpException>(() => client.Event(new CustomEvent("VIEW") { BrowserId = "b-1" }));
                Assert.That(e.Status, Is.EqualTo(CdpStatus.InvalidEventType));
                Assert.That(e.Message, Is.StringContaining("36"));
            }
        }

        [Test]
        public void AfterShutdown_EventsAreRefusedWithShutDown()
        {
            using (var client = new CdpClient(Settings()))
            {
                Assert.That(client.Shutdown(TimeSpan.FromSeconds(2)), Is.EqualTo(CdpStatus.Ok));
                Assert.That(client.Shutdown(TimeSpan.FromSeconds(2)), Is.EqualTo(CdpStatus.Ok), "idempotent");
                Assert.That(client.TryPageView(new PageView { BrowserId = "b-1", Page = "p" }), Is.EqualTo(CdpStatus.ShutDown));
            }
        }

        [Test]
        public void AfterDispose_EveryCallThrowsObjectDisposed()
        {
            var client = new CdpClient(Settings());
            client.Dispose();
            client.Dispose();
            Assert.That(client.IsDisposed, Is.True);
            Assert.Throws<ObjectDisposedException>(() => client.TryPageView(new PageView()));
            Assert.Throws<ObjectDisposedException>(() => client.GetStats());
            Assert.Throws<ObjectDisposedException>(() => client.Shutdown(TimeSpan.Zero));
        }

        [Test]
        public void Stats_CountTheQueuedEvents()
        {
            var bid = _emulator.CreateBrowserId();
            using (var client = new CdpClient(Settings()))
            {
                for (int i = 0; i < 3; i++) client.PageView(new PageView { BrowserId = bid, Page = "p" + i });
                client.Shutdown(TimeSpan.FromSeconds(5));
                var stats = client.GetStats();
                Assert.That(stats.Json, Is.StringStarting("{"));
                Assert.That(stats.Json, Is.Not.StringContaining("tok_SECRET_123"));
                double enqueued, sent;
                Assert.That(stats.TryGetNumber("events.enqueued", out enqueued), Is.True, stats.Json);
                Assert.That(stats.TryGetNumber("events.sent", out sent), Is.True, stats.Json);
                Assert.That(enqueued, Is.EqualTo(3), stats.Json);
                Assert.That(sent, Is.EqualTo(3), stats.Json);
            }
        }

        private sealed class ListSink : ICdpLogSink
        {
            public readonly List<string> Lines = new List<string>();

            public void Write(CdpLogLevel level, string message)
            {
                lock (Lines) Lines.Add(level + " " + message);
            }
        }

        [Test]
        public void LogPump_DeliversNativeRecordsWithoutSecrets()
        {
            var sink = new ListSink();
            NativeLogPump.Start(sink);
            try
            {
                using (var client = new CdpClient(Settings()))
                {
                    client.Shutdown(TimeSpan.FromSeconds(2));
                }
                var deadline = DateTime.UtcNow.AddSeconds(5);
                while (DateTime.UtcNow < deadline)
                {
                    lock (sink.Lines) if (sink.Lines.Count > 0) break;
                    Thread.Sleep(50);
                }
            }
            finally
            {
                Assert.That(NativeLogPump.Stop(TimeSpan.FromSeconds(2)), Is.True, "the pump stops within its poll interval");
            }
            lock (sink.Lines)
            {
                Assert.That(sink.Lines, Is.Not.Empty);
                Assert.That(string.Join("\n", sink.Lines), Is.Not.StringContaining("tok_SECRET_123"));
            }
        }
    }
}
