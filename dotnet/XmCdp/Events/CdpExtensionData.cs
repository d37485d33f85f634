using System;
using System.Collections.Generic;
using XmCdp.Json;

namespace XmCdp.Events
{
    /// <summary>
    /// The <c>ext</c> object of an event: flat key/value pairs (CDP flattens nested objects and allows at most
    /// 50 attributes; the native side validates both). Insertion order is kept, so the wire JSON is predictable.
    /// </summary>
    public sealed class CdpExtensionData
    {
        private readonly List<KeyValuePair<string, object>> _items = new List<KeyValuePair<string, object>>();

        public int Count => _items.Count;

        public CdpExtensionData Set(string key, string value) => Put(key, value);
        public CdpExtensionData Set(string key, long value) => Put(key, value);
        public CdpExtensionData Set(string key, double value) => Put(key, value);
        public CdpExtensionData Set(string key, bool value) => Put(key, value);

        public void Clear() => _items.Clear();

        private CdpExtensionData Put(string key, object value)
        {
            if (string.IsNullOrEmpty(key)) throw new ArgumentException("An ext key must be non-empty.", nameof(key));
            for (int i = 0; i < _items.Count; i++)
            {
                if (string.Equals(_items[i].Key, key, StringComparison.Ordinal))
                {
                    _items[i] = new KeyValuePair<string, object>(key, value);
                    return this;
                }
            }
            _items.Add(new KeyValuePair<string, object>(key, value));
            return this;
        }

        /// <summary>The JSON object, or null when empty (absent on the wire rather than <c>{}</c>).</summary>
        internal string ToJsonOrNull()
        {
            if (_items.Count == 0) return null;
            var w = new JsonWriter().StartObject();
            foreach (var kv in _items)
            {
                w.Name(kv.Key);
                WriteValue(w, kv.Value);
            }
            return w.EndObject().ToString();
        }

        internal static void WriteValue(JsonWriter w, object value)
        {
            // mcs (the Linux build) has no type patterns in switch, hence the if chain.
            if (value == null) w.Null();
            else if (value is string) w.String((string)value);
            else if (value is long) w.Number((long)value);
            else if (value is double) w.Number((double)value);
            else if (value is bool) w.Bool((bool)value);
            else throw new InvalidOperationException("Unsupported ext value type.");
        }
    }
}
