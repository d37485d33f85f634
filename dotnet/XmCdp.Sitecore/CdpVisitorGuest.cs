using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using XmCdp.Events;
using XmCdp.Guests;

namespace XmCdp.Sitecore
{
    /// <summary>
    /// The current visitor's CDP guest, for renderings and login/registration handlers:
    /// <c>var tier = CdpContext.Current?.Guest.Extension("ext")?["loyaltyTier"];</c> and
    /// <c>CdpContext.Current?.Guest.SaveExtension("ext", new CdpExtensionData().Set("loyaltyTier", "gold"));</c>.
    /// <para>The guest ref is resolved at most once per request, on a thread-pool thread: from the logged-in user's
    /// identifier when the site sets <c>guestIdentifierProvider</c> (the user's e-mail under that provider, as the
    /// IDENTITY event sends it), else from the browser id. Nothing happens until a caller asks (or the site sets
    /// <c>prefetchGuest="true"</c>, which starts it at request begin); a caller waits at most its budget and never gets
    /// an exception for CDP being slow, down or refusing: reads answer null, writes answer a <see cref="CdpStatus"/>.</para>
    /// </summary>
    public sealed class CdpVisitorGuest
    {
        /// <summary>Budget of a call that passes none: resolution plus the Guest REST call it makes.</summary>
        public static TimeSpan DefaultBudget { get; set; } = TimeSpan.FromSeconds(1);

        private readonly SiteBinding _site;
        private readonly string _browserId;
        private readonly string _provider;
        private readonly global::Sitecore.Security.Accounts.User _user;
        private readonly object _gate = new object();
        private Task<Resolution> _resolution;
        // Extension reads of this request (name → values, null = none): a second read costs nothing.
        private Dictionary<string, IDictionary<string, object>> _extensions;

        internal CdpVisitorGuest(SiteBinding site, string browserId, global::Sitecore.Security.Accounts.User user)
        {
            _site = site;
            _browserId = browserId;
            _provider = site.GuestIdentifierProvider;
            _user = string.IsNullOrEmpty(_provider) || user == null || !user.IsAuthenticated ? null : user;
        }

        /// <summary>Starts resolving the guest ref on the thread pool (no-op when started already); never blocks.</summary>
        public void Prefetch() => Start();

        /// <summary>The guest ref, waiting at most <see cref="DefaultBudget"/>; null when unknown or not (yet) available.</summary>
        public string Ref => GetRef(DefaultBudget);

        /// <summary>The guest ref, waiting at most <paramref name="budget"/>; null when unknown or not (yet) available.</summary>
        public string GetRef(TimeSpan budget)
        {
            var task = Start();
            try
            {
                return task.Wait(Positive(budget)) ? task.Result.Ref : null;
            }
            catch (AggregateException)
            {
                return null;
            }
        }

        /// <summary>How the resolution ended: Ok, NotFound, Timeout, ShutDown...; null while it runs or before it started.</summary>
        public CdpStatus? Status
        {
            get
            {
                var task = Volatile.Read(ref _resolution);
                return task != null && task.IsCompleted && !task.IsFaulted ? task.Result.Status : (CdpStatus?)null;
            }
        }

        /// <summary>True when the guest was found by the logged-in user's identifier rather than the browser id.</summary>
        public bool ResolvedByUser
        {
            get
            {
                var task = Volatile.Read(ref _resolution);
                return task != null && task.IsCompleted && !task.IsFaulted && task.Result.ByUser;
            }
        }

        /// <summary>
        /// The key/values of data extension <paramref name="name"/> ("ext" … "ext5"); null when the guest has none, is
        /// unknown, or CDP did not answer within the budget (<see cref="DefaultBudget"/> when none is given).
        /// </summary>
        public IDictionary<string, object> Extension(string name, TimeSpan budget = default(TimeSpan))
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException("An extension name is required.", nameof(name));
            lock (_gate)
            {
                IDictionary<string, object> cached;
                if (_extensions != null && _extensions.TryGetValue(name, out cached)) return cached;
            }
            var sw = Stopwatch.StartNew();
            var total = budget == TimeSpan.Zero ? DefaultBudget : budget;
            var guestRef = GetRef(total);
            var guests = Guests();
            if (guestRef == null || guests == null) return null;
            var left = Remaining(total, sw);
            if (left == null) return null;
            try
            {
                var values = guests.ExtensionValues(guestRef, name, left.Value);
                Remember(name, values);
                return values;
            }
            catch (Exception e) when (e is XmCdpException || e is ObjectDisposedException)
            {
                XmCdpLog.SingleWarn("reading the visitor's guest data extension failed: " + XmCdpLog.Describe(e));
                return null;
            }
        }

