using System;
using System.Collections.Generic;
using System.Globalization;

namespace XmCdp
{
    /// <summary>
    /// A snapshot of the native client's counters and latency histograms as the JSON the native side reports.
    /// The JSON is kept verbatim (its schema belongs to the native library); <see cref="TryGetNumber"/> reads a
    /// counter by dotted path without a JSON library.
    /// </summary>
    public sealed partial class CdpStats
    {
        internal CdpStats(string json)
        {
            Json = json ?? "{}";
        }

        public string Json { get; }

        /// <summary>
        /// Reads a numeric counter by its dotted path, e.g. <c>events.enqueued</c> or
        /// <c>events.delivery_latency.p99_us</c>. False when the path is absent or not a number.
        /// </summary>
        public bool TryGetNumber(string path, out double value)
        {
            value = 0;
            if (string.IsNullOrEmpty(path)) return false;
            var target = path.Split('.');
            var keys = new List<string>();      // key path of the object being read
            var inObject = new List<bool>();    // per open container: object (true) or array (false)
            string pendingKey = null;
            var s = Json;
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                if (c == '{' || c == '[')
                {
                    bool obj = c == '{';
                    if (inObject.Count > 0 && inObject[inObject.Count - 1]) keys.Add(pendingKey ?? "");
                    else if (inObject.Count > 0) keys.Add("[]");
                    inObject.Add(obj);
                    pendingKey = null;
                }
                else if (c == '}' || c == ']')
                {
                    inObject.RemoveAt(inObject.Count - 1);
                    if (keys.Count > 0 && inObject.Count > 0) keys.RemoveAt(keys.Count - 1);
                    pendingKey = null;
                }
                else if (c == '"')
                {
                    int end = SkipString(s, i);
                    var text = s.Substring(i + 1, end - i - 1);
                    int j = end + 1;
                    while (j < s.Length && char.IsWhiteSpace(s[j])) j++;
                    if (j < s.Length && s[j] == ':' && inObject.Count > 0 && inObject[inObject.Count - 1])
                    {
                        pendingKey = text;
                        i = j;
                    }
                    else
                    {
                        i = end;
                    }
                }
                else if (c == '-' || (c >= '0' && c <= '9'))
                {
                    int start = i;
                    while (i + 1 < s.Length && "+-0123456789.eE".IndexOf(s[i + 1]) >= 0) i++;
                    if (pendingKey != null && Matches(keys, pendingKey, target))
                    {
                        return double.TryParse(s.Substring(start, i - start + 1), NumberStyles.Float,
                            CultureInfo.InvariantCulture, out value);
                    }
                }
            }
            return false;
        }

        private static bool Matches(List<string> keys, string last, string[] target)
        {
            if (keys.Count + 1 != target.Length) return false;
            for (int k = 0; k < keys.Count; k++)
            {
                if (!string.Equals(keys[k], target[k], StringComparison.Ordinal)) return false;
            }
            return string.Equals(last, target[target.Length - 1], StringComparison.Ordinal);
        }

        private static int SkipString(string s, int openQuote)
        {
            for (int i = openQuote + 1; i < s.Length; i++)
            {
                if (s[i] == '\\') { i++; continue; }
                if (s[i] == '"') return i;
            }
            return s.Length - 1;
        }

        public override string ToString() => Json;
    }
}
