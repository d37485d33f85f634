using System;
using System.Collections.Generic;
using System.Configuration;
using System.IO;
using System.Linq;
using System.Text;
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
            foreach (var file in IncludeFiles(Path.Combine(appConfig, "Include"))) config.ApplyIncludeFile(file);
            config.ApplySettings();

            StubContent.Register("/", "home");
            StubContent.Register("/about", "about");
            StubContent.Register("/products/bike", "bike");

            config.BuildPipeline("initialize").Run(new PipelineArgs());
            s_begin = config.BuildPipeline("httpRequestBegin");
            s_config = config;
        }

        protected void Application_BeginRequest(object sender, EventArgs e)
        {
            if (Request.Path.StartsWith("/__host/", StringComparison.Ordinal)) return;
            s_begin.Run(new HttpRequestArgs(new HttpContextWrapper(Context)));
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
                case "/__host/shutdown":
                    XmCdpShutdown.ShutdownAll(TimeSpan.FromSeconds(5));
                    response.Write("shut down");
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
            var sb = new StringBuilder();
            sb.Append("page=").Append(item.Name);
            sb.Append(" tracked=").Append(cdp != null ? "yes" : "no");
            if (cdp != null)
            {
                sb.Append(" view=").Append(cdp.ViewStatus);
                sb.Append(" identity=").Append(cdp.IdentityStatus.HasValue ? cdp.IdentityStatus.ToString() : "none");
            }
            response.Write(sb.ToString());
        }
    }
}
