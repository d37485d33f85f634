using System;
using System.Runtime.InteropServices;
using System.Diagnostics;
using XmCdp.Browser;
using XmCdp.Decisions;
using XmCdp.Events;
using XmCdp.Guests;
using XmCdp.Native;

namespace XmCdp
{
    /// <summary>
    /// One native client: its own runtime, queue and HTTP connections, for one CDP tenant / site.
    /// Thread-safe; create one per site at startup and share it. Events are only enqueued here: nothing in these
    /// calls waits on the network.
    /// </summary>
    public sealed class CdpClient : ICdpClient, IDisposable
    {
        private readonly Handle _handle;

        /// <summary>Creates a client; loads the native library first if needed.</summary>
        /// <exception cref="XmCdpException">The library is missing or the settings are invalid (status 20-24).</exception>
        public CdpClient(CdpSettings settings)
        {
            if (settings == null) throw new ArgumentNullException(nameof(settings));
            NativeLibraryLoader.EnsureLoaded();
            ulong id;
            var status = NativeCalls.ClientNew(settings.ToJson(), out id);
            NativeCalls.Check(status, "creating the client for " + settings.ClientKey);
            _handle = new Handle(id);
            ClientKey = settings.ClientKey;
            Guests = new CdpGuests(this);
        }

        /// <summary>The Guest REST API (lookups and data extensions; needs the settings' API token).</summary>
        public CdpGuests Guests { get; }

        public string ClientKey { get; }

        /// <summary>Enqueues a VIEW event; throws on rejection.</summary>
        public void PageView(PageView view) => Throw(TryPageView(view), "page view");

        public void Identity(IdentityEvent identity) => Throw(TryIdentity(identity), "identity");

        public void Event(CustomEvent customEvent) => Throw(TryEvent(customEvent), "event");

        public CdpStatus TryPageView(PageView view)
        {
            if (view == null) throw new ArgumentNullException(nameof(view));
            var h = AddRef();
            try
            {
                return (CdpStatus)NativeCalls.PageView(h.Id, view);
            }
            finally
            {
                h.DangerousRelease();
            }
        }

        public CdpStatus TryIdentity(IdentityEvent identity)
        {
            if (identity == null) throw new ArgumentNullException(nameof(identity));
            var h = AddRef();
            try
            {
                return (CdpStatus)NativeCalls.Identity(h.Id, identity);
            }
            finally
            {
                h.DangerousRelease();
            }
        }

        public CdpStatus TryEvent(CustomEvent customEvent)
        {
            if (customEvent == null) throw new ArgumentNullException(nameof(customEvent));
            var h = AddRef();
            try
            {
                return (CdpStatus)NativeCalls.Event(h.Id, customEvent);
            }
            finally
            {
                h.DangerousRelease();
            }
        }

        /// <summary>
        /// Runs a flow and waits at most <paramref name="budget"/> (<see cref="TimeSpan.Zero"/> = decisionTimeoutMs)
        /// for its answer. Never throws for a decision failure (timeout, open breaker, unknown flow, remote error,
        /// shut down): the result's <see cref="DecisionResult.Outcome"/> says to render the fallback.
        /// </summary>
        public DecisionResult Decide(DecisionRequest request, TimeSpan budget)
        {
            if (request == null) throw new ArgumentNullException(nameof(request));
            var sw = Stopwatch.StartNew();
            Handle h;
            if (!TryAddRef(out h)) return DecisionResult.Unavailable(request.FriendlyId, CdpStatus.ShutDown, "the client is disposed");
            try
            {
                string json;
                var status = (CdpStatus)NativeCalls.Decide(h.Id, request, NativeCalls.BudgetMs(budget), out json);
                return new DecisionResult(request.FriendlyId, status, json, status == CdpStatus.Ok ? null : NativeCalls.LastError(), sw.Elapsed, false);
            }
            finally
            {
                h.DangerousRelease();
            }
        }

