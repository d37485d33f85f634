using System;
using System.Collections.Generic;
using System.Configuration;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Web;
using Sitecore.Configuration;
using Sitecore.Pipelines;
using Sitecore.Pipelines.HttpRequest;
using XmCdp.Sitecore;

namespace XmCdp.TestHost
{
    /// <summary>TEST ONLY: Sitecore's startup and request hooks, replayed from the shipped config (see README.md).</summary>
    public class Global : HttpApplication
    {
        private static Pipeline s_begin;
        private static Pipeline s_end;
        private static ConfigReplay s_config;

        internal static ConfigReplay Config => s_config;
        internal static Pipeline BeginPipeline => s_begin;

        protected void Application_Start(object sender, EventArgs e)
        {
            var root = HttpRuntime.AppDomainAppPath;
            var appConfig = Path.Combine(root, "App_Config");
            var roles = (ConfigurationManager.AppSettings["role:define"] ?? "Standalone")
                .Split(new[] { ',', '|' }, StringSplitOptions.RemoveEmptyEntries).Select(r => r.Trim());
            var config = new ConfigReplay(File.ReadAllText(Path.Combine(appConfig, "Sitecore.config")), roles);
            // Layers.config: the Sitecore layer (App_Config/Sitecore, e.g. Sitecore.Mvc.config) before the Custom layer
            // (App_Config/Include), so a module's patch:after lands right after its anchor, before stock additions.
            foreach (var file in IncludeFiles(Path.Combine(appConfig, "Sitecore"))) config.ApplyIncludeFile(file);
            foreach (var file in IncludeFiles(Path.Combine(appConfig, "Include"))) config.ApplyIncludeFile(file);
            config.ApplySettings();

            StubContent.Register("/", "home");
            StubContent.Register("/about", "about");
            StubContent.Register("/products/bike", "bike");
            StubContent.Register("/cart", "cart");
            StubContent.Register("/checkout", "checkout");
            // An MVC/API route whose URL also resolves an item: TransferRoutedRequest hands it to MVC.
            StubContent.Register("/products/compare", "compare");
            // HTML pages for the real-browser tests (browser tag): /web/* of site "website", /shop/* of site "shop".
            StubContent.Register("/web/a", "web-a");
            StubContent.Register("/web/b", "web-b");
            StubContent.Register("/shop/a", "shop-a");
            StubContent.Register("/shop/b", "shop-b");
            global::Sitecore.Mvc.Pipelines.HttpRequest.StubRoutes.Register("/products/compare");
            // Sitecore Forms posts to its MVC route; the rule elements and submit actions come from the shipped items.
            global::Sitecore.Mvc.Pipelines.HttpRequest.StubRoutes.Register("/formbuilder");
            var serialized = SerializedItems.Load(Path.Combine(root, "App_Data", "XmCdp", "serialization"));
            TestForms.Register(serialized);
            TestPersonalization.Register(serialized);
            PersonalizedContent.Register();

            s_config = config;
            config.BuildPipeline("initialize").Run(new PipelineArgs());
        }

        // Like Sitecore's config factory, a pipeline's processors are created when the pipeline first runs: on the
        // first request, httpRequestBegin's before httpRequestEnd's.
        private static Pipeline Built(ref Pipeline pipeline, string name)
        {
            var p = Volatile.Read(ref pipeline);
            if (p != null) return p;
            lock (s_buildLock)
            {
                if (pipeline == null) Volatile.Write(ref pipeline, s_config.BuildPipeline(name));
                return pipeline;
            }
        }

        private static readonly object s_buildLock = new object();

        protected void Application_BeginRequest(object sender, EventArgs e)
        {
            if (Request.Path.StartsWith("/__host/", StringComparison.Ordinal)) return;
            Built(ref s_begin, "httpRequestBegin").Run(new HttpRequestArgs(new HttpContextWrapper(Context)));
        }

        // Like Sitecore's HTTP module: httpRequestEnd runs in EndRequest, after the page (the "renderings") was written.
        protected void Application_EndRequest(object sender, EventArgs e)
        {
            if (Request.Path.StartsWith("/__host/", StringComparison.Ordinal)) return;
            Built(ref s_end, "httpRequestEnd").Run(new HttpRequestArgs(new HttpContextWrapper(Context)));
        }

        protected void Application_End(object sender, EventArgs e)
        {
            XmCdpShutdown.ShutdownAll(TimeSpan.FromSeconds(5));
        }

