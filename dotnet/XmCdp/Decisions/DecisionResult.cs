using System;

namespace XmCdp.Decisions
{
    /// <summary>How a decision ended. Everything but <see cref="Ok"/> means "render the fallback".</summary>
    public enum DecisionOutcome
    {
        Ok,
        /// <summary>No answer within the budget.</summary>
        Timeout,
        /// <summary>Recent decisions failed; the breaker fails fast until its cooldown has passed.</summary>
        CircuitOpen,
        /// <summary>The tenant has no live flow with this friendly id.</summary>
        FlowNotFound,
        /// <summary>Any other failure (remote error, bad request, shut down); see <see cref="DecisionResult.Status"/>.</summary>
        Failed,
    }

    /// <summary>
    /// The answer of a decision: the flow's response (usually JSON such as <c>{"variantId":"..."}</c>) or why
    /// there is none. Decision failures are values, not exceptions: a rendering only chooses what to show.
    /// </summary>
    public sealed class DecisionResult
    {
        internal DecisionResult(string friendlyId, CdpStatus status, string json, string message, TimeSpan elapsed, bool prefetched)
        {
            FriendlyId = friendlyId;
            Status = status;
            Json = status == CdpStatus.Ok ? json : null;
            Message = message;
            Elapsed = elapsed;
            Prefetched = prefetched;
        }

        /// <summary>A result without a native call (no client, tracking off): outcome Failed with the given status.</summary>
        public static DecisionResult Unavailable(string friendlyId, CdpStatus status, string message = null)
        {
            return new DecisionResult(friendlyId, status, null, message, TimeSpan.Zero, false);
        }

        public string FriendlyId { get; }
        /// <summary>The native status: Ok, or the detail behind a fallback (e.g. 50 Timeout, 51 CircuitOpen, 63 ServerError).</summary>
        public CdpStatus Status { get; }
        /// <summary>The flow's response body; null unless <see cref="IsOk"/>.</summary>
        public string Json { get; }
        /// <summary>The native reason of a failure (never personal data or secrets); null on success.</summary>
        public string Message { get; }
        /// <summary>Time the caller spent waiting for this answer.</summary>
        public TimeSpan Elapsed { get; }
        /// <summary>The answer came from a ticket started earlier (prefetch).</summary>
        public bool Prefetched { get; }

        public bool IsOk => Status == CdpStatus.Ok;

        public DecisionOutcome Outcome
        {
            get
            {
                switch (Status)
                {
                    case CdpStatus.Ok: return DecisionOutcome.Ok;
                    case CdpStatus.Timeout: return DecisionOutcome.Timeout;
                    case CdpStatus.CircuitOpen: return DecisionOutcome.CircuitOpen;
                    case CdpStatus.FlowNotFound: return DecisionOutcome.FlowNotFound;
                    default: return DecisionOutcome.Failed;
                }
            }
        }

        /// <summary>The flow's response, or <paramref name="fallback"/> when there is none.</summary>
        public string JsonOr(string fallback) => IsOk ? Json : fallback;

        public override string ToString()
        {
            return "Decision(" + FriendlyId + ": " + Outcome + (IsOk ? "" : " status " + (int)Status) + ", " + (long)Elapsed.TotalMilliseconds + " ms"
                + (Prefetched ? ", prefetched" : "") + ")";
        }
    }
}
