using System;
using System.Web;

namespace XmCdp.TestHost
{
    /// <summary>
    /// TEST ONLY: what IIS integrated mode does to a first visit on a Sitecore site. Sitecore runs InProc session with
    /// ConditionalSessionIdManager; when the new session is unused, <c>SessionIDManager.RemoveSessionID</c> changes
    /// Response.Cookies late in the request (ReleaseRequestState), and System.Web then rebuilds every Set-Cookie header
    /// from Response.Cookies, dropping headers appended by hand. Mono's System.Web writes hand-appended headers and
    /// Response.Cookies side by side, so this module performs the rebuild's effect itself.
    /// </summary>
    public class SessionIdRemovalModule : IHttpModule
    {
        public void Init(HttpApplication app)
        {
            app.ReleaseRequestState += (sender, e) =>
            {
                var context = ((HttpApplication)sender).Context;
                if (context.Request.Path.StartsWith("/__host/", StringComparison.Ordinal)) return;
                var response = context.Response;
                response.Cookies.Remove("ASP.NET_SessionId");
                response.Headers.Remove("Set-Cookie");
            };
        }

        public void Dispose()
        {
        }
    }
}
