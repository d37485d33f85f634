using System;
using System.Runtime.InteropServices;
using XmCdp.Events;
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
        }

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
