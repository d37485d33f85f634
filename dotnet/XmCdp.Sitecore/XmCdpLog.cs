using System;
using XmCdp.Logging;
using SitecoreLog = Sitecore.Diagnostics.Log;

namespace XmCdp.Sitecore
{
    /// <summary>
    /// Every XmCdp line in the Sitecore log starts with "XmCdp: ". Request-path problems go through the Single*
    /// variants so a broken setting logs once, not once per page view. Callers never put cookie values, user
    /// names, e-mail addresses or the API token into a message.
    /// </summary>
    internal static class XmCdpLog
    {
        internal const string Prefix = "XmCdp: ";
        // A Type, not an object holding one: the (string, Type) overloads name the logger after it; the object
        // overloads would name it System.RuntimeType.
        private static readonly Type Owner = typeof(XmCdpLog);

        public static void Info(string message) => SitecoreLog.Info(Prefix + message, Owner);
        public static void Warn(string message) => SitecoreLog.Warn(Prefix + message, Owner);
        public static void Error(string message) => SitecoreLog.Error(Prefix + message, Owner);
        public static void SingleWarn(string message) => SitecoreLog.SingleWarn(Prefix + message, Owner);
        public static void SingleError(string message) => SitecoreLog.SingleError(Prefix + message, Owner);

        /// <summary>Describes an exception without its message (messages can quote URLs or header values).</summary>
        public static string Describe(Exception e)
        {
            var site = e.TargetSite;
            return e.GetType().FullName + (site != null ? " in " + site.DeclaringType?.Name + "." + site.Name : "");
        }
    }

    /// <summary>Forwards native log records to the Sitecore log (the native side already strips personal data).</summary>
    internal sealed class SitecoreLogSink : ICdpLogSink
    {
        private const int Kept = 20;
        private static readonly object Gate = new object();
        private static readonly System.Collections.Generic.Queue<string> Recent = new System.Collections.Generic.Queue<string>(Kept);

        /// <summary>The last native log lines (oldest first), for the admin page.</summary>
        internal static string[] RecentLines()
        {
            lock (Gate) return Recent.ToArray();
        }

        public void Write(CdpLogLevel level, string message)
        {
            lock (Gate)
            {
                if (Recent.Count == Kept) Recent.Dequeue();
                Recent.Enqueue(DateTime.UtcNow.ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) + " " + level + " " + message);
            }
            switch (level)
            {
                case CdpLogLevel.Error: XmCdpLog.Error("native: " + message); break;
                case CdpLogLevel.Warn: XmCdpLog.Warn("native: " + message); break;
                default: XmCdpLog.Info("native: " + message); break;
            }
        }
    }
}