        /// <summary>
        /// Starts a decision without waiting (prefetch at request begin); read it later with
        /// <see cref="DecisionTicket.Wait"/>. A refused start (bad request, too many tickets, shut down) yields a
        /// ticket that is already answered with that status. Never blocks; throws only for a null request.
        /// </summary>
        public DecisionTicket BeginDecide(DecisionRequest request)
        {
            if (request == null) throw new ArgumentNullException(nameof(request));
            Handle h;
            if (!TryAddRef(out h)) return DecisionTicket.Completed(DecisionResult.Unavailable(request.FriendlyId, CdpStatus.ShutDown, "the client is disposed"));
            try
            {
                ulong ticket;
                var status = (CdpStatus)NativeCalls.DecisionBegin(h.Id, request, out ticket);
                if (status != CdpStatus.Ok)
                    return DecisionTicket.Completed(new DecisionResult(request.FriendlyId, status, null, NativeCalls.LastError(), TimeSpan.Zero, true));
                return new DecisionTicket(this, request.FriendlyId, ticket);
            }
            finally
            {
                h.DangerousRelease();
            }
        }

        internal CdpStatus TicketReady(ulong ticket, out bool ready)
        {
            ready = false;
            Handle h;
            if (!TryAddRef(out h)) return CdpStatus.ShutDown;
            try
            {
                return (CdpStatus)NativeCalls.DecisionReady(h.Id, ticket, out ready);
            }
            finally
            {
                h.DangerousRelease();
            }
        }

        internal DecisionResult WaitTicket(string friendlyId, ulong ticket, TimeSpan budget, Stopwatch sw)
        {
            Handle h;
            if (!TryAddRef(out h)) return DecisionResult.Unavailable(friendlyId, CdpStatus.ShutDown, "the client is disposed");
            try
            {
                string json;
                var status = (CdpStatus)NativeCalls.DecisionWait(h.Id, ticket, NativeCalls.BudgetMs(budget), out json);
                return new DecisionResult(friendlyId, status, json, status == CdpStatus.Ok ? null : NativeCalls.LastError(), sw.Elapsed, true);
            }
            finally
            {
                h.DangerousRelease();
            }
        }

        /// <summary>
        /// The visitor's browser id for a request's raw <c>Cookie</c> header (null = none): the current cookie, else the
        /// legacy one (migrated), else a new id from the native pool, else one created in CDP within
        /// <paramref name="budget"/> (zero = browserCreateTimeoutMs). With a valid cookie it returns at once without
        /// network. Hostile cookie values are ignored, never echoed. Emit every
        /// <see cref="BrowserIdResult.Cookies"/> through the host's cookie API (under System.Web, Response.Cookies: it
        /// rebuilds Set-Cookie headers from that collection and drops hand-appended ones). Never throws for a native
        /// failure: the status says why there is no id (render the page without one).
        /// </summary>
        public BrowserIdResult EnsureBrowserId(string cookieHeader, TimeSpan budget)
        {
            Handle h;
            if (!TryAddRef(out h)) return BrowserIdResult.Failed(CdpStatus.ShutDown);
            try
            {
                xmcdp_browser_id_t info;
                string id, guestRef, cookies;
                var status = (CdpStatus)NativeCalls.BrowserEnsure(h.Id, cookieHeader, NativeCalls.BudgetMs(budget), out info, out id, out guestRef, out cookies);
                if (status != CdpStatus.Ok) return BrowserIdResult.Failed(status);
                var setCookies = cookies == null ? null : cookies.Split('\n');
                return new BrowserIdResult(status, (BrowserIdSource)(int)info.source, info.created != 0, id, guestRef, setCookies);
            }
            finally
            {
                h.DangerousRelease();
            }
        }

