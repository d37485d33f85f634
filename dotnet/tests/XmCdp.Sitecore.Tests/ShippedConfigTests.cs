using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Xml;
using NUnit.Framework;
using Sitecore.Configuration;
using Sitecore.Pipelines;
using Sitecore.Pipelines.HttpRequest;
using XmCdp.Sitecore.Pipelines.HttpRequestBegin;
using XmCdp.Sitecore.Pipelines.HttpRequestEnd;
using XmCdp.Sitecore.Pipelines.Initialize;
using Context = Sitecore.Context;
using Log = Sitecore.Diagnostics.Log;

namespace XmCdp.Sitecore.Tests
{
    /// <summary>The shipped XmCdp.config, replayed like Sitecore's config factory, and the initialize processor.</summary>
    [TestFixture]
    public class ShippedConfigTests
    {
        private static string TestOut
        {
            get
            {
                var dir = Environment.GetEnvironmentVariable("XMCDP_TEST_OUT");
                if (string.IsNullOrEmpty(dir)) throw new InvalidOperationException("XMCDP_TEST_OUT is not set: run through xtask::dotnet::test.");
                return dir;
            }
        }

        private static string ShippedConfig => Path.Combine(TestOut, "site", "App_Config", "Include", "XmCdp", "XmCdp.config");
        private static string StockMvcConfig => Path.Combine(TestOut, "site", "App_Config", "Sitecore", "Mvc", "Sitecore.Mvc.config");
        private static string BaseConfig => Path.Combine(TestOut, "site", "App_Config", "Sitecore.config");

        private readonly List<CdpSettings> _created = new List<CdpSettings>();
        private readonly List<RecordingClient> _clients = new List<RecordingClient>();

        [SetUp]
        public void SetUp()
        {
            Log.Clear();
            Context.Reset();
            XmCdpSites.Clear();
            XmCdpShutdown.ResetForTests();
            _created.Clear();
            _clients.Clear();
            XmCdpSites.ClientFactory = s =>
            {
                _created.Add(s);
                var c = new RecordingClient(s.ClientKey);
                _clients.Add(c);
                return c;
            };
        }

        [TearDown]
        public void TearDown()
        {
            XmCdpSites.ClientFactory = XmCdpSites.DefaultFactory;
            XmCdpSites.Clear();
            XmCdpShutdown.ResetForTests();
        }

        private static ConfigReplay Replay(params string[] roles)
        {
            var replay = new ConfigReplay(File.ReadAllText(BaseConfig), roles);
            // Layers.config: App_Config/Sitecore (stock Sitecore.Mvc.config) before App_Config/Include.
            replay.ApplyIncludeFile(StockMvcConfig);
            replay.ApplyIncludeFile(ShippedConfig);
            return replay;
        }

        [TestCase("Standalone")]
        [TestCase("ContentDelivery")]
        public void ShippedConfig_OnCdOrStandalone_AddsTrackerAfterTransferRoutedRequestBeforeLayoutResolverAndInitializer(string role)
        {
            var replay = Replay(role);
            var begin = replay.BuildPipeline("httpRequestBegin").Steps.Select(s => s.TypeName).ToList();
            // After TransferRoutedRequest (routed MVC/API requests abort before it), right before LayoutResolver.
            int transfer = begin.IndexOf("Sitecore.Mvc.Pipelines.HttpRequest.TransferRoutedRequest, Sitecore.Mvc");
            int ours = begin.IndexOf("XmCdp.Sitecore.Pipelines.HttpRequestBegin.TrackVisitor, XmCdp.Sitecore");
            int layout = begin.IndexOf("Sitecore.Pipelines.HttpRequest.LayoutResolver, Sitecore.Kernel");
            Assert.That(transfer, Is.GreaterThan(begin.IndexOf("Sitecore.Pipelines.HttpRequest.ItemResolver, Sitecore.Kernel")), string.Join("\n", begin));
            Assert.That(ours, Is.GreaterThan(transfer), string.Join("\n", begin));
            // Only the browser-tag filter sits between them (it needs the CdpContext TrackVisitor made).
            int inject = begin.IndexOf("XmCdp.Sitecore.Pipelines.HttpRequestBegin.InjectBrowserTag, XmCdp.Sitecore");
            Assert.That(inject, Is.EqualTo(ours + 1), string.Join("\n", begin));
            Assert.That(layout, Is.EqualTo(inject + 1), string.Join("\n", begin));
            // The monitoring endpoint answers before any site is resolved.
            Assert.That(begin.IndexOf("XmCdp.Sitecore.Pipelines.HttpRequestBegin.StatusEndpoint, XmCdp.Sitecore"),
                Is.EqualTo(begin.IndexOf("Sitecore.Pipelines.HttpRequest.SiteResolver, Sitecore.Kernel") - 1), string.Join("\n", begin));
            var init = replay.BuildPipeline("initialize").Steps.Select(s => s.TypeName).ToList();
            Assert.That(init, Has.Member("XmCdp.Sitecore.Pipelines.Initialize.InitializeXmCdp, XmCdp.Sitecore"));
        }

