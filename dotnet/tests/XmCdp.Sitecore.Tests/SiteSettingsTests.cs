using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Xml;
using NUnit.Framework;
using Sitecore.Configuration;
using Sitecore.Pipelines;
using XmCdp.Events;
using XmCdp.Sitecore.Pipelines.Initialize;
using Log = Sitecore.Diagnostics.Log;

namespace XmCdp.Sitecore.Tests
{
    /// <summary>Every &lt;site&gt; attribute reaches the native settings; the native parser owns the names and rules.</summary>
    [TestFixture]
    public class SiteSettingsTests
    {
        private readonly List<CdpSettings> _created = new List<CdpSettings>();

        [SetUp]
        public void SetUp()
        {
            Log.Clear();
            XmCdpSites.Clear();
            XmCdpShutdown.ResetForTests();
            _created.Clear();
            XmCdpSites.ClientFactory = s =>
            {
                _created.Add(s);
                return new RecordingClient(s.ClientKey);
            };
        }

        [TearDown]
        public void TearDown()
        {
            XmCdpShutdown.ShutdownAll(TimeSpan.FromSeconds(2));
            XmCdpSites.ClientFactory = XmCdpSites.DefaultFactory;
            XmCdpSites.Clear();
            XmCdpShutdown.ResetForTests();
        }

        private static InitializeXmCdp WithSite(string siteXml)
        {
            var doc = new XmlDocument();
            doc.LoadXml(siteXml);
            var p = new InitializeXmCdp();
            p.AddSite(doc.DocumentElement);
            return p;
        }

        [Test]
        public void EveryAttribute_ReachesTheNativeSettingsWithItsJsonType()
        {
            WithSite("<site name='shop' clientKey='ck_shop' pointOfSale='p' targetUrl='https://cdp.example.com' queueCapacity='500' "
                + "retryMaxAttempts='3' overflowPolicy='dropOldest' forwardUserAgent='false' proxy='http://proxy.local:8080' "
                + "requestTimeoutMs='7000' decisionCacheTtlMs='{\"*\": 1000}' spoolMaxBytes='1048576' prefetchFlows='a' />")
                .Process(new PipelineArgs());

            var json = _created.Single().ToJson();
            Assert.That(json, Is.StringContaining("\"queueCapacity\":500"));
            Assert.That(json, Is.StringContaining("\"retryMaxAttempts\":3"));
            Assert.That(json, Is.StringContaining("\"overflowPolicy\":\"dropOldest\""));
            Assert.That(json, Is.StringContaining("\"forwardUserAgent\":false"));
            Assert.That(json, Is.StringContaining("\"proxy\":\"http://proxy.local:8080\""));
            Assert.That(json, Is.StringContaining("\"requestTimeoutMs\":7000"));
            Assert.That(json, Is.StringContaining("\"decisionCacheTtlMs\":{\"*\": 1000}"));
            Assert.That(json, Is.StringContaining("\"spoolMaxBytes\":1048576"));
            Assert.That(json, Is.Not.StringContaining("prefetchFlows").And.Not.StringContaining("\"name\""), "C#-only attributes stay in C#");
        }

        [Test]
        public void RelativeSpoolDirectory_IsResolvedAgainstTheApplicationRoot()
        {
            WithSite("<site name='shop' clientKey='ck_shop' pointOfSale='p' targetUrl='https://cdp.example.com' spoolDirectory='/App_Data/XmCdp/shop' />")
                .Process(new PipelineArgs());

            var dir = _created.Single().GetNative("spoolDirectory");
            Assert.That(Path.IsPathRooted(dir), Is.True, dir);
            Assert.That(dir, Is.EqualTo(Path.Combine(AppDomain.CurrentDomain.BaseDirectory, "App_Data", "XmCdp", "shop")));
        }