        /// <summary>Sitecore's include order: files of a folder alphabetically, then its subfolders alphabetically.</summary>
        internal static IEnumerable<string> IncludeFiles(string folder)
        {
            if (!Directory.Exists(folder)) yield break;
            foreach (var f in Directory.GetFiles(folder, "*.config").OrderBy(f => f, StringComparer.OrdinalIgnoreCase)) yield return f;
            foreach (var d in Directory.GetDirectories(folder).OrderBy(d => d, StringComparer.OrdinalIgnoreCase))
                foreach (var f in IncludeFiles(d)) yield return f;
        }
    }

    /// <summary>TEST ONLY: renders the resolved item, plus the /__host/ inspection endpoints.</summary>
    public class PageHandler : IHttpHandler
    {
        public bool IsReusable => true;

        public void ProcessRequest(HttpContext context)
        {
            var response = context.Response;
            response.ContentType = "text/plain";
            var path = context.Request.Path;
            switch (path)
            {
                case "/__host/log":
                    response.Write(string.Join("\n", global::Sitecore.Diagnostics.Log.Entries()));
                    return;
                case "/__host/pipeline":
                    var name = context.Request.QueryString["name"] ?? "httpRequestBegin";
                    response.Write(string.Join("\n", Global.Config.BuildPipeline(name).Steps.Select(s => s.TypeName)));
                    return;
                case "/__host/stats":
                    // The native counters of every tracked site's client, one JSON object per line.
                    foreach (var site in XmCdpSites.All)
                    {
                        var native = site.Client as XmCdp.CdpClient;
                        if (native != null) response.Write(site.SiteName + " " + native.GetStats().Json + "\n");
                    }
                    return;
                case "/favicon.ico":
                    // A real site has one; browsers ask for it on every first page.
                    response.StatusCode = 204;
                    return;
                case "/__host/login-admin":
                    // `cargo xtask demo --keep-running`: the stand-in's administrator login for a person's browser.
                    response.Cookies.Add(new HttpCookie("stub_sitecore_user", "admin") { Path = "/" });
                    response.Redirect("/sitecore/admin/xmcdp.aspx", false);
                    return;
                case "/__host/engage.js":
                    // The Engage browser SDK bundled from the pinned npm package (tests/browser), served like a
                    // self-hosted copy (browserTagScriptUrl).
                    var script = System.IO.Path.Combine(HttpRuntime.AppDomainAppPath, "engage", "engage.js");
                    if (!File.Exists(script))
                    {
                        response.StatusCode = 404;
                        return;
                    }
                    response.ContentType = "application/javascript";
                    response.WriteFile(script);
                    return;
                case "/__host/shutdown":
                    XmCdpShutdown.ShutdownAll(TimeSpan.FromSeconds(5));
                    response.Write("shut down");
                    return;
            }

            var sbForm = new StringBuilder();
            if (path.StartsWith("/formbuilder", StringComparison.OrdinalIgnoreCase))
            {
                TestForms.Handle(context, sbForm);
                response.Write(sbForm.ToString());
                return;
            }

            var item = global::Sitecore.Context.Item;
            if (item == null)
            {
                response.StatusCode = 404;
                response.Write("no item for " + path);
                return;
            }
            var cdp = CdpContext.Current;
            if (path.StartsWith("/web/", StringComparison.Ordinal) || path.StartsWith("/shop/", StringComparison.Ordinal))
            {
                HtmlPage(context, item.Name, cdp);
                return;
            }
            var sb = new StringBuilder();
            sb.Append("page=").Append(item.Name);
            sb.Append(" tracked=").Append(cdp != null ? "yes" : "no");
            if (cdp != null)
            {
                sb.Append(" view=").Append(cdp.ViewStatus.HasValue ? cdp.ViewStatus.ToString() : cdp.ViewPending ? "AtRequestEnd" : "none");
                sb.Append(" identity=").Append(cdp.IdentityStatus.HasValue ? cdp.IdentityStatus.ToString() : "none");
                Goal(context, cdp, sb);
            }
            Decisions(context, cdp, sb);
            GuestPage.Render(context, cdp, sb);
            TestPersonalization.Render(item, sb);
            response.Write(sb.ToString());
            // ?status=404|500|304: the page item renders but the response ends with that status (no VIEW is sent);
            // 301|302: a rendering redirects, as Response.Redirect / RedirectPermanent do (httpRequestEnd still runs).
            var status = context.Request.QueryString["status"];
            if (status == "404" || status == "500" || status == "304") response.StatusCode = int.Parse(status);
            else if (status == "302") response.Redirect("/about", false);
            else if (status == "301") response.RedirectPermanent("/about", false);
        }