        [Test]
        public void ShippedConfig_OnContentManagement_AddsNothing()
        {
            var replay = Replay("ContentManagement");
            var begin = replay.BuildPipeline("httpRequestBegin").Steps.Select(s => s.TypeName).ToList();
            Assert.That(begin.Any(t => t.StartsWith("XmCdp.")), Is.False, string.Join("\n", begin));
            Assert.That(replay.BuildPipeline("initialize").Steps.Count, Is.EqualTo(1));
        }

        [Test]
        public void ShippedConfig_StartsWithAHeaderCommentAndHoldsNoApiToken()
        {
            var doc = new XmlDocument();
            doc.Load(ShippedConfig);
            var first = doc.ChildNodes.Cast<XmlNode>().First(n => n.NodeType != XmlNodeType.XmlDeclaration);
            Assert.That(first.NodeType, Is.EqualTo(XmlNodeType.Comment));
            Assert.That(first.Value, Is.StringContaining("Content Delivery and Standalone only"));
            var sitecore = (XmlElement)doc.DocumentElement.SelectSingleNode("sitecore");
            Assert.That(sitecore.GetAttribute("require", ConfigReplay.RoleNs), Is.EqualTo("Standalone or ContentDelivery"));
            Assert.That(doc.SelectNodes("//*[@apiToken]").Count, Is.EqualTo(0));
        }

        [Test]
        public void ShippedConfig_ConfiguresTheTrackerFromChildElements()
        {
            var step = Replay("Standalone").BuildPipeline("httpRequestBegin").Steps
                .Single(s => s.Instance is TrackVisitor);
            var tracker = (TrackVisitor)step.Instance;
            Assert.That(tracker.IgnoredSites.Split(','), Has.Member("shell"));
            Assert.That(tracker.IgnoredPathPrefixes.Split(','), Has.Member("/-/"));
            Assert.That(tracker.PageVariantQueryParameter, Is.EqualTo("variantid"));
            Assert.That(tracker.HonorDoNotTrack, Is.False);
            Assert.That(tracker.DeferView, Is.True);
            // The VIEW is queued at httpRequestEnd, where the shipped file puts SendPageView.
            var end = Replay("Standalone").BuildPipeline("httpRequestEnd");
            var sender = (SendPageView)end.Steps.Single(s => s.Instance is SendPageView).Instance;
            Assert.That(sender.SkipNotFound, Is.True);
            Assert.That(sender.SkipServerErrors, Is.True);

            // The bot list of the shipped file is in effect.
            var client = new RecordingClient("ck_test");
            XmCdpSites.Register(new SiteBinding("website", new CdpSettings { ClientKey = "ck_test" }, client));
            Context.Site = new global::Sitecore.Sites.SiteContext("website");
            Context.Item = new global::Sitecore.Data.Items.Item(new global::Sitecore.Data.ID(Guid.NewGuid()), "home", "/sitecore/content/home");
            Context.Language = global::Sitecore.Globalization.Language.Parse("en");
            var bot = new FakeHttpContext("http://www.example.com/").WithCookie("bid_ck_test", "b-1")
                .WithHeader("User-Agent", "Mozilla/5.0 (compatible; bingbot/2.0)");
            tracker.Process(new HttpRequestArgs(bot));
            end.Run(new HttpRequestArgs(bot));
            var human = new FakeHttpContext("http://www.example.com/").WithCookie("bid_ck_test", "b-1");
            tracker.Process(new HttpRequestArgs(human));
            end.Run(new HttpRequestArgs(human));
            Assert.That(client.Views.Count, Is.EqualTo(1));
        }

