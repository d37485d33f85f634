using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.RegularExpressions;
using XmCdp.Json;
using XmCdp.Native;

namespace XmCdp
{
    /// <summary>
    /// The JSON type of every native setting, read once from the native library (<c>xmcdp_settings_schema</c>), so
    /// text settings (<c>&lt;site&gt;</c> attributes, appSettings) are converted by the parser's own table instead of
    /// being guessed from the text: an all-digit <c>clientKey</c> stays a string, <c>queueCapacity='1O0'</c> is
    /// refused naming the setting.
    /// </summary>
    internal static class SettingsSchema
    {
        private static Dictionary<string, string> _types;
        private static readonly object Gate = new object();

        /// <summary>Setting name → "string", "integer", "boolean" or "integerOrObject".</summary>
        internal static IDictionary<string, string> Types
        {
            get
            {
                lock (Gate)
                {
                    if (_types == null) _types = Load();
                    return _types;
                }
            }
        }

        private static Dictionary<string, string> Load()
        {
            string json;
            int status = NativeCalls.SettingsSchema(out json);
            if (status != 0) throw new XmCdpException((CdpStatus)status, "cannot read the native settings schema: " + NativeCalls.LastError());
            var types = new Dictionary<string, string>(StringComparer.Ordinal);
            // A flat object of identifier keys and type-name values: no JSON library needed.
            foreach (Match m in Regex.Matches(json, "\"([A-Za-z]+)\"\\s*:\\s*\"([A-Za-z]+)\""))
                types[m.Groups[1].Value] = m.Groups[2].Value;
            if (types.Count == 0) throw new XmCdpException(CdpStatus.InvalidJson, "the native settings schema is empty");
            return types;
        }

        /// <summary>
        /// Writes <paramref name="text"/> as the JSON type of setting <paramref name="name"/>. A name the schema does
        /// not know is written as a string for the native parser to reject as unknown (status 21). Throws
        /// <see cref="ArgumentException"/> naming the setting, never the value, when the text is not of its type.
        /// </summary>
        internal static void Write(JsonWriter w, string name, string text)
        {
            string type;
            Types.TryGetValue(name, out type);
            var t = text.Trim();
            switch (type)
            {
                case "integer":
                    w.Number(WholeNumber(name, t));
                    break;
                case "integerOrObject":
                    if (t.StartsWith("{", StringComparison.Ordinal) && t.EndsWith("}", StringComparison.Ordinal)) w.RawValue(t);
                    else w.Number(WholeNumber(name, t));
                    break;
                case "boolean":
                    if (string.Equals(t, "true", StringComparison.OrdinalIgnoreCase)) w.Bool(true);
                    else if (string.Equals(t, "false", StringComparison.OrdinalIgnoreCase)) w.Bool(false);
                    else throw new ArgumentException("setting '" + name + "' must be true or false (the value is not shown).");
                    break;
                default:
                    w.String(text);
                    break;
            }
        }

        private static long WholeNumber(string name, string t)
        {
            long n;
            if (t.Length > 0 && t.Length < 19 && long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out n)) return n;
            throw new ArgumentException("setting '" + name + "' must be a whole number (the value is not shown).");
        }
    }
}
