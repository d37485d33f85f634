using System;
using System.Globalization;

namespace XmCdp
{
    /// <summary>
    /// A snapshot of the native client's counters and latency histograms as the JSON the native side reports.
    /// The JSON is kept verbatim (its schema belongs to the native library); <see cref="TryGetNumber"/> reads a
    /// top-level numeric counter without a JSON library.
    /// </summary>
    public sealed class CdpStats
    {
        internal CdpStats(string json)
        {
            Json = json ?? "{}";
        }

        public string Json { get; }

        /// <summary>Reads <c>"name": number</c> at the top level of the snapshot.</summary>
        public bool TryGetNumber(string name, out double value)
        {
            value = 0;
            int depth = 0;
            var s = Json;
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                if (c == '{' || c == '[') { depth++; continue; }
                if (c == '}' || c == ']') { depth--; continue; }
                if (c != '"') continue;
                int end = SkipString(s, i);
                if (depth == 1 && end - i - 1 == name.Length && string.CompareOrdinal(s, i + 1, name, 0, name.Length) == 0)
                {
                    int j = end + 1;
                    while (j < s.Length && char.IsWhiteSpace(s[j])) j++;
                    if (j < s.Length && s[j] == ':')
                    {
                        j++;
                        while (j < s.Length && char.IsWhiteSpace(s[j])) j++;
                        int start = j;
                        while (j < s.Length && "+-0123456789.eE".IndexOf(s[j]) >= 0) j++;
                        return j > start && double.TryParse(s.Substring(start, j - start), NumberStyles.Float,
                            CultureInfo.InvariantCulture, out value);
                    }
                }
                i = end;
            }
            return false;
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
