using System;
using System.Diagnostics;
using System.Threading;
using XmCdp.Native;

namespace XmCdp.Decisions
{
    /// <summary>
    /// A decision started ahead of time (<see cref="CdpClient.BeginDecide"/>): start it at request begin, read it
    /// in the rendering. The native ticket is an id that expires by itself (nothing to free), so no SafeHandle;
    /// the first <see cref="Wait"/> claims it and its result is kept for later calls. Thread-safe.
    /// </summary>
    public sealed class DecisionTicket
    {
        private readonly CdpClient _client;
        private readonly ulong _ticket;
        private readonly object _gate = new object();
        private DecisionResult _result;

        internal DecisionTicket(CdpClient client, string friendlyId, ulong ticket)
        {
            _client = client;
            FriendlyId = friendlyId;
            _ticket = ticket;
        }

        private DecisionTicket(string friendlyId, DecisionResult result)
        {
            FriendlyId = friendlyId;
            _result = result;
        }

        /// <summary>A ticket that is already answered (a refused start, or a test double's canned answer).</summary>
        public static DecisionTicket Completed(DecisionResult result)
        {
            if (result == null) throw new ArgumentNullException(nameof(result));
            return new DecisionTicket(result.FriendlyId, result);
        }

        public string FriendlyId { get; }

        /// <summary>True when <see cref="Wait"/> will not block. Never blocks, never throws.</summary>
        public bool IsReady
        {
            get
            {
                if (Volatile.Read(ref _result) != null) return true;
                bool ready;
                var status = _client.TicketReady(_ticket, out ready);
                return status != CdpStatus.Ok || ready;
            }
        }

        /// <summary>
        /// The answer, waiting at most <paramref name="budget"/> (<see cref="TimeSpan.Zero"/> = the client's
        /// decisionTimeoutMs). Never throws for a decision failure; the outcome says what happened.
        /// </summary>
        public DecisionResult Wait(TimeSpan budget)
        {
            var r = Volatile.Read(ref _result);
            if (r != null) return r;
            lock (_gate)
            {
                if (_result != null) return _result;
                var sw = Stopwatch.StartNew();
                _result = _client.WaitTicket(FriendlyId, _ticket, budget, sw);
                return _result;
            }
        }
    }
}
