using System;
using System.Web;
using Sitecore.Pipelines.HttpRequest;
using XmCdp.Sitecore.Pipelines.HttpRequestBegin;

namespace XmCdp.Sitecore.Pipelines.HttpRequestEnd
{
    /// <summary>
    /// <c>httpRequestEnd</c> processor: queues the VIEW that <see cref="TrackVisitor"/> prepared at request begin (when
    /// its <c>DeferView</c> is on), now that renderings have decided. <c>ext.pageVariantId</c> is, in this order,
    /// <c>HttpContext.Items["XmCdp.PageVariantId"]</c> as set by the end of the request, the variant known at begin
    /// (Items or query parameter), else the <c>variantId</c> of every decision served through
    /// <see cref="CdpContext.Decide"/> (comma-separated, in the order served). Only a 2xx response sends the VIEW:
    /// <c>httpRequestEnd</c> also runs after <c>Response.Redirect</c>, and a redirect is not a view (its target is);
    /// 304 and errors are not views either (404 and 5xx can be opted in with the two properties). A custom event or IDENTITY queued earlier in the request sends the VIEW first (with the variant known then),
    /// so CDP still sees the VIEW before them. Never throws: tracking must not be able to break a page.
    /// </summary>
    public class SendPageView : HttpRequestProcessor
    {
        /// <summary>Send no VIEW when the response ends with 404 (a "not found" page item); false sends one.</summary>
        public bool SkipNotFound { get; set; } = true;

        /// <summary>Send no VIEW when the response ends with a 5xx status; false sends one.</summary>
        public bool SkipServerErrors { get; set; } = true;

        public override void Process(HttpRequestArgs args)
        {
            try
            {
                if (args == null || args.HttpContext == null) return;
                Send(args.HttpContext);
            }
            catch (Exception e)
            {
                XmCdpLog.SingleError("sending the VIEW at request end failed and it was skipped: " + XmCdpLog.Describe(e));
            }
        }

        private void Send(HttpContextBase http)
        {
            var ctx = CdpContext.From(http);
            if (ctx == null) return;
            var view = ctx.TakePendingView();
            if (view == null) return;

            int code = StatusCode(http);
            bool isView = (code >= 200 && code < 300) || (!SkipNotFound && code == 404) || (!SkipServerErrors && code >= 500);
            if (!isView) return;

            var fromItems = http.Items[TrackVisitor.PageVariantItemsKey] as string;
            if (!string.IsNullOrEmpty(fromItems)) view.PageVariantId = fromItems;
            ctx.SendView(view);
        }

        private static int StatusCode(HttpContextBase http)
        {
            try
            {
                var response = http.Response;
                return response == null ? 200 : response.StatusCode;
            }
            catch (NotImplementedException)
            {
                // HttpResponseBase's own members throw this; a wrapper that doesn't override StatusCode
                // (some test and proxy contexts) must not cost the page its VIEW.
                return 200;
            }
        }
    }
}
