using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
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
            using (var lease = Acquire())
                return (CdpStatus)NativeCalls.PageView(lease.Id, view);
        }

        public CdpStatus TryIdentity(IdentityEvent identity)
        {
            if (identity == null) throw new ArgumentNullException(nameof(identity));
            using (var lease = Acquire())
                return (CdpStatus)NativeCalls.Identity(lease.Id, identity);
        }

        public CdpStatus TryEvent(CustomEvent customEvent)
        {
            if (customEvent == null) throw new ArgumentNullException(nameof(customEvent));
            using (var lease = Acquire())
                return (CdpStatus)NativeCalls.Event(lease.Id, customEvent);
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
            Lease lease;
            if (!TryAcquire(out lease)) return DecisionResult.Unavailable(request.FriendlyId, CdpStatus.ShutDown, Disposed);
            using (lease)
            {
                string json;
                var status = (CdpStatus)NativeCalls.Decide(lease.Id, request, NativeCalls.BudgetMs(budget), out json);
                return new DecisionResult(request.FriendlyId, status, json, status == CdpStatus.Ok ? null : NativeCalls.LastError(), sw.Elapsed, false);
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
            Lease lease;
            if (!TryAcquire(out lease)) return DecisionTicket.Completed(DecisionResult.Unavailable(request.FriendlyId, CdpStatus.ShutDown, Disposed));
            using (lease)
            {
                ulong ticket;
                var status = (CdpStatus)NativeCalls.DecisionBegin(lease.Id, request, out ticket);
                if (status != CdpStatus.Ok)
                    return DecisionTicket.Completed(new DecisionResult(request.FriendlyId, status, null, NativeCalls.LastError(), TimeSpan.Zero, true));
                return new DecisionTicket(this, request.FriendlyId, ticket);
            }
        }

        internal CdpStatus TicketReady(ulong ticket, out bool ready)
        {
            ready = false;
            Lease lease;
            if (!TryAcquire(out lease)) return CdpStatus.ShutDown;
            using (lease)
                return (CdpStatus)NativeCalls.DecisionReady(lease.Id, ticket, out ready);
        }

        internal DecisionResult WaitTicket(string friendlyId, ulong ticket, TimeSpan budget, Stopwatch sw)
        {
            Lease lease;
            if (!TryAcquire(out lease)) return DecisionResult.Unavailable(friendlyId, CdpStatus.ShutDown, Disposed);
            using (lease)
            {
                string json;
                var status = (CdpStatus)NativeCalls.DecisionWait(lease.Id, ticket, NativeCalls.BudgetMs(budget), out json);
                return new DecisionResult(friendlyId, status, json, status == CdpStatus.Ok ? null : NativeCalls.LastError(), sw.Elapsed, true);
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
            Lease lease;
            if (!TryAcquire(out lease)) return BrowserIdResult.Failed(CdpStatus.ShutDown);
            using (lease)
            {
                BrowserIdSource source;
                bool created;
                string id, guestRef, cookies;
                var status = (CdpStatus)NativeCalls.BrowserEnsure(lease.Id, cookieHeader, NativeCalls.BudgetMs(budget), out source, out created,
                    out id, out guestRef, out cookies);
                if (status != CdpStatus.Ok) return BrowserIdResult.Failed(status);
                var setCookies = cookies == null ? null : cookies.Split('\n');
                return new BrowserIdResult(status, source, created, id, guestRef, setCookies);
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
            using (var lease = Acquire())
            {
                string guestRef;
                NativeCalls.Check(NativeCalls.BrowserGuestRef(lease.Id, browserId, NativeCalls.BudgetMs(budget), out guestRef), "looking up the guest of a browser id");
                return guestRef;
            }
        }

        /// <summary>Counters and latencies of this client.</summary>
        public CdpStats GetStats()
        {
            using (var lease = Acquire())
            {
                string json;
                NativeCalls.Check(NativeCalls.Stats(lease.Id, out json), "reading stats");
                return new CdpStats(json);
            }
        }

        /// <summary>
        /// Stops accepting events and flushes the queue, waiting at most <paramref name="deadline"/>; events not
        /// delivered by then are handled by the native shutdown policy (dropped or spooled). Idempotent.
        /// </summary>
        public CdpStatus Shutdown(TimeSpan deadline)
        {
            var ms = deadline <= TimeSpan.Zero ? 0u : (uint)Math.Min(deadline.TotalMilliseconds, uint.MaxValue);
            using (var lease = Acquire())
                return (CdpStatus)NativeCalls.Shutdown(lease.Id, ms);
        }

        /// <summary>Deletes the native client (its runtime stops; pending events follow the shutdown policy).</summary>
        public void Dispose() => _handle.Dispose();

        public bool IsDisposed => _handle.IsClosed;

        private const string Disposed = "the client is disposed";

        /// <summary>
        /// A reference on the native client for the length of one call; throws <see cref="ObjectDisposedException"/>
        /// once the client is disposed.
        /// </summary>
        internal Lease Acquire()
        {
            Lease lease;
            if (!TryAcquire(out lease)) throw new ObjectDisposedException(nameof(CdpClient));
            return lease;
        }

        /// <summary>Like <see cref="Acquire"/>, but false once disposed: for the calls that answer ShutDown instead of throwing.</summary>
        internal bool TryAcquire(out Lease lease)
        {
            // DangerousAddRef keeps Dispose on another thread from deleting the native client while a call is inside
            // native code: the last release runs ReleaseHandle.
            bool added = false;
            try
            {
                _handle.DangerousAddRef(ref added);
            }
            catch (ObjectDisposedException)
            {
            }
            lease = added ? new Lease(_handle) : default(Lease);
            return added;
        }

        private static void Throw(CdpStatus status, string what)
        {
            if (status != CdpStatus.Ok) throw NativeCalls.Error((int)status, "enqueueing a " + what);
        }

        /// <summary>One <see cref="Acquire"/>d reference; disposing it releases the reference (a struct: no allocation per call).</summary>
        internal struct Lease : IDisposable
        {
            private readonly Handle _handle;

            internal Lease(Handle handle)
            {
                _handle = handle;
            }

            public ulong Id => _handle.Id;

            public void Dispose() => _handle?.DangerousRelease();
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
