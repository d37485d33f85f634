using System;
using System.Linq;
using NUnit.Framework;
using Sitecore.Pipelines.HttpRequest;
using XmCdp.Sitecore.Pipelines.HttpRequestBegin;
using XmCdp.Sitecore.Rules;
using Context = Sitecore.Context;
using Log = Sitecore.Diagnostics.Log;

namespace XmCdp.Sitecore.Tests
{
    /// <summary>
    /// <c>pointOfSaleByLanguage</c> on the decisions started for a request (issue 10 item 13): the configured flows
    /// prefetched at request begin, the flows named by personalization rules, and <see cref="CdpContext.Decide"/> on
    /// demand all carry the point of sale of the request's language, as its events do; other languages leave it to
    /// the site's default.
    /// </summary>
    [TestFixture]
    public class TrackVisitorPointOfSaleTests
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
            XmCdpSites.Register(new SiteBinding("website", new CdpSettings { ClientKey = "ck_test", PointOfSale = "brand/ireland" }, _client,
                SiteDecisions.Parse("home_page_banner", "/sitecore/content/home/products=hero_experiment"), "de=brand/germany;fr-CA=brand/quebec"));
            Context.Site = new global::Sitecore.Sites.SiteContext("website");
            var item = new global::Sitecore.Data.Items.Item(new global::Sitecore.Data.ID(Guid.NewGuid()), "bike", "/sitecore/content/home/products/bike");
            item["__Renderings"] = "<r><d id=\"{FE5D7FDF-89C0-4D99-9AA3-B5FBD009C9F3}\"><r uid=\"x\" ds=\"\"><rls><ruleset><rule uid=\"1\"><conditions>"
                + "<condition id=\"" + CdpRules.ItemIds.DecisionVariantCondition + "\" uid=\"a\" flowid=\"rule_flow\" variant=\"v\" />"
                + "</conditions></rule></ruleset></rls></r></d></r>";
            Context.Item = item;
            Context.SetPageMode(Context.StubPageMode.Normal);
        }

        [TearDown]
        public void TearDown()
        {
            XmCdpSites.Clear();
            Context.Reset();
        }

        private CdpContext Request(string language)
        {
            Context.Language = global::Sitecore.Globalization.Language.Parse(language);
            var http = new FakeHttpContext("http://www.example.com/products/bike").WithCookie("bid_ck_test", Bid);
            new TrackVisitor().Process(new HttpRequestArgs(http));
            return CdpContext.From(http);
        }

        [Test]
        public void EveryDecisionOfARequest_CarriesThePointOfSaleOfItsLanguage()
        {
            var ctx = Request("de-DE");
            ctx.Decide("on_demand_flow", TimeSpan.FromMilliseconds(50));

            Assert.That(_client.Started.Select(r => r.FriendlyId), Is.EqualTo(new[] { "home_page_banner", "hero_experiment", "rule_flow" }));
            Assert.That(_client.Started.Select(r => r.PointOfSale), Is.All.EqualTo("brand/germany"), "prefetched: configured flows and rule flows");
            Assert.That(_client.Decided.Single().PointOfSale, Is.EqualTo("brand/germany"), "decided on demand");
            Assert.That(ctx.NewDecisionRequest("x").PointOfSale, Is.EqualTo("brand/germany"));

            _client.Started.Clear();
            Request("fr-CA");
            Assert.That(_client.Started.Select(r => r.PointOfSale), Is.All.EqualTo("brand/quebec"));
        }

        [Test]
        public void ALanguageWithoutAPointOfSale_LeavesTheSiteDefaultToTheNativeSide()
        {
            var ctx = Request("en-GB");
            ctx.Decide("on_demand_flow", TimeSpan.FromMilliseconds(50));
            Assert.That(_client.Started.Count, Is.EqualTo(3));
            Assert.That(_client.Started.Select(r => r.PointOfSale), Is.All.Null);
            Assert.That(_client.Decided.Single().PointOfSale, Is.Null);
        }
    }
}