        [Test]
        public void UnknownOrInvalidAttribute_DisablesThatSiteWithOneLineNamingItNeverTheValue()
        {
            XmCdpSites.ClientFactory = XmCdpSites.DefaultFactory;
            var doc = new XmlDocument();
            doc.LoadXml("<sites>"
                + "<site name='typo' clientKey='ck_a' pointOfSale='p' targetUrl='http://127.0.0.1:9' queueCapasity='SECRET_VALUE_1' />"
                + "<site name='invalid' clientKey='ck_b' pointOfSale='p' targetUrl='http://127.0.0.1:9' overflowPolicy='SECRET_VALUE_2' />"
                + "<site name='good' clientKey='ck_c' pointOfSale='p' targetUrl='http://127.0.0.1:9' queueCapacity='100' /></sites>");
            var p = new InitializeXmCdp();
            foreach (XmlNode n in doc.DocumentElement.ChildNodes) p.AddSite(n);
            p.Process(new PipelineArgs());

            Assert.That(XmCdpSites.Find("typo"), Is.Null);
            Assert.That(XmCdpSites.Find("invalid"), Is.Null);
            Assert.That(XmCdpSites.Find("good"), Is.Not.Null);
            var errors = Log.Entries().Where(l => l.StartsWith("ERROR")).ToList();
            Assert.That(errors.Count, Is.EqualTo(2), string.Join("\n", Log.Entries()));
            Assert.That(errors[0], Is.StringStarting("ERROR XmCdp: site 'typo' is not tracked: unknown attribute 'queueCapasity'"));
            Assert.That(errors[1], Is.StringStarting("ERROR XmCdp: site 'invalid' is not tracked:").And.StringContaining("overflowPolicy"));
            Assert.That(string.Join("\n", Log.Entries()), Is.Not.StringContaining("SECRET_VALUE"));
        }

        [Test]
        public void TextSettings_AreTypedByTheNativeSchema_NotGuessedFromTheText()
        {
            const string site = "<site name='shop' clientKey='ck_shop' pointOfSale='2024' cookieName='12345' targetUrl='http://127.0.0.1:9' "
                + "forwardUserAgent='False' queueCapacity=' 500 ' />";
            WithSite(site).Process(new PipelineArgs());
            var json = _created.Single().ToJson();
            Assert.That(json, Is.StringContaining("\"pointOfSale\":\"2024\""), "an all-digit string setting stays a string");
            Assert.That(json, Is.StringContaining("\"cookieName\":\"12345\""));
            Assert.That(json, Is.StringContaining("\"forwardUserAgent\":false"));
            Assert.That(json, Is.StringContaining("\"queueCapacity\":500"));

            // ... and the native parser takes it: the site is tracked.
            XmCdpSites.Clear();
            XmCdpSites.ClientFactory = XmCdpSites.DefaultFactory;
            WithSite(site).Process(new PipelineArgs());
            Assert.That(XmCdpSites.Find("shop"), Is.Not.Null, string.Join("\n", Log.Entries()));
        }

        [Test]
        public void InvalidNumber_DisablesTheSiteNamingTheAttributeNeverTheValue()
        {
            XmCdpSites.ClientFactory = XmCdpSites.DefaultFactory;
            WithSite("<site name='shop' clientKey='ck_shop' pointOfSale='p' targetUrl='http://127.0.0.1:9' queueCapacity='12SECRET_VALUE' />")
                .Process(new PipelineArgs());

            Assert.That(XmCdpSites.Find("shop"), Is.Null);
            var errors = Log.Entries().Where(l => l.StartsWith("ERROR")).ToList();
            Assert.That(errors.Count, Is.EqualTo(1), string.Join("\n", Log.Entries()));
            Assert.That(errors[0], Is.StringStarting("ERROR XmCdp: site 'shop' is not tracked: setting 'queueCapacity' must be a whole number"));
            Assert.That(string.Join("\n", Log.Entries()), Is.Not.StringContaining("SECRET_VALUE"));
        }

