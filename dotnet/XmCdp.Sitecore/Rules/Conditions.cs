using System;
using System.Collections;
using Sitecore.Rules;
using Sitecore.Rules.Conditions;

namespace XmCdp.Sitecore.Rules
{
    /// <summary>
    /// "where the CDP decision of flow [FlowId] returns variant [Variant]": compares the <c>variantId</c> of the
    /// flow's response (prefetched at request begin) with the variant, ordinally. False when CDP did not answer.
    /// </summary>
    public class CdpDecisionVariantCondition<T> : WhenCondition<T> where T : RuleContext
    {
        public string FlowId { get; set; }
        public string Variant { get; set; }

        protected override bool Execute(T ruleContext)
        {
            try
            {
                var r = CdpRules.Decision(FlowId, "CDP decision condition");
                if (r == null || string.IsNullOrWhiteSpace(Variant)) return false;
                return string.Equals(CdpContext.VariantId(r.Json), Variant.Trim(), StringComparison.Ordinal);
            }
            catch (Exception e)
            {
                XmCdpLog.SingleError("CDP decision condition failed and evaluated to false: " + XmCdpLog.Describe(e));
                return false;
            }
        }
    }

    /// <summary>
    /// "where the visitor's CDP guest data extension [Extension] field [Key] [operator] [Value]". A guest without the
    /// extension or the key compares as the empty string. False when CDP did not answer within the rules budget.
    /// </summary>
    public class CdpGuestExtensionCondition<T> : StringOperatorCondition<T> where T : RuleContext
    {
        public string Extension { get; set; }
        public string Key { get; set; }
        public string Value { get; set; }

        protected override bool Execute(T ruleContext)
        {
            try
            {
                const string Who = "CDP guest data extension condition";
                var name = string.IsNullOrWhiteSpace(Extension) ? "ext" : Extension.Trim();
                if (string.IsNullOrWhiteSpace(Key))
                {
                    XmCdpLog.SingleWarn(Who + ": the rule names no field; it evaluates to false.");
                    return false;
                }
                var lookup = CdpGuestLookup.Current;
                if (lookup == null) return false;
                var ext = CdpGuestLookup.Wait(lookup.Extension(name), Who);
                if (ext == null) return false;
                object v;
                var text = ext.TryGetValue(Key.Trim(), out v) && v != null ? Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) : "";
                if (v is bool) text = (bool)v ? "true" : "false";
                return Compare(text, Value ?? "");
            }
            catch (Exception e)
            {
                XmCdpLog.SingleError("CDP guest data extension condition failed and evaluated to false: " + XmCdpLog.Describe(e));
                return false;
            }
        }
    }

    /// <summary>"where the visitor is identified in CDP": the visitor's guest has at least one identifier (an IDENTITY merged it).</summary>
    public class CdpVisitorIdentifiedCondition<T> : WhenCondition<T> where T : RuleContext
    {
        protected override bool Execute(T ruleContext)
        {
            try
            {
                var lookup = CdpGuestLookup.Current;
                if (lookup == null) return false;
                var guest = CdpGuestLookup.Wait(lookup.Guest(), "CDP identified-visitor condition");
                object ids;
                return guest != null && guest.TryGetValue("identifiers", out ids) && ids is ICollection && ((ICollection)ids).Count > 0;
            }
            catch (Exception e)
            {
                XmCdpLog.SingleError("CDP identified-visitor condition failed and evaluated to false: " + XmCdpLog.Describe(e));
                return false;
            }
        }
    }
}
