using System;
using System.Globalization;
using System.Text;

namespace XmCdp.Json
{
    /// <summary>
    /// A minimal forward-only JSON writer for the small <c>ext</c>/<c>data</c> objects the C# side hands to native
    /// code. Deliberately not a serializer: no NuGet JSON library may ship into a Sitecore bin, and the payload
    /// shapes (flat objects, string arrays, identifiers) are tiny and fixed.
    /// </summary>
    internal sealed class JsonWriter
    {
        private readonly StringBuilder _sb;
        private bool _needComma;

        public JsonWriter(StringBuilder sb)
        {
            _sb = sb;
        }

        public JsonWriter() : this(new StringBuilder(128)) { }

        public JsonWriter StartObject() { Separator(); _sb.Append('{'); _needComma = false; return this; }
        public JsonWriter EndObject() { _sb.Append('}'); _needComma = true; return this; }
        public JsonWriter StartArray() { Separator(); _sb.Append('['); _needComma = false; return this; }
        public JsonWriter EndArray() { _sb.Append(']'); _needComma = true; return this; }

        public JsonWriter Name(string name)
        {
            Separator();
            WriteEscaped(name);
            _sb.Append(':');
            _needComma = false;
            return this;
        }

        public JsonWriter String(string value)
        {
            Separator();
            if (value == null) _sb.Append("null"); else WriteEscaped(value);
            _needComma = true;
            return this;
        }

        public JsonWriter Number(long value)
        {
            Separator();
            _sb.Append(value.ToString(CultureInfo.InvariantCulture));
            _needComma = true;
            return this;
        }

        public JsonWriter Number(double value)
        {
            if (double.IsNaN(value) || double.IsInfinity(value))
                throw new ArgumentOutOfRangeException(nameof(value), "JSON has no NaN or Infinity.");
            Separator();
            // "R" round-trips; JSON has no exponent-free requirement, and "R" never yields a locale separator.
            _sb.Append(value.ToString("R", CultureInfo.InvariantCulture));
            _needComma = true;
            return this;
        }

        public JsonWriter Bool(bool value)
        {
            Separator();
            _sb.Append(value ? "true" : "false");
            _needComma = true;
            return this;
        }

        public JsonWriter Null()
        {
            Separator();
            _sb.Append("null");
            _needComma = true;
            return this;
        }

        /// <summary>A value that already is JSON text (validated by whoever parses the result).</summary>
        internal JsonWriter RawValue(string json)
        {
            Separator();
            _sb.Append(json);
            _needComma = true;
            return this;
        }

        public JsonWriter Property(string name, string value)
        {
            if (value == null) return this;
            return Name(name).String(value);
        }

        public override string ToString() => _sb.ToString();

        private void Separator()
        {
            if (_needComma) _sb.Append(',');
        }

        private void WriteEscaped(string s)
        {
            _sb.Append('"');
            int start = 0;
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                string esc = null;
                switch (c)
                {
                    case '"': esc = "\\\""; break;
                    case '\\': esc = "\\\\"; break;
                    case '\n': esc = "\\n"; break;
                    case '\r': esc = "\\r"; break;
                    case '\t': esc = "\\t"; break;
                    case '\b': esc = "\\b"; break;
                    case '\f': esc = "\\f"; break;
                    default:
                        // U+2028/2029 are valid JSON but break JavaScript embedding; escape them like control chars.
                        if (c < 0x20 || c == '\u2028' || c == '\u2029')
                            esc = "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture);
                        break;
                }
                if (esc != null)
                {
                    _sb.Append(s, start, i - start).Append(esc);
                    start = i + 1;
                }
            }
            _sb.Append(s, start, s.Length - start);
            _sb.Append('"');
        }
    }
}
