using System.Collections.Generic;
using XmCdp.Events;

namespace XmCdp.Decisions
{
    /// <summary>
    /// Which flow to run for which visitor. Fields left null are not sent (point of sale falls back to the
    /// client's settings). Identify the visitor by <see cref="BrowserId"/>, or by <see cref="Email"/> or an
    /// identifier instead.
    /// </summary>
    public sealed class DecisionRequest
    {
        public DecisionRequest(string friendlyId)
        {
            FriendlyId = friendlyId;
        }

        /// <summary>Required: the flow's friendly id, e.g. <c>home_page_banner</c>.</summary>
        public string FriendlyId { get; set; }
        public string BrowserId { get; set; }
        public string Email { get; set; }
        public string IdentifierProvider { get; set; }
        public string IdentifierId { get; set; }
        public string Channel { get; set; }
        public string Currency { get; set; }
        public string Language { get; set; }
        public string PointOfSale { get; set; }
        /// <summary>Edge only: the visitor's guest ref.</summary>
        public string GuestRef { get; set; }
        public string UserAgent { get; set; }
        /// <summary>Custom parameters of the flow (a flat JSON object on the wire).</summary>
        public CdpExtensionData Params { get; } = new CdpExtensionData();
        /// <summary>Edge only: page variant ids.</summary>
        public List<string> PageVariantIds { get; } = new List<string>();

        internal string ParamsJsonOrNull() => Params.ToJsonOrNull();

        /// <summary>A copy for another flow, same visitor and context.</summary>
        public DecisionRequest WithFriendlyId(string friendlyId)
        {
            var r = (DecisionRequest)MemberwiseClone();
            r.FriendlyId = friendlyId;
            return r;
        }
    }
}
