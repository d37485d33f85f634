using System;
using Sitecore.Pipelines.HttpRequest;
using XmCdp.Sitecore.Browser;

namespace XmCdp.Sitecore.Pipelines.HttpRequestBegin
{
    /// <summary>
    /// <c>httpRequestBegin</c> processor after <see cref="TrackVisitor"/>: for a tracked request of a site with
    /// <c>browserTag="true"</c> and <c>browserTagInject="true"</c>, installs a response filter that writes the Engage
    /// browser tag before <c>&lt;/body&gt;</c> of HTML responses (layouts that call <see cref="BrowserTag.Html"/> get
    /// it once all the same). Never throws.
    /// </summary>
    public class InjectBrowserTag : HttpRequestProcessor
    {
        public override void Process(HttpRequestArgs args)
        {
            try
            {
                var http = args?.HttpContext;
                var ctx = CdpContext.From(http);
                if (ctx == null) return;
                var tag = ctx.Site.BrowserTag;
                if (tag == null || !tag.Enabled || !tag.Inject) return;
                http.Response.Filter = new BrowserTagFilter(http.Response.Filter, http);
            }
            catch (Exception e)
            {
                XmCdpLog.SingleError("the browser tag filter was not installed for this request: " + XmCdpLog.Describe(e));
            }
        }
    }
}