        [Test]
        public void Initialize_FromShippedConfig_CreatesOneClientPerSiteWithAppSettingOverridesAndToken()
        {
            Replay("Standalone").BuildPipeline("initialize").Run(new PipelineArgs());

            Assert.That(_created.Count, Is.EqualTo(1));
            var s = _created[0];
            Assert.That(s.ClientKey, Is.EqualTo("ck_test"));
            Assert.That(s.PointOfSale, Is.EqualTo("myretailsite/ireland"));
            Assert.That(s.Channel, Is.EqualTo("WEB"));
            Assert.That(s.Currency, Is.EqualTo("EUR"));
            Assert.That(s.GetNative("targetUrl"), Is.EqualTo("http://127.0.0.1:9"), "appSetting XmCdp.website.targetUrl overrides the attribute");
            Assert.That(s.ApiToken, Is.EqualTo("tok_UNIT_SECRET"));

            var binding = XmCdpSites.Find("website");
            Assert.That(binding, Is.Not.Null);
            Assert.That(binding.ClientKey, Is.EqualTo("ck_test"));

            var log = Log.Entries();
            Assert.That(log, Has.Some.StringContaining("INFO XmCdp: tracking site 'website'"));
            Assert.That(log, Has.Some.StringStarting("WARN XmCdp: not running under ASP.NET: no shutdown hook"));
            Assert.That(string.Join("\n", log), Is.Not.StringContaining("tok_UNIT_SECRET"));
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
        public void Initialize_ApiTokenInPatchFile_SiteIsRejectedAndTheValueIsNotLogged()
        {
            WithSite("<site name='website' clientKey='ck_test' pointOfSale='p' apiToken='tok_IN_PATCH' />").Process(new PipelineArgs());

            Assert.That(XmCdpSites.Find("website"), Is.Null);
            var log = string.Join("\n", Log.Entries());
            Assert.That(log, Is.StringContaining("ERROR XmCdp: site 'website' is not tracked"));
            Assert.That(log, Is.Not.StringContaining("tok_IN_PATCH"));
        }

        [Test]
        public void Initialize_ClientCreationFails_FailsOpenPerSite()
        {
            XmCdpSites.ClientFactory = s =>
            {
                if (s.ClientKey == "ck_bad") throw new XmCdpException(CdpStatus.InvalidSetting, "XmCdp: creating the client for ck_bad failed with status 23 (InvalidSetting).");
                return new RecordingClient(s.ClientKey);
            };
            var doc = new XmlDocument();
            doc.LoadXml("<sites><site name='bad' clientKey='ck_bad' pointOfSale='p' /><site name='good' clientKey='ck_good' pointOfSale='p' /></sites>");
            var p = new InitializeXmCdp();
            foreach (XmlNode n in doc.DocumentElement.ChildNodes) p.AddSite(n);

            Assert.DoesNotThrow(() => p.Process(new PipelineArgs()));
            Assert.That(XmCdpSites.Find("bad"), Is.Null);
            Assert.That(XmCdpSites.Find("good"), Is.Not.Null);
            Assert.That(Log.Entries(), Has.Some.StringContaining("ERROR XmCdp: site 'bad' is not tracked: XmCdp: creating the client for ck_bad failed with status 23"));
        }

        [Test]
        public void Initialize_LogsWhereEachSettingCameFrom_NeverTheValues()
        {
            Replay("Standalone").BuildPipeline("initialize").Run(new PipelineArgs());

            var line = Log.Entries().SingleOrDefault(l => l.StartsWith("INFO XmCdp: site 'website' settings:"));
            Assert.That(line, Is.Not.Null, string.Join("\n", Log.Entries()));
            Assert.That(line, Is.StringContaining("from the patch file: ").And.StringContaining("clientKey").And.StringContaining("pointOfSale"));
            Assert.That(line, Is.StringContaining("from appSettings: targetUrl (XmCdp.website.targetUrl)"), "App.config overrides targetUrl");
            Assert.That(line, Is.StringContaining("API token: appSetting XmCdp.website.ApiToken (set)"));
            Assert.That(line, Is.Not.StringContaining("127.0.0.1").And.Not.StringContaining("tok_UNIT_SECRET").And.Not.StringContaining("ck_test"));
        }

        /// <summary>The repository's shipped web.config transform (found walking up from the test output).</summary>
        private static string TransformFile()
        {
            for (var dir = new DirectoryInfo(TestOut); dir != null; dir = dir.Parent)
            {
                var f = Path.Combine(dir.FullName, "dotnet", "XmCdp.Sitecore", "Transforms", "web.config.XmCdp.xdt");
                if (File.Exists(f)) return f;
            }
            throw new FileNotFoundException("web.config.XmCdp.xdt not found above " + TestOut);
        }

        [Test]
        public void WebConfigTransform_HasEmptyPlaceholdersForTheTokenAndNativeOverrides_ForStrictModeEnvironmentVariables()
        {
            var xdt = new XmlDocument();
            xdt.Load(TransformFile());
            var ns = new XmlNamespaceManager(xdt.NameTable);
            ns.AddNamespace("xdt", "http://schemas.microsoft.com/XML-Document-Transform");
            var adds = xdt.SelectNodes("/configuration/appSettings/add").Cast<XmlElement>().ToList();
            Assert.That(adds, Is.Not.Empty);

            var shipped = new XmlDocument();
            shipped.Load(ShippedConfig);
            var site = (XmlElement)shipped.SelectSingleNode("//site[@name='website']");
            var tokenKey = site.GetAttribute("apiTokenAppSetting");
            Assert.That(adds.Select(a => a.GetAttribute("key")), Has.Member(tokenKey), "Strict mode replaces only existing keys: the token needs one");

            foreach (var a in adds)
            {
                var key = a.GetAttribute("key");
                Assert.That(a.GetAttribute("value"), Is.Empty, key + ": a placeholder must not change behaviour");
                Assert.That(a.GetAttribute("Transform", ns.LookupNamespace("xdt")), Is.EqualTo("InsertIfMissing"), key);
                Assert.That(a.GetAttribute("Locator", ns.LookupNamespace("xdt")), Is.EqualTo("Match(key)"), key);
                if (key == tokenKey) continue;
                Assert.That(key, Is.StringStarting("XmCdp.website."));
                var setting = key.Substring("XmCdp.website.".Length);
                Assert.That(SettingsSchema.Types.ContainsKey(setting), Is.True, key + " is not a native setting");
            }
        }

        [Test]
        public void Initialize_NoSites_WarnsAndDoesNothing()
        {
            new InitializeXmCdp().Process(new PipelineArgs());
            Assert.That(_created, Is.Empty);
            Assert.That(Log.Entries(), Has.Some.StringStarting("WARN XmCdp: no <site> configured"));
        }

        [Test]
        public void ShutdownAll_DisposesClientsEmptiesTheRegistryAndIsIdempotent()
        {
            Replay("Standalone").BuildPipeline("initialize").Run(new PipelineArgs());
            Assert.That(XmCdpSites.Find("website"), Is.Not.Null);

            XmCdpShutdown.ShutdownAll(TimeSpan.FromSeconds(1));
            XmCdpShutdown.ShutdownAll(TimeSpan.FromSeconds(1));

            Assert.That(XmCdpSites.Find("website"), Is.Null);
            Assert.That(_clients.Single().Disposed, Is.True);
            Assert.That(Log.Entries().Count(l => l.StartsWith("INFO XmCdp: all clients shut down")), Is.EqualTo(1));
        }
    }
}
