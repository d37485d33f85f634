using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Xml;

namespace XmCdp.Sitecore.Rules
{
    /// <summary>
    /// Request begin: finds the XmCdp conditions and actions in the personalization rules of the page item's
    /// renderings (the <c>__Renderings</c> and <c>__Final Renderings</c> layout fields) and starts what they will read:
    /// the decisions of the flows they name (with the client's coalescing and breaker) and the guest lookups. No
    /// configuration beyond the rule itself. A layout value seen before costs a sampled hash and one ordinal compare; a
    /// new one a pass over its '{' characters (and an XML parse when it holds our item IDs).
    /// </summary>
    internal static class CdpRulePrefetch
    {
        internal sealed class Needs
        {
            public readonly List<string> Flows = new List<string>();
            public readonly List<string> Extensions = new List<string>();
            public bool Guest;
            public bool Any => Flows.Count > 0 || Extensions.Count > 0 || Guest;
        }

        private static readonly Needs Nothing = new Needs();
        // What each layout value needs, those without our rules included: the same few layouts are served over and over.
        // Sitecore computes a layout field's value per read (LayoutField.GetFieldValue applies the deltas), so each
        // request brings a new string: entries are found by a sampled hash and confirmed by an ordinal compare, which
        // costs less than the scan and than hashing every character (the default comparer). Bounded: cleared when full;
        // longer values are scanned every time rather than kept.
        private static readonly ConcurrentDictionary<string, Needs> s_cache = new ConcurrentDictionary<string, Needs>(SampledOrdinal.Instance);
        private const int CacheLimit = 512;
        private const int MaxCachedLength = 64 * 1024;
        private static readonly string[] LayoutFields = { "__Renderings", "__Final Renderings" };

        private static readonly string[] OurIds =
        {
            CdpRules.ItemIds.DecisionVariantCondition, CdpRules.ItemIds.GuestExtensionCondition,
            CdpRules.ItemIds.IdentifiedCondition, CdpRules.ItemIds.DataSourceFromDecisionAction,
        };

        /// <summary>Starts the prefetches for <paramref name="item"/>'s rules. Never throws.</summary>
        internal static void Start(System.Collections.IDictionary items, CdpContext ctx, global::Sitecore.Data.Items.Item item)
        {
            try
            {
                foreach (var field in LayoutFields)
                {
                    var needs = Scan(item[field]);
                    if (!needs.Any) continue;
                    foreach (var flow in needs.Flows) ctx.Prefetch(flow);
                    if (!needs.Guest && needs.Extensions.Count == 0) continue;
                    var lookup = CdpGuestLookup.For(items, ctx);
                    if (lookup == null) continue;
                    if (needs.Guest) lookup.Guest();
                    foreach (var ext in needs.Extensions) lookup.Extension(ext);
                }
            }
            catch (Exception e)
            {
                XmCdpLog.SingleError("prefetching for personalization rules failed (rules still decide on demand): " + XmCdpLog.Describe(e));
            }
        }

        /// <summary>What the XmCdp rule elements of one layout field value need.</summary>
        internal static Needs Scan(string layout)
        {
            if (string.IsNullOrEmpty(layout)) return Nothing;
            Needs cached;
            if (s_cache.TryGetValue(layout, out cached)) return cached;
            var needs = MentionsUs(layout) ? Parse(layout) : Nothing;
            if (layout.Length <= MaxCachedLength)
            {
                if (s_cache.Count >= CacheLimit) s_cache.Clear();
                s_cache[layout] = needs;
            }
            return needs;
        }

        /// <summary>
        /// Ordinal equality with a hash of the length and at most 64 characters spread over the value (layouts of one
        /// site differ in ids everywhere, so few collide; a collision costs one more compare, never a wrong answer).
        /// </summary>
        internal sealed class SampledOrdinal : IEqualityComparer<string>
        {
            internal static readonly SampledOrdinal Instance = new SampledOrdinal();

            public bool Equals(string x, string y) => string.Equals(x, y, StringComparison.Ordinal);

            public int GetHashCode(string s)
            {
                if (s == null) return 0;
                int n = s.Length;
                uint h = 2166136261u ^ (uint)n;
                int step = n / 64 + 1;
                for (int i = n - 1; i >= 0; i -= step) h = (h ^ s[i]) * 16777619u;
                return (int)h;
            }
        }

        /// <summary>
        /// A cheap pre-filter run on each layout value not cached yet: at each '{' compares the ID that follows with ours, ignoring
        /// case. (String.IndexOf with OrdinalIgnoreCase over the whole layout cost ~300 µs per page on Mono.)
        /// </summary>
        internal static bool MentionsUs(string layout)
        {
            int i = -1;
            while ((i = layout.IndexOf('{', i + 1)) >= 0)
            {
                if (layout.Length - i < 38) return false;
                foreach (var id in OurIds)
                    if (SameId(layout, i, id)) return true;
            }
            return false;
        }

        private static bool SameId(string text, int at, string id)
        {
            for (int k = 1; k < id.Length; k++)
            {
                char a = text[at + k], b = id[k];
                if (a != b && (a | 0x20) != (b | 0x20)) return false;
            }
            return true;
        }

        private static Needs Parse(string layout)
        {
            var needs = new Needs();
            var doc = new XmlDocument { XmlResolver = null };
            try
            {
                doc.LoadXml(layout);
            }
            catch (XmlException)
            {
                XmCdpLog.SingleWarn("a page's layout field is not well-formed XML; its CDP rules are decided on demand.");
                return needs;
            }
            foreach (var tag in new[] { "condition", "action" })
            {
                foreach (XmlElement e in doc.GetElementsByTagName(tag))
                {
                    var id = e.GetAttribute("id");
                    if (Same(id, CdpRules.ItemIds.DecisionVariantCondition) || Same(id, CdpRules.ItemIds.DataSourceFromDecisionAction))
                        Add(needs.Flows, Attribute(e, "flowid"));
                    else if (Same(id, CdpRules.ItemIds.GuestExtensionCondition))
                        Add(needs.Extensions, Attribute(e, "extension") ?? "ext");
                    else if (Same(id, CdpRules.ItemIds.IdentifiedCondition))
                        needs.Guest = true;
                }
            }
            return needs;
        }

        private static bool Same(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

        /// <summary>The rule XML keeps a macro's name as the attribute name; matched case-insensitively.</summary>
        private static string Attribute(XmlElement e, string name)
        {
            foreach (XmlAttribute a in e.Attributes)
                if (string.Equals(a.Name, name, StringComparison.OrdinalIgnoreCase)) return string.IsNullOrWhiteSpace(a.Value) ? null : a.Value.Trim();
            return null;
        }

        private static void Add(List<string> list, string value)
        {
            if (value != null && !list.Contains(value)) list.Add(value);
        }
    }
}
