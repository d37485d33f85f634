using System;
using NUnit.Framework;
using Sitecore.Pipelines.HttpRequest;
using XmCdp.Events;
using XmCdp.Sitecore.Pipelines.HttpRequestBegin;
using XmCdp.Sitecore.Pipelines.HttpRequestEnd;
using Context = Sitecore.Context;
using Log = Sitecore.Diagnostics.Log;

namespace XmCdp.Sitecore.Tests
{
    /// <summary>
    /// TrackVisitor with DeferView (as shipped) and SendPageView at httpRequestEnd. (Named to run after
    /// ShippedConfigTests, whose appSettings check fails on Mono when these System.Web fakes run earlier in the domain.)
    /// </summary>
    [TestFixture]
    public class TrackVisitorDeferredViewTests
    {
        private const string Bid = "a38b230c-11eb-4cf9-8d5d-274e9f344925";
        private RecordingClient _client;
        private TrackVisitor _begin;
        private SendPageView _end;

        [SetUp]
        public void SetUp()
        {
            Log.Clear();
            Context.Reset();
            XmCdpSites.Clear();
            _client = new RecordingClient("ck_test");
            XmCdpSites.Register(new SiteBinding("website", new CdpSettings { ClientKey = "ck_test", PointOfSale = "pos" }, _client));
            _end = new SendPageView();
            _begin = new TrackVisitor { DeferView = true };
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

        private FakeHttpContext Begin(string url = "http://www.example.com/home")
        {
            var http = new FakeHttpContext(url).WithCookie("bid_ck_test", Bid);
            _begin.Process(new HttpRequestArgs(http));
            return http;
        }

        private void End(FakeHttpContext http) => _end.Process(new HttpRequestArgs(http));

        [Test]
        public void View_IsQueuedAtRequestEndNotAtBegin()
        {
            var http = Begin();
            Assert.That(_client.Views, Is.Empty);
            Assert.That(CdpContext.From(http).ViewPending, Is.True);
            End(http);
            Assert.That(_client.Views.Count, Is.EqualTo(1));
            Assert.That(_client.Views[0].Page, Is.EqualTo("home"));
            Assert.That(CdpContext.From(http).ViewStatus, Is.EqualTo(CdpStatus.Ok));
            End(http);
            Assert.That(_client.Views.Count, Is.EqualTo(1), "sent once");
        }

        [TestCase(301)]
        [TestCase(302)]
        [TestCase(303)]
        [TestCase(304)]
        [TestCase(307)]
        [TestCase(403)]
        [TestCase(404)]
        [TestCase(503)]
        [TestCase(100)]
        public void ResponsesOtherThan2xx_SendNoView(int status)
        {
            // httpRequestEnd also runs after Response.Redirect: the redirect is not a view, its target will be.
            var http = Begin();
            http.FakeResponse.StatusCode = status;
            End(http);
            Assert.That(_client.Views, Is.Empty);
            Assert.That(CdpContext.From(http).ViewPending, Is.False, "the pending view was dropped, not kept");
        }

        [TestCase(200)]
        [TestCase(203)]
        [TestCase(206)]
        public void Responses2xx_SendTheView(int status)
        {
            var http = Begin();
            http.FakeResponse.StatusCode = status;
            End(http);
            Assert.That(_client.Views.Count, Is.EqualTo(1));
        }

        [Test]
        public void VariantSetDuringTheRequest_IsOnTheView()
        {
            var http = Begin("http://www.example.com/home?variantid=from-query");
            http.Items[TrackVisitor.PageVariantItemsKey] = "from-rendering";
            End(http);
            Assert.That(_client.Views[0].PageVariantId, Is.EqualTo("from-rendering"));
        }

        [Test]
        public void QueryVariant_IsKeptWhenNothingElseIsServed()
        {
            var http = Begin("http://www.example.com/home?variantid=from-query");
            End(http);
            Assert.That(_client.Views[0].PageVariantId, Is.EqualTo("from-query"));
        }

        [TestCase("http://www.example.com/home?VariantID=v-1", "v-1")]
        [TestCase("http://www.example.com/home?x=1&%76ariantid=v-2", "v-2")]
        [TestCase("http://www.example.com/home?x=1", null)]
        [TestCase("http://www.example.com/home", null)]
        public void QueryVariant_IsFoundAsQueryStringFindsIt(string url, string expected)
        {
            End(Begin(url));
            Assert.That(_client.Views[0].PageVariantId, Is.EqualTo(expected));
        }

        [TestCase(404)]
        [TestCase(500)]
        [TestCase(503)]
        public void ErrorStatus_SendsNoView(int status)
        {
            var http = Begin();
            http.FakeResponse.StatusCode = status;
            End(http);
            Assert.That(_client.Views, Is.Empty);
        }

        [Test]
        public void CustomEventDuringTheRequest_SendsTheViewFirst()
        {
            var http = Begin();
            var ctx = CdpContext.From(http);
            Assert.That(ctx.TrackEvent(new CustomEvent("ADD")), Is.EqualTo(CdpStatus.Ok));
            Assert.That(_client.Views.Count, Is.EqualTo(1));
            Assert.That(_client.Events.Count, Is.EqualTo(1));
            End(http);
            Assert.That(_client.Views.Count, Is.EqualTo(1));
        }

        [Test]
        public void FailingClient_NeverThrowsFromTheEndProcessor()
        {
            var http = Begin();
            _client.ThrowOnPageView = true;
            Assert.DoesNotThrow(() => End(http));
            Assert.That(string.Join("\n", Log.Entries()), Is.Not.StringContaining("tok_123"));
        }

        [Test]
        public void UntrackedRequest_IsIgnored()
        {
            Assert.DoesNotThrow(() => End(new FakeHttpContext("http://www.example.com/home")));
            Assert.DoesNotThrow(() => _end.Process(null));
            Assert.That(_client.Views, Is.Empty);
        }

        [TestCase("{\"variantId\":\"hero-a\"}", "hero-a")]
        [TestCase("{ \"x\": 1, \"variantId\" : \"v-2\" }", "v-2")]
        [TestCase("{\"variantId\":\"a\\\"b\"}", null)]
        [TestCase("{\"variantId\":42}", null)]
        [TestCase("{\"other\":\"x\"}", null)]
        [TestCase("", null)]
        public void VariantId_IsReadFromTheDecisionJson(string json, string expected)
        {
            Assert.That(CdpContext.VariantId(json), Is.EqualTo(expected));
        }
    }
}
