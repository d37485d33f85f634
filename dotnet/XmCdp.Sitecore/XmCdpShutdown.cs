using System;
using System.Diagnostics;
using System.Threading;
using System.Web.Hosting;
using XmCdp.Logging;

namespace XmCdp.Sitecore
{
    /// <summary>
    /// Flushes and stops every client when ASP.NET shuts the AppDomain down. <c>Stop(false)</c> starts a flush with
    /// a deadline well under the default 30 s <c>shutdownTimeout</c> and unregisters when done; <c>Stop(true)</c>
    /// (the runtime gave up waiting) shuts down with a short deadline synchronously. The native DLL stays loaded
    /// after the AppDomain is gone, so every client must be stopped here: nothing native may outlive its domain's
    /// handles. Hosts without <c>RegisterObject</c> support (xsp) call <see cref="ShutdownAll"/> themselves.
    /// </summary>
    public sealed class XmCdpShutdown : IRegisteredObject
    {
        private static readonly object Gate = new object();
        private static XmCdpShutdown s_registered;
        private static int s_done;

        private readonly TimeSpan _deadline;
        private int _stopping;

        private XmCdpShutdown(TimeSpan deadline)
        {
            _deadline = deadline;
        }

        /// <summary>
        /// Registers once per AppDomain (later calls are ignored). Returns false outside ASP.NET, where nothing can
        /// call <see cref="Stop"/> and the host must call <see cref="ShutdownAll"/> itself.
        /// </summary>
        public static bool Register(TimeSpan deadline)
        {
            // Outside ASP.NET even touching HostingEnvironment breaks ConfigurationManager on Mono (see AspNetHost).
            if (!XmCdp.Native.AspNetHost.IsHosted) return false;
            lock (Gate)
            {
                if (s_registered != null) return true;
                s_registered = new XmCdpShutdown(deadline);
                Interlocked.Exchange(ref s_done, 0);
                HostingEnvironment.RegisterObject(s_registered);
                return true;
            }
        }

        public void Stop(bool immediate)
        {
            if (!immediate)
            {
                if (Interlocked.Exchange(ref _stopping, 1) == 1) return;
                // Stop(false) may return at once; the runtime keeps polling until we unregister.
                ThreadPool.QueueUserWorkItem(_ =>
                {
                    ShutdownAll(_deadline);
                    HostingEnvironment.UnregisterObject(this);
                });
                return;
            }
            ShutdownAll(TimeSpan.FromSeconds(1));
            HostingEnvironment.UnregisterObject(this);
        }

        /// <summary>
        /// Flushes every client within <paramref name="deadline"/> in total, deletes them and stops the log pump.
        /// Idempotent and thread-safe; never throws.
        /// </summary>
        public static void ShutdownAll(TimeSpan deadline)
        {
            if (Interlocked.Exchange(ref s_done, 1) == 1) return;
            var clock = Stopwatch.StartNew();
            foreach (var site in XmCdpSites.Clear())
            {
                try
                {
                    var native = site.Client as CdpClient;
                    var left = deadline - clock.Elapsed;
                    if (native != null)
                    {
                        var status = native.Shutdown(left > TimeSpan.Zero ? left : TimeSpan.Zero);
                        if (status != CdpStatus.Ok)
                            XmCdpLog.Warn("shutdown of site '" + site.SiteName + "' ended with status " + (int)status + " (" + status + ")");
                        LogFigures(site.SiteName, native.GetStats());
                        native.Dispose();
                    }
                    else
                    {
                        (site.Client as IDisposable)?.Dispose();
                    }
                }
                catch (Exception e)
                {
                    XmCdpLog.Warn("shutdown of site '" + site.SiteName + "' failed: " + e.GetType().Name);
                }
            }
            try
            {
                CdpLog.Stop(TimeSpan.FromSeconds(1));
            }
            catch (Exception)
            {
            }
            XmCdpLog.Info("all clients shut down in " + clock.ElapsedMilliseconds + " ms");
        }

        /// <summary>One line per site: what the drain delivered, what was left and where it went (counts only).</summary>
        private static void LogFigures(string siteName, CdpStats stats)
        {
            var report = stats.Shutdown;
            var line = "site '" + siteName + "' shut down: " + (report != null ? report.ToString() : "no report")
                + (stats.SpoolEnabled ? "; spool: " + stats.SpoolSpooled + " spooled, " + stats.SpoolReplayed + " replayed, "
                    + stats.SpoolDepth + " waiting for the next start, " + stats.SpoolEvicted + " evicted" : "; spool off");
            if (report != null && report.Unsent > report.Spooled) XmCdpLog.Warn(line + " (" + (report.Unsent - report.Spooled) + " events lost)");
            else XmCdpLog.Info(line);
        }

        /// <summary>Test hook: allow another init/shutdown cycle in the same AppDomain.</summary>
        internal static void ResetForTests()
        {
            lock (Gate)
            {
                s_registered = null;
                Interlocked.Exchange(ref s_done, 0);
            }
        }

        /// <summary>Marks the start of a new cycle after initialize created clients.</summary>
        internal static void Armed()
        {
            Interlocked.Exchange(ref s_done, 0);
        }
    }
}