        /// <summary>
        /// An HTML page as a layout renders it, for the real-browser tests: a Content-Security-Policy with a per-request
        /// nonce (HttpContext.Items["XmCdp.CspNonce"]), <c>?helper=1</c> writes the tag with BrowserTag.Html() in the
        /// head; otherwise the InjectBrowserTag filter writes it before &lt;/body&gt; (when the site enables it).
        /// </summary>
        private static void HtmlPage(HttpContext context, string name, CdpContext cdp)
        {
            var response = context.Response;
            var nonce = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
            context.Items[XmCdp.Sitecore.Browser.BrowserTag.CspNonceItemsKey] = nonce;
            response.AppendHeader("Content-Security-Policy", "script-src 'nonce-" + nonce + "'");
            response.ContentType = "text/html";
            response.Write("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + HttpUtility.HtmlEncode(name) + "</title>");
            if (context.Request.QueryString["helper"] == "1") response.Write(XmCdp.Sitecore.Browser.BrowserTag.Html().ToHtmlString());
            response.Write("</head>\n<body><h1>" + HttpUtility.HtmlEncode(name) + "</h1><p id=\"tracked\">" + (cdp != null ? "tracked" : "untracked")
                + "</p><p><a id=\"next\" href=\"b\">next</a></p>\n</body></html>\n");
        }

        /// <summary>
        /// A rendering's use of decisions: <c>?decide=flow_a,flow_b&amp;budget=ms</c> asks CdpContext for each flow
        /// and prints one line per flow: <c>flow outcome prefetched=yes|no ms=N json|fallback</c>.
        /// </summary>
        private static void Decisions(HttpContext context, CdpContext cdp, StringBuilder sb)
        {
            var flows = context.Request.QueryString["decide"];
            if (string.IsNullOrEmpty(flows)) return;
            int budgetMs;
            if (!int.TryParse(context.Request.QueryString["budget"], out budgetMs)) budgetMs = 200;
            foreach (var flow in flows.Split(','))
            {
                sb.Append('\n').Append("decision ").Append(flow).Append(' ');
                if (cdp == null)
                {
                    sb.Append("Untracked fallback");
                    continue;
                }
                var r = cdp.Decide(flow, TimeSpan.FromMilliseconds(budgetMs));
                sb.Append(r.Outcome).Append(" prefetched=").Append(r.Prefetched ? "yes" : "no")
                    .Append(" ms=").Append((long)r.Elapsed.TotalMilliseconds).Append(' ').Append(r.JsonOr("{\"variantId\":\"default\"}"));
            }
        }

        /// <summary>Goals and conversions from C#: <c>/cart?add=SKU</c> sends ADD, <c>/checkout?order=REF</c> CHECKOUT.</summary>
        private static void Goal(HttpContext context, CdpContext cdp, StringBuilder sb)
        {
            var sku = context.Request.QueryString["add"];
            if (!string.IsNullOrEmpty(sku))
            {
                // Only letters, digits and '-' reach the JSON: a query string is visitor input.
                var safe = new string(sku.Where(ch => char.IsLetterOrDigit(ch) || ch == '-').Take(40).ToArray());
                var add = new XmCdp.Events.CustomEvent("ADD")
                {
                    DataJson = "{\"product\":{\"type\":\"BIKE\",\"item_id\":\"" + safe + "\",\"name\":\"" + safe + "\",\"orderedAt\":\""
                        + DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture)
                        + "\",\"quantity\":1,\"price\":899.0,\"productId\":\"" + safe + "\",\"currency\":\"EUR\",\"referenceId\":\"" + safe + "-1\"}}",
                };
                sb.Append(" goal=ADD:").Append(cdp.TrackEvent(add));
            }
            var order = context.Request.QueryString["order"];
            if (!string.IsNullOrEmpty(order))
            {
                var checkout = new XmCdp.Events.CustomEvent("CHECKOUT");
                checkout.Data.Set("reference_id", order).Set("status", "PURCHASED");
                sb.Append(" goal=CHECKOUT:").Append(cdp.TrackEvent(checkout));
            }
        }
    }
}
