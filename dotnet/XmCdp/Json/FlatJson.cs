using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace XmCdp.Json
{
    /// <summary>
    /// Reads the top-level members of a JSON object whose values matter only when primitive: a guest's
    /// attributes, a data extension's key/values. Nested objects and arrays are skipped. The wrapper has no
    /// JSON library dependency (Sitecore sites pin their own Newtonsoft.Json), and these answers come from the
    /// native library, which already parsed them, so a malformed input is a bug: it throws FormatException.
    /// </summary>
    internal static class FlatJson
    {
        /// <summary>Member name to string, long, double, bool or null (nested values are left out).</summary>
        public static Dictionary<string, object> ReadObject(string json)
        {
            if (json == null) throw new ArgumentNullException(nameof(json));
            var result = new Dictionary<string, object>(StringComparer.Ordinal);
            int i = 0;
            SkipWs(json, ref i);
            Expect(json, ref i, '{');
            SkipWs(json, ref i);
            if (Peek(json, i) == '}') return result;
            while (true)
            {
                SkipWs(json, ref i);
                var name = ReadString(json, ref i);
                SkipWs(json, ref i);
                Expect(json, ref i, ':');
                SkipWs(json, ref i);
                bool primitive;
                var value = ReadValue(json, ref i, out primitive);
                if (primitive) result[name] = value;
                SkipWs(json, ref i);
                char c = Peek(json, i++);
                if (c == '}') return result;
                if (c != ',') throw new FormatException("expected ',' or '}' at " + (i - 1));
            }
        }

        private static object ReadValue(string s, ref int i, out bool primitive)
        {
            primitive = true;
            char c = Peek(s, i);
            if (c == '"') return ReadString(s, ref i);
            if (c == '{' || c == '[')
            {
                primitive = false;
                SkipNested(s, ref i);
                return null;
            }
            if (Word(s, ref i, "true")) return true;
            if (Word(s, ref i, "false")) return false;
            if (Word(s, ref i, "null")) return null;
            int start = i;
            while (i < s.Length && "+-0123456789.eE".IndexOf(s[i]) >= 0) i++;
            var text = s.Substring(start, i - start);
            long l;
            if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out l)) return l;
            double d;
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out d)) return d;
            throw new FormatException("unexpected value at " + start);
        }

        private static void SkipNested(string s, ref int i)
        {
            int depth = 0;
            do
            {
                char c = Peek(s, i);
                if (c == '"')
                {
                    ReadString(s, ref i);
                    continue;
                }
                if (c == '{' || c == '[') depth++;
                else if (c == '}' || c == ']') depth--;
                i++;
            } while (depth > 0);
        }

        private static string ReadString(string s, ref int i)
        {
            Expect(s, ref i, '"');
            var sb = new StringBuilder();
            while (true)
            {
                char c = Peek(s, i++);
                if (c == '"') return sb.ToString();
                if (c != '\\')
                {
                    sb.Append(c);
                    continue;
                }
                char e = Peek(s, i++);
                switch (e)
                {
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        if (i + 4 > s.Length) throw new FormatException("short \\u escape");
                        sb.Append((char)int.Parse(s.Substring(i, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                        i += 4;
                        break;
                    default: sb.Append(e); break;
                }
            }
        }

        private static bool Word(string s, ref int i, string word)
        {
            if (string.CompareOrdinal(s, i, word, 0, word.Length) != 0) return false;
            i += word.Length;
            return true;
        }

        private static char Peek(string s, int i)
        {
            if (i >= s.Length) throw new FormatException("unexpected end of JSON");
            return s[i];
        }

        private static void Expect(string s, ref int i, char c)
        {
            if (Peek(s, i) != c) throw new FormatException("expected '" + c + "' at " + i);
            i++;
        }

        private static void SkipWs(string s, ref int i)
        {
            while (i < s.Length && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
        }
    }
}
