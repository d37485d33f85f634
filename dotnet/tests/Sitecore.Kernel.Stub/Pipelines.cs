using System;
using System.Web;

namespace Sitecore.Pipelines
{
    public class PipelineArgs : EventArgs
    {
        public bool Aborted { get; private set; }

        public void AbortPipeline()
        {
            Aborted = true;
        }
    }
}

namespace Sitecore.Pipelines.HttpRequest
{
    public class HttpRequestArgs : Sitecore.Pipelines.PipelineArgs
    {
        // stub-only constructor shape: the real 10.x constructor is not known and processors never construct args.
        public HttpRequestArgs(HttpContextBase httpContext)
        {
            HttpContext = httpContext;
        }

        public HttpContextBase HttpContext { get; private set; }
    }

    public abstract class HttpRequestProcessor
    {
        public abstract void Process(HttpRequestArgs args);
    }
}
