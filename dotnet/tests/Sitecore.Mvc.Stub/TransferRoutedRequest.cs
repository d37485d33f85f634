using System;
using System.Collections.Generic;
using Sitecore.Pipelines.HttpRequest;

// TEST ONLY: stand-in for Sitecore.Mvc.dll (same assembly name, so the stock config's type string resolves).
namespace Sitecore.Mvc.Pipelines.HttpRequest
{
    /// <summary>
    /// Like the stock processor: a request matching a registered MVC/Web API route is handed to MVC and the
    /// httpRequestBegin pipeline is aborted, even when its URL also resolves a content item.
    /// </summary>
    public class TransferRoutedRequest : HttpRequestProcessor
    {
        public override void Process(HttpRequestArgs args)
        {
            if (StubRoutes.Matches(args.HttpContext.Request.Path)) args.AbortPipeline();
        }
    }

    /// <summary>stub-only: the test site's route table (path prefixes).</summary>
    public static class StubRoutes
    {
        private static readonly List<string> s_prefixes = new List<string>();

        public static void Register(string prefix)
        {
            lock (s_prefixes) s_prefixes.Add(prefix);
        }

        public static bool Matches(string path)
        {
            if (path == null) return false;
            lock (s_prefixes)
                foreach (var p in s_prefixes)
                    if (path.StartsWith(p, StringComparison.OrdinalIgnoreCase)) return true;
            return false;
        }
    }
}
