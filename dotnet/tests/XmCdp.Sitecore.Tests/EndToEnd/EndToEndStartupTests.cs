using System;
using System.Collections.Generic;
using NUnit.Framework;
using XmCdp.TestSupport;

namespace XmCdp.Sitecore.Tests.EndToEnd
{
    /// <summary>A fresh site: the config factory creates each pipeline's processors when that pipeline first runs.</summary>
    [TestFixture]
    public class EndToEndStartupTests
    {
        [Test]
        public void FirstRequestAfterStartup_DefersTheViewLikeEveryOther()
        {
            var emulator = EmulatorClient.FromEnvironment();
            using (var host = XspHost.Start(emulator.BaseUrl))
            {
                var bid = emulator.CreateBrowserId();
                // httpRequestBegin's processors exist, httpRequestEnd's (SendPageView) not yet.
                var first = host.Get("/about", new Dictionary<string, string> { { "bid_ck_test", bid } });
                Assert.That(first.Body, Is.EqualTo("page=about tracked=yes view=AtRequestEnd identity=none"));
                var events = emulator.WaitForEvents(bid, 1, TimeSpan.FromSeconds(10));
                Assert.That(events.Count, Is.EqualTo(1));
                Assert.That(EmulatorClient.Body(events[0])["page"], Is.EqualTo("about"));
            }
        }

        [Test]
        public void ShippedConfig_SpoolsUnderTheSitesDataFolderAndSaysWhere()
        {
            var emulator = EmulatorClient.FromEnvironment();
            using (var host = XspHost.Start(emulator.BaseUrl))
            {
                var log = host.Get("/__host/log").Body;
                var spool = System.IO.Path.Combine(host.WorkDir, "site", "App_Data", "XmCdp", "website");
                Assert.That(log, Is.StringContaining("INFO XmCdp: tracking site 'website' with CdpSettings(").And.StringContaining("spool=" + spool + ")"), log);
                Assert.That(System.IO.Directory.Exists(spool), Is.True, "the native spool opened its folder");
                Assert.That(host.Get("/__host/stats").Body, Is.StringContaining("\"spool\":{").And.Not.StringContaining("\"enabled\":false"));
            }
        }
    }
}
