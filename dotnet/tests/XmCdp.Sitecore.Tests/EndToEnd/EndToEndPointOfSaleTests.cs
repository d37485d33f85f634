using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Web.Script.Serialization;
using NUnit.Framework;
using XmCdp.TestSupport;

namespace XmCdp.Sitecore.Tests.EndToEnd
{
    /// <summary>
    /// <c>pointOfSaleByLanguage</c> end to end (issue 10 item 13): through xsp4, the shipped config and the real native
    /// library, a German page's VIEW and every callFlows request started for it (the site-wide and path prefetches and
    /// the rendering's decision) carry the German point of sale, and the same visitor's English page gets decisions
    /// for the site's default point of sale, not the German ones from the decision cache. Its own host, for the extra
    /// appSettings.
    /// </summary>
    [TestFixture]
    public class EndToEndPointOfSaleTests
    {
        private const string German = "myretailsite/germany";
        private const string Default = "myretailsite/ireland";
        private EmulatorClient _emulator;
        private XspHost _host;

        [TestFixtureSetUp]
        public void StartHost()
        {
            _emulator = EmulatorClient.FromEnvironment();
            _emulator.SetFaults("{}");
            _host = XspHost.Start(_emulator.BaseUrl, null, new Dictionary<string, string>
            {
                { "XmCdp.website.pointOfSaleByLanguage", "de=" + German },
                // The native decision cache on: an English page answered from the German entries would show here.
                { "XmCdp.website.decisionCacheTtlMs", "60000" },
            });
            var warm = _host.Get("/__host/log");
            Assert.That(warm.Status, Is.EqualTo(200), warm.Body + "\n" + _host.Output);
        }

        [TestFixtureTearDown]
        public void StopHost() => _host?.Dispose();

        private static Dictionary<string, string> Bid(string bid) => new Dictionary<string, string> { { "bid_ck_test", bid } };

        /// <summary>The callFlows bodies the emulator received for this browser id, in arrival order.</summary>
        private List<Dictionary<string, object>> CallFlows(string bid)
        {
            using (var wc = new WebClient())
            {
                var json = wc.DownloadString(_emulator.BaseUrl + "/__emulator/requests");
                var js = new JavaScriptSerializer { MaxJsonLength = int.MaxValue };
                var all = (Dictionary<string, object>)js.DeserializeObject(json);
                return ((object[])all["items"]).Cast<Dictionary<string, object>>()
                    .Where(q => (string)q["route"] == "callflows" && q["body"] is string && ((string)q["body"]).Contains(bid))
                    .Select(q => (Dictionary<string, object>)js.DeserializeObject((string)q["body"]))
                    .ToList();
            }
        }

        private static string Flows(IEnumerable<Dictionary<string, object>> bodies) =>
            string.Join(",", bodies.Select(b => (string)b["friendlyId"] + "@" + (string)b["pointOfSale"]));

        [Test]
        public void AGermanPage_DecidesForTheGermanPointOfSale_AndAnEnglishPageForTheDefault()
        {
            var bid = _emulator.CreateBrowserId();
            var de = _host.Get("/products/bike?sc_lang=de-DE&decide=hero_experiment,promo_spring&budget=2000", Bid(bid));
            Assert.That(de.Status, Is.EqualTo(200), de.Body);
            var view = EmulatorClient.Body(_emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(10)).Single());
            Assert.That(view["pos"], Is.EqualTo(German), "the VIEW (already per language)");

            var german = CallFlows(bid);
            // home_page_banner (prefetchFlows), hero_experiment (prefetchPaths), promo_spring (decided by the rendering).
            Assert.That(german.Select(b => (string)b["friendlyId"]).OrderBy(f => f), Is.EqualTo(new[] { "hero_experiment", "home_page_banner", "promo_spring" }),
                Flows(german));
            Assert.That(german.Select(b => (string)b["pointOfSale"]), Is.All.EqualTo(German), Flows(german));

            var en = _host.Get("/products/bike?sc_lang=en&decide=hero_experiment&budget=2000", Bid(bid));
            Assert.That(en.Status, Is.EqualTo(200), en.Body);
            var english = CallFlows(bid).Skip(german.Count).ToList();
            Assert.That(english.Select(b => (string)b["friendlyId"]).OrderBy(f => f), Is.EqualTo(new[] { "hero_experiment", "home_page_banner" }),
                "asked again for the English page, not answered from the German decisions: " + Flows(english));
            Assert.That(english.Select(b => (string)b["pointOfSale"]), Is.All.EqualTo(Default), Flows(english));
        }
    }
}
