using XmCdp.Events;

namespace XmCdp
{
    /// <summary>
    /// What request-time code needs from a client: enqueue events without waiting on the network. The Try
    /// methods report a rejected event (validation, queue full, shut down) as a status instead of an exception,
    /// because a page view must never cost a first-chance exception on the request thread.
    /// <para>Planned, once the native calls exist: <c>Decide(friendlyId, budget)</c>, <c>BeginDecide</c> returning a
    /// ticket with <c>Wait(budget)</c> (prefetch at request begin, read in the rendering), guest data extensions, and
    /// a browser-id pool for visitors without a cookie.</para>
    /// </summary>
    public interface ICdpClient
    {
        /// <summary>The client key this client was created for.</summary>
        string ClientKey { get; }

        CdpStatus TryPageView(PageView view);

        CdpStatus TryIdentity(IdentityEvent identity);

        CdpStatus TryEvent(CustomEvent customEvent);
    }
}
