using System;
using System.Collections.Generic;

namespace XmCdp.Sitecore
{
    /// <summary>
    /// Which decisions a site prefetches at request begin: <c>prefetchFlows</c> (every tracked page) and
    /// <c>prefetchPaths</c> (<c>/sitecore/content/home/products=flow_a,flow_b;/sitecore/content/home=flow_c</c>:
    /// the item and its descendants). Immutable after parsing; read by every request.
    /// </summary>
    public sealed class SiteDecisions
    {
        public static readonly SiteDecisions None = new SiteDecisions(new string[0], new List<KeyValuePair<string, string[]>>());

        private readonly string[] _always;
        private readonly List<KeyValuePair<string, string[]>> _byPath;

        private SiteDecisions(string[] always, List<KeyValuePair<string, string[]>> byPath)
        {
            _always = always;
            _byPath = byPath;
        }

        /// <exception cref="ArgumentException">A malformed prefetchPaths entry (the message quotes the setting name only).</exception>
        public static SiteDecisions Parse(string prefetchFlows, string prefetchPaths)
        {
            var always = Ids(prefetchFlows);
            var byPath = new List<KeyValuePair<string, string[]>>();
            if (!string.IsNullOrWhiteSpace(prefetchPaths))
            {
                foreach (var rule in prefetchPaths.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries))
                {
                    if (rule.Trim().Length == 0) continue;
                    int eq = rule.IndexOf('=');
                    if (eq <= 0) throw new ArgumentException("prefetchPaths must be 'itemPath=friendlyId[,friendlyId];...'.");
                    var path = rule.Substring(0, eq).Trim().TrimEnd('/');
                    var ids = Ids(rule.Substring(eq + 1));
                    if (!path.StartsWith("/", StringComparison.Ordinal) || ids.Length == 0)
                        throw new ArgumentException("prefetchPaths must be 'itemPath=friendlyId[,friendlyId];...' with absolute item paths.");
                    byPath.Add(new KeyValuePair<string, string[]>(path, ids));
                }
            }
            return always.Length == 0 && byPath.Count == 0 ? None : new SiteDecisions(always, byPath);
        }

        /// <summary>Distinct friendly ids to prefetch for an item (its full path; null = site-wide flows only).</summary>
        public IList<string> FlowsFor(string itemPath)
        {
            if (_byPath.Count == 0) return _always;
            var result = new List<string>(_always);
            if (itemPath == null) return result;
            foreach (var rule in _byPath)
            {
                bool match = itemPath.Equals(rule.Key, StringComparison.OrdinalIgnoreCase)
                    || (itemPath.StartsWith(rule.Key, StringComparison.OrdinalIgnoreCase) && itemPath.Length > rule.Key.Length && itemPath[rule.Key.Length] == '/');
                if (!match) continue;
                foreach (var id in rule.Value)
                    if (!result.Contains(id)) result.Add(id);
            }
            return result;
        }

        private static string[] Ids(string csv)
        {
            var list = new List<string>();
            if (string.IsNullOrWhiteSpace(csv)) return list.ToArray();
            foreach (var p in csv.Split(','))
            {
                var t = p.Trim();
                if (t.Length > 0 && !list.Contains(t)) list.Add(t);
            }
            return list.ToArray();
        }
    }
}