        /// <summary>
        /// Writes <paramref name="data"/> into data extension <paramref name="name"/> of the visitor's guest: only the
        /// keys given change (PATCH), and the extension is created when the guest has none yet. Ok, or why not.
        /// </summary>
        public CdpStatus SaveExtension(string name, CdpExtensionData data, TimeSpan budget = default(TimeSpan))
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException("An extension name is required.", nameof(name));
            if (data == null) throw new ArgumentNullException(nameof(data));
            return Write(budget, (guests, guestRef, left) =>
            {
                string json;
                try
                {
                    json = guests.PatchExtension(guestRef, name, data, left);
                }
                catch (XmCdpException e) when (e.Status == CdpStatus.NotFound)
                {
                    json = guests.CreateExtension(guestRef, name, data, left);
                }
                lock (_gate) _extensions?.Remove(name);
                return json;
            }, "saving the visitor's guest data extension");
        }

        /// <summary>Partial update of the visitor's guest profile (only what <paramref name="changes"/> sets). Ok, or why not.</summary>
        public CdpStatus Update(CdpGuestProfile changes, TimeSpan budget = default(TimeSpan))
        {
            if (changes == null) throw new ArgumentNullException(nameof(changes));
            return Write(budget, (guests, guestRef, left) => guests.Update(guestRef, changes, left), "updating the visitor's guest");
        }

        private CdpStatus Write(TimeSpan budget, Func<CdpGuests, string, TimeSpan, string> write, string what)
        {
            var sw = Stopwatch.StartNew();
            var total = budget == TimeSpan.Zero ? DefaultBudget : budget;
            var guestRef = GetRef(total);
            var guests = Guests();
            if (guests == null) return CdpStatus.Internal;
            if (guestRef == null) return Status ?? CdpStatus.Timeout;
            var left = Remaining(total, sw);
            if (left == null) return CdpStatus.Timeout;
            try
            {
                write(guests, guestRef, left.Value);
                return CdpStatus.Ok;
            }
            catch (XmCdpException e)
            {
                XmCdpLog.SingleWarn(what + " failed: " + XmCdpLog.Describe(e));
                return e.Status;
            }
            catch (ObjectDisposedException)
            {
                return CdpStatus.ShutDown;
            }
        }

        private void Remember(string name, IDictionary<string, object> values)
        {
            lock (_gate)
            {
                if (_extensions == null) _extensions = new Dictionary<string, IDictionary<string, object>>(StringComparer.Ordinal);
                _extensions[name] = values;
            }
        }

        private CdpGuests Guests() => (_site.Client as CdpClient)?.Guests;

        private Task<Resolution> Start()
        {
            var task = Volatile.Read(ref _resolution);
            if (task != null) return task;
            lock (_gate)
            {
                if (_resolution == null) _resolution = Task.Run(() => Resolve());
                return _resolution;
            }
        }

        /// <summary>Runs on the thread pool, once: the user's identifier first (when configured), then the browser id.</summary>
        private Resolution Resolve()
        {
            var client = _site.Client as CdpClient;
            if (client == null) return new Resolution(null, CdpStatus.Internal, false);
            try
            {
                if (_user != null)
                {
                    var profile = _user.Profile;
                    var email = profile != null ? profile.Email : null;
                    if (!string.IsNullOrEmpty(email))
                    {
                        var refs = CdpGuests.RefsOf(client.Guests.FindByIdentifier(_provider, email));
                        if (refs.Count > 0) return new Resolution(refs[0], CdpStatus.Ok, true);
                    }
                }
                if (string.IsNullOrEmpty(_browserId)) return new Resolution(null, CdpStatus.NotFound, false);
                return new Resolution(client.GuestRefFor(_browserId, TimeSpan.Zero), CdpStatus.Ok, false);
            }
            catch (XmCdpException e)
            {
                if (e.Status != CdpStatus.NotFound) XmCdpLog.SingleWarn("the visitor's guest could not be resolved: " + XmCdpLog.Describe(e));
                return new Resolution(null, e.Status, false);
            }
            catch (ObjectDisposedException)
            {
                return new Resolution(null, CdpStatus.ShutDown, false);
            }
            catch (Exception e)
            {
                XmCdpLog.SingleError("resolving the visitor's guest failed: " + XmCdpLog.Describe(e));
                return new Resolution(null, CdpStatus.Internal, false);
            }
        }

        private static TimeSpan Positive(TimeSpan t) => t < TimeSpan.Zero ? TimeSpan.Zero : t;

        private static TimeSpan? Remaining(TimeSpan total, Stopwatch sw)
        {
            var left = total - sw.Elapsed;
            // Below a millisecond the native budget would round to "the configured default": treat it as spent.
            return left < TimeSpan.FromMilliseconds(1) ? (TimeSpan?)null : left;
        }

        private sealed class Resolution
        {
            public Resolution(string guestRef, CdpStatus status, bool byUser)
            {
                Ref = guestRef;
                Status = status;
                ByUser = byUser;
            }

            public string Ref { get; }
            public CdpStatus Status { get; }
            public bool ByUser { get; }
        }
    }
}