        /// <summary>
        /// The guest ref behind a browser id (after an identity merge: the surviving guest), waiting at most
        /// <paramref name="budget"/>. Blocks: call it when the guest is needed, not on every page.
        /// </summary>
        /// <exception cref="XmCdpException">Unknown browser (NotFound), timeout, remote failure; the status says which.</exception>
        public string GuestRefFor(string browserId, TimeSpan budget)
        {
            if (browserId == null) throw new ArgumentNullException(nameof(browserId));
            var h = AddRef();
            try
            {
                string guestRef;
                NativeCalls.Check(NativeCalls.BrowserGuestRef(h.Id, browserId, NativeCalls.BudgetMs(budget), out guestRef), "looking up the guest of a browser id");
                return guestRef;
            }
            finally
            {
                h.DangerousRelease();
            }
        }

        /// <summary>Runs a Guest REST call under a reference; throws <see cref="XmCdpException"/> with the status.</summary>
        internal string GuestCall(string operation, Func<ulong, Tuple<int, string>> call)
        {
            var h = AddRef();
            try
            {
                var r = call(h.Id);
                NativeCalls.Check(r.Item1, operation);
                return r.Item2;
            }
            finally
            {
                h.DangerousRelease();
            }
        }

        private bool TryAddRef(out Handle h)
        {
            h = _handle;
            bool added = false;
            try
            {
                _handle.DangerousAddRef(ref added);
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
            return added;
        }

        /// <summary>Counters and latencies of this client.</summary>
        public CdpStats GetStats()
        {
            var h = AddRef();
            try
            {
                string json;
                NativeCalls.Check(NativeCalls.Stats(h.Id, out json), "reading stats");
                return new CdpStats(json);
            }
            finally
            {
                h.DangerousRelease();
            }
        }

        /// <summary>
        /// Stops accepting events and flushes the queue, waiting at most <paramref name="deadline"/>; events not
        /// delivered by then are handled by the native shutdown policy (dropped or spooled). Idempotent.
        /// </summary>
        public CdpStatus Shutdown(TimeSpan deadline)
        {
            var ms = deadline <= TimeSpan.Zero ? 0u : (uint)Math.Min(deadline.TotalMilliseconds, uint.MaxValue);
            var h = AddRef();
            try
            {
                return (CdpStatus)NativeCalls.Shutdown(h.Id, ms);
            }
            finally
            {
                h.DangerousRelease();
            }
        }

        /// <summary>Deletes the native client (its runtime stops; pending events follow the shutdown policy).</summary>
        public void Dispose() => _handle.Dispose();

        public bool IsDisposed => _handle.IsClosed;

        private Handle AddRef()
        {
            // DangerousAddRef throws ObjectDisposedException once closed and keeps Dispose on another thread
            // from deleting the native client while this call is inside native code.
            bool added = false;
            try
            {
                _handle.DangerousAddRef(ref added);
            }
            catch (ObjectDisposedException)
            {
                throw new ObjectDisposedException(nameof(CdpClient));
            }
            return _handle;
        }

        private static void Throw(CdpStatus status, string what)
        {
            if (status != CdpStatus.Ok) throw NativeCalls.Error((int)status, "enqueueing a " + what);
        }

        /// <summary>
        /// Owns the native u64 handle id. The id is kept in a field (it may not fit an IntPtr on 32-bit);
        /// the SafeHandle's own value is only a "still open" marker.
        /// </summary>
        internal sealed class Handle : SafeHandle
        {
            public Handle(ulong id)
                : base(IntPtr.Zero, ownsHandle: true)
            {
                Id = id;
                SetHandle(new IntPtr(1));
            }

            public ulong Id { get; }

            public override bool IsInvalid => handle == IntPtr.Zero;

            protected override bool ReleaseHandle()
            {
                try
                {
                    return NativeCalls.Delete(Id) == 0;
                }
                catch (Exception)
                {
                    // Finalizer thread: a missing library must not crash the process.
                    return false;
                }
            }
        }
    }
}
