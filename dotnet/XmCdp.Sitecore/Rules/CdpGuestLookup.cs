using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using System.Web;

namespace XmCdp.Sitecore.Rules
{
    /// <summary>
    /// The visitor's guest and data extensions for this request, fetched off the request thread (Guest REST calls
    /// take tens of milliseconds) as soon as request begin sees a rule that needs them; conditions wait at most the
    /// rules budget. Lives in HttpContext.Items next to the <see cref="CdpContext"/>.
    /// </summary>
    internal sealed class CdpGuestLookup
    {
        private const string ItemsKey = "XmCdp.Rules.GuestLookup";
        // Budget of the Guest REST calls themselves (the request thread never waits this long).
        private static readonly TimeSpan CallBudget = TimeSpan.FromMilliseconds(2000);

        private readonly CdpClient _client;
        private readonly string _browserId;
        private readonly object _gate = new object();
        private Task<string> _guestRef;
        private Task<Dictionary<string, object>> _guest;
        private readonly Dictionary<string, Task<Dictionary<string, object>>> _extensions =
            new Dictionary<string, Task<Dictionary<string, object>>>(StringComparer.Ordinal);

        private CdpGuestLookup(CdpClient client, string browserId)
        {
            _client = client;
            _browserId = browserId;
        }

        /// <summary>This request's lookup (created on first use); null for an untracked visitor or a client without Guest API.</summary>
        internal static CdpGuestLookup For(System.Collections.IDictionary items, CdpContext cdp)
        {
            if (items == null || cdp == null) return null;
            var existing = items[ItemsKey] as CdpGuestLookup;
            if (existing != null) return existing;
            var client = cdp.Site.Client as CdpClient;
            if (client == null) return null;
            var lookup = new CdpGuestLookup(client, cdp.BrowserId);
            items[ItemsKey] = lookup;
            return lookup;
        }

        internal static CdpGuestLookup Current => For(HttpContext.Current?.Items, CdpContext.Current);

        private Task<string> GuestRef()
        {
            lock (_gate)
                return _guestRef ?? (_guestRef = Task.Run(() => Guarded(() => _client.GuestRefFor(_browserId, CallBudget))));
        }

        internal Task<Dictionary<string, object>> Guest()
        {
            lock (_gate)
            {
                if (_guest != null) return _guest;
                var guestRef = GuestRef();
                return _guest = guestRef.ContinueWith(t => CdpRules.Object(Guarded(() => _client.Guests.Get(t.Result, false, CallBudget))), TaskScheduler.Default);
            }
        }

        internal Task<Dictionary<string, object>> Extension(string name)
        {
            lock (_gate)
            {
                Task<Dictionary<string, object>> task;
                if (_extensions.TryGetValue(name, out task)) return task;
                var guestRef = GuestRef();
                task = guestRef.ContinueWith(t =>
                {
                    try
                    {
                        return CdpRules.Object(Guarded(() => _client.Guests.GetExtension(t.Result, name, CallBudget)));
                    }
                    catch (XmCdpException e) when (e.Status == CdpStatus.NotFound)
                    {
                        // The guest has no such extension: an empty one, so "field is not X" can still hold.
                        return new Dictionary<string, object>();
                    }
                }, TaskScheduler.Default);
                _extensions[name] = task;
                return task;
            }
        }

        // After a Guest API failure (down, slow, no token) lookups pause for a while, so a page full of guest
        // conditions does not tie up a pool thread per request for the whole call budget while CDP is down.
        private static readonly TimeSpan Pause = TimeSpan.FromSeconds(5);
        private static long s_pausedUntilTicks;

        private static T Guarded<T>(Func<T> call)
        {
            if (DateTime.UtcNow.Ticks < System.Threading.Interlocked.Read(ref s_pausedUntilTicks))
                throw new XmCdpException(CdpStatus.CircuitOpen, "guest lookups are paused after a Guest API failure");
            try
            {
                return call();
            }
            catch (XmCdpException e) when (e.Status != CdpStatus.NotFound)
            {
                System.Threading.Interlocked.Exchange(ref s_pausedUntilTicks, (DateTime.UtcNow + Pause).Ticks);
                throw;
            }
        }

        /// <summary>The task's result within the rules budget; null (logged once per reason) when it is late or failed.</summary>
        internal static T Wait<T>(Task<T> task, string who) where T : class
        {
            try
            {
                if (!task.Wait(CdpRules.Budget))
                {
                    XmCdpLog.SingleWarn(who + ": the guest data did not arrive within " + (long)CdpRules.Budget.TotalMilliseconds + " ms; the rule evaluates to false.");
                    return null;
                }
                return task.Result;
            }
            catch (AggregateException e)
            {
                var inner = e.InnerException is AggregateException ? e.InnerException.InnerException : e.InnerException;
                var x = inner as XmCdpException;
                XmCdpLog.SingleWarn(who + ": the guest data is unavailable ("
                    + (x != null ? "status " + (int)x.Status + " " + x.Status : XmCdpLog.Describe(inner ?? e)) + "); the rule evaluates to false.");
                return null;
            }
        }
    }
}