        [Test]
        public void Shutdown_LogsTheReportAndTheSpoolFigures()
        {
            var dir = Path.Combine(Path.GetTempPath(), "xmcdp-shutdown-figures-" + Guid.NewGuid().ToString("N"));
            // A listener that never answers: the view is still in flight at the deadline and goes to the spool at
            // shutdown, on any machine. (A refused port let the outage spill reach the spool before shutdown on a
            // fast machine, and shutdown then reported nothing unsent.)
            var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            silent.Start();
            try
            {
                XmCdpSites.ClientFactory = XmCdpSites.DefaultFactory;
                var target = "http://127.0.0.1:" + ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
                WithSite("<site name='shop' clientKey='ck_shop' pointOfSale='p' targetUrl='" + target + "' retryMaxAttempts='100' "
                    + "requestTimeoutMs='60000' spoolDirectory='" + dir + "' />").Process(new PipelineArgs());
                var client = (CdpClient)XmCdpSites.Find("shop").Client;
                Assert.That(client.GetStats().Shutdown, Is.Null, "no report before shutdown");
                Assert.That(client.GetStats().SpoolEnabled, Is.True);
                Assert.That(client.GetStats().SpoolOldestAcceptedUtc, Is.Null, "nothing spooled yet");
                var accepted = DateTime.UtcNow.AddMilliseconds(-1);
                Assert.That(client.TryPageView(new PageView { BrowserId = "6f0c2c1e-1b1a-4c3f-9d0e-5a4b3c2d1e0f", Page = "home" }), Is.EqualTo(CdpStatus.Ok));

                Assert.That(client.Shutdown(TimeSpan.FromMilliseconds(300)), Is.EqualTo(CdpStatus.ShutdownIncomplete));
                var report = client.GetStats().Shutdown;
                Assert.That(report, Is.Not.Null);
                Assert.That(new[] { report.Delivered, report.Unsent, report.Spooled }, Is.EqualTo(new long[] { 0, 1, 1 }));
                Assert.That(client.GetStats().SpoolSpooled, Is.EqualTo(1));
                // The admin page's "oldest event in the spool": the view waiting on disk for the next start.
                Assert.That(client.GetStats().SpoolOldestAcceptedUtc, Is.InRange(accepted, DateTime.UtcNow));

                XmCdpShutdown.ShutdownAll(TimeSpan.FromSeconds(1));
                Assert.That(Log.Entries(), Has.Some.EqualTo("INFO XmCdp: site 'shop' shut down: 0 delivered while draining, 1 unsent, 1 of them spooled; "
                    + "spool: 1 spooled, 0 replayed, 1 waiting for the next start, 0 evicted"), string.Join("\n", Log.Entries()));
            }
            finally
            {
                silent.Stop();
                try { Directory.Delete(dir, true); } catch (IOException) { }
            }
        }

        [Test]
        public void PointOfSaleByLanguage_PicksTheLanguagesPointOfSaleElseTheSiteDefault()
        {
            WithSite("<site name='shop' clientKey='ck_shop' pointOfSale='brand/ireland' targetUrl='https://cdp.example.com' "
                + "pointOfSaleByLanguage='de=brand/germany; fr-CA=brand/quebec' />").Process(new PipelineArgs());

            var b = XmCdpSites.Find("shop");
            Assert.That(b.PointOfSaleFor("de-AT"), Is.EqualTo("brand/germany"), "primary subtag");
            Assert.That(b.PointOfSaleFor("fr-CA"), Is.EqualTo("brand/quebec"));
            Assert.That(b.PointOfSaleFor("fr-FR"), Is.Null, "the site default, sent by the native side");
            Assert.That(b.PointOfSaleFor("en"), Is.Null);
            Assert.That(_created.Single().ToJson(), Is.Not.StringContaining("pointOfSaleByLanguage"));
        }

        [Test]
        public void PointOfSaleByLanguage_Malformed_DisablesTheSite()
        {
            WithSite("<site name='shop' clientKey='ck_shop' pointOfSale='p' targetUrl='https://cdp.example.com' pointOfSaleByLanguage='de' />")
                .Process(new PipelineArgs());
            Assert.That(XmCdpSites.Find("shop"), Is.Null);
            Assert.That(Log.Entries(), Has.Some.StringStarting("ERROR XmCdp: site 'shop' is not tracked: pointOfSaleByLanguage must be"));
        }

        [Test]
        public void LogLines_AreNamedAfterXmCdpNotSystemRuntimeType()
        {
            XmCdpLog.Info("hello");
            XmCdpLog.SingleWarn("once");
            Assert.That(Log.Loggers(), Is.EqualTo(new[] { "XmCdp.Sitecore.XmCdpLog", "XmCdp.Sitecore.XmCdpLog" }));
        }

        [Test]
        public void ShippedConfig_EnablesTheSpoolUnderTheDataFolderOneSubfolderPerSite()
        {
            var testOut = Environment.GetEnvironmentVariable("XMCDP_TEST_OUT");
            var replay = new ConfigReplay(File.ReadAllText(Path.Combine(testOut, "site", "App_Config", "Sitecore.config")), new[] { "Standalone" });
            replay.ApplyIncludeFile(Path.Combine(testOut, "site", "App_Config", "Include", "XmCdp", "XmCdp.config"));
            replay.BuildPipeline("initialize").Run(new PipelineArgs());

            var dir = _created.Single().GetNative("spoolDirectory");
            Assert.That(dir, Is.EqualTo(Path.Combine(AppDomain.CurrentDomain.BaseDirectory, "App_Data", "XmCdp", "website")));
            Assert.That(Log.Entries(), Has.Some.StringContaining("tracking site 'website' with CdpSettings(").And.StringContaining("spool=" + dir));
        }
    }
}
