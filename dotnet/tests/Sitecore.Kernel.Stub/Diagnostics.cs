using System;
using System.Collections.Generic;

namespace Sitecore.Diagnostics
{
    public static class Log
    {
        private static readonly object Gate = new object();
        private static readonly List<string> s_entries = new List<string>();
        private static readonly HashSet<string> s_singles = new HashSet<string>();
        private static readonly List<string> s_loggers = new List<string>();

        // Like the real Log: the (string, Type) overloads name the logger after the type; the (string, object)
        // ones after owner.GetType(), so a Type passed as object names it "System.RuntimeType".
        public static void Info(string message, Type owner) => Write("INFO", message, null, owner, Named(owner));
        public static void Warn(string message, Type owner) => Write("WARN", message, null, owner, Named(owner));
        public static void Error(string message, Type owner) => Write("ERROR", message, null, owner, Named(owner));

        public static void SingleWarn(string message, Type owner)
        {
            if (FirstTime("WARN" + message)) Write("WARN", message, null, owner, Named(owner));
        }

        public static void SingleError(string message, Type owner)
        {
            if (FirstTime("ERROR" + message)) Write("ERROR", message, null, owner, Named(owner));
        }

        public static void Info(string message, object owner) => Write("INFO", message, null, owner);
        public static void Warn(string message, object owner) => Write("WARN", message, null, owner);
        public static void Warn(string message, Exception exception, object owner) => Write("WARN", message, exception, owner);
        public static void Error(string message, object owner) => Write("ERROR", message, null, owner);
        public static void Error(string message, Exception exception, object owner) => Write("ERROR", message, exception, owner);

        public static void SingleWarn(string message, object owner)
        {
            if (FirstTime("WARN" + message)) Write("WARN", message, null, owner);
        }

        public static void SingleError(string message, object owner)
        {
            if (FirstTime("ERROR" + message)) Write("ERROR", message, null, owner);
        }

        // stub-only: what was logged, as "LEVEL message [exception type]".
        public static string[] Entries()
        {
            lock (Gate) return s_entries.ToArray();
        }

        // stub-only: the logger name of each entry, in order.
        public static string[] Loggers()
        {
            lock (Gate) return s_loggers.ToArray();
        }

        // stub-only
        public static void Clear()
        {
            lock (Gate)
            {
                s_entries.Clear();
                s_loggers.Clear();
                s_singles.Clear();
            }
        }

        private static bool FirstTime(string key)
        {
            lock (Gate) return s_singles.Add(key);
        }

        private static string Named(Type owner) => owner != null ? owner.FullName : null;

        private static void Write(string level, string message, Exception exception, object owner, string logger = null)
        {
            // Like the real Log: a null owner is a programming error.
            if (owner == null) throw new ArgumentNullException(nameof(owner));
            var line = level + " " + message + (exception != null ? " [" + exception.GetType().FullName + "]" : "");
            lock (Gate)
            {
                s_entries.Add(line);
                s_loggers.Add(logger ?? owner.GetType().FullName);
            }
        }
    }
}

namespace Sitecore.Configuration
{
    public static class Settings
    {
        private static readonly Dictionary<string, string> s_values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        public static string GetSetting(string name) => GetSetting(name, string.Empty);

        public static string GetSetting(string name, string defaultValue)
        {
            lock (s_values)
            {
                string v;
                return s_values.TryGetValue(name, out v) ? v : defaultValue;
            }
        }

        public static bool GetBoolSetting(string name, bool defaultValue)
        {
            bool b;
            return bool.TryParse(GetSetting(name, null), out b) ? b : defaultValue;
        }

        public static int GetIntSetting(string name, int defaultValue)
        {
            int i;
            return int.TryParse(GetSetting(name, null), out i) ? i : defaultValue;
        }

        // stub-only: filled by ConfigReplay from <settings>.
        public static void Set(string name, string value)
        {
            lock (s_values) s_values[name] = value;
        }

        // stub-only
        public static void Clear()
        {
            lock (s_values) s_values.Clear();
        }
    }
}
