using System;
using XmCdp.Browser;
using XmCdp.Decisions;
using XmCdp.Events;

namespace XmCdp
{
    /// <summary>
    /// What request-time code needs from a client: enqueue events without waiting on the network, find the
    /// visitor's browser id, and start or wait for decisions within a budget. The Try methods report a rejected
    /// event (validation, queue full, shut down) as a status, and decisions report failures as an outcome, because
    /// a page view must never cost a first-chance exception on the request thread.
    /// </summary>
    public interface ICdpClient
    {
        /// <summary>The client key this client was created for.</summary>
        string ClientKey { get; }

        CdpStatus TryPageView(PageView view);

        CdpStatus TryIdentity(IdentityEvent identity);

        CdpStatus TryEvent(CustomEvent customEvent);

        BrowserIdResult EnsureBrowserId(string cookieHeader, TimeSpan budget);

        DecisionTicket BeginDecide(DecisionRequest request);

        DecisionResult Decide(DecisionRequest request, TimeSpan budget);
    }
}
